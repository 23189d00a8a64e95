import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import test from 'ava';
import { createTestNamespace, kube } from '../helpers/kube.ts';
import { eventually } from '../helpers/stack.ts';

const POD_NAME_CLAIM = 'authentication.kubernetes.io/pod-name';
const POD_UID_CLAIM = 'authentication.kubernetes.io/pod-uid';

async function podWithServiceAccount(namespace: string): Promise<{ name: string; uid: string }> {
  const { core } = kube();
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'app' } } });
  const pod = await core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name: 'app-0' },
      spec: { serviceAccountName: 'app', containers: [{ name: 'app', image: 'busybox', command: ['sleep', '1'] }] },
    },
  });
  return { name: pod.metadata?.name ?? '', uid: pod.metadata?.uid ?? '' };
}

test('a TokenRequest bound to a Pod verifies with TokenReview, pod claims included', async (t) => {
  const namespace = await createTestNamespace(t, 'tokens');
  const pod = await podWithServiceAccount(namespace);
  const { core, auth } = kube();
  const audience = 'piggy-test';
  const request = await core.createNamespacedServiceAccountToken({
    name: 'app',
    namespace,
    body: {
      spec: {
        audiences: [audience],
        expirationSeconds: 600,
        boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: pod.name, uid: pod.uid },
      },
    },
  });
  const token = request.status?.token ?? '';
  t.true(token.split('.').length === 3, 'a JWT came back');

  const review = await auth.createTokenReview({ body: { spec: { token, audiences: [audience] } } });
  t.true(review.status?.authenticated);
  t.is(review.status?.user?.username, `system:serviceaccount:${namespace}:app`);
  t.deepEqual(review.status?.user?.extra?.[POD_NAME_CLAIM], [pod.name]);
  t.deepEqual(review.status?.user?.extra?.[POD_UID_CLAIM], [pod.uid]);
  t.deepEqual(review.status?.audiences, [audience]);

  const wrongAudience = await auth.createTokenReview({ body: { spec: { token, audiences: ['someone-else'] } } });
  t.not(wrongAudience.status?.authenticated, true, 'the audience is enforced');

  // The binding is real: once the pod is gone, its token no longer authenticates.
  await core.deleteNamespacedPod({ name: pod.name, namespace, gracePeriodSeconds: 0 });
  await eventually(async () => {
    const after = await auth.createTokenReview({ body: { spec: { token, audiences: [audience] } } });
    if (after.status?.authenticated === true) throw new Error('token still authenticates after pod deletion');
  });
});

test('RBAC is enforced: a service account token without a binding is forbidden', async (t) => {
  const namespace = await createTestNamespace(t, 'rbac');
  await podWithServiceAccount(namespace);
  const { kc: admin, core } = kube();
  const request = await core.createNamespacedServiceAccountToken({
    name: 'app',
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 600 } },
  });
  const kc = new KubeConfig();
  const cluster = admin.getCurrentCluster();
  if (cluster === null) return t.fail('no cluster in the admin kubeconfig');
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'app', token: request.status?.token ?? '' }],
    contexts: [{ name: 'app', cluster: cluster.name, user: 'app' }],
    currentContext: 'app',
  });
  const error = await t.throwsAsync(kc.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace }));
  t.is((error as { code?: number } | undefined)?.code, 403);
});
