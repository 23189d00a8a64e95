// The webhook's pull-credential cache end to end: with a long PULL_SECRET_CACHE_TTL, admissions of
// pods without a command reuse the service account and pull Secret reads (counted in /metrics), and
// a rotated pull Secret still works at once (a registry refusing the cached credentials makes the
// webhook read them afresh).
import test from 'ava';
import type { Pod } from '../../src/webhook/pod.ts';
import { createTestNamespace, kube } from '../helpers/kube.ts';
import { pushImage } from '../helpers/registry.ts';
import { registryAuth, uniqueName } from '../helpers/stack.ts';
import { assertNoLeak, assertWrapped, createPod, createPodDenied, createScope, startWebhookController } from '../helpers/webhook.ts';

const scope = createScope();
test.after.always(() => scope.close());

function metricValue(text: string, labels: string): number {
  const line = text.split('\n').find((entry) => entry.startsWith(`piggy_webhook_pull_secret_lookups_total{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

test('pull credentials are cached for PULL_SECRET_CACHE_TTL, and a rotated pull Secret is picked up at once', async (t) => {
  const auth = registryAuth();
  if (auth === undefined) return t.fail('the test stack has no htpasswd registry (registryAuth): the local stack always starts one');
  const namespace = await createTestNamespace(t, 'e2e-pull-cache');
  const repo = uniqueName('cache');
  await pushImage(auth.host, `${repo}/private`, '1', { entrypoint: ['/private/app'], cmd: ['--private'] }, auth);
  const image = `${auth.host}/${repo}/private:1`;
  const dockerConfig = (password: string) =>
    JSON.stringify({ auths: { [auth.host]: { auth: Buffer.from(`${auth.username}:${password}`).toString('base64') } } });
  const { core } = kube();
  await core.createNamespacedSecret({ namespace, body: { metadata: { name: 'regcred' }, type: 'kubernetes.io/dockerconfigjson', stringData: { '.dockerconfigjson': dockerConfig('stale-password') } } });
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'puller' }, imagePullSecrets: [{ name: 'regcred' }] } });
  const controller = await startWebhookController(scope, { namespace, env: { PULL_SECRET_CACHE_TTL: '10m' } });
  const pod = (): Pod => ({
    metadata: { name: uniqueName('img'), annotations: { 'piggysec.com/aws-secret-name': `${namespace}/app` } },
    spec: { serviceAccountName: 'puller', containers: [{ name: 'app', image, env: [{ name: 'TOKEN', value: 'piggy:token' }] }] },
  });

  const refused = await createPodDenied(namespace, pod());
  t.regex(refused, /the 1 matching credential from the pull secrets was refused/);

  // Rotation: the Secret now holds the right password; the cache still holds the old one for 10 minutes.
  await core.replaceNamespacedSecret({
    name: 'regcred',
    namespace,
    body: { metadata: { name: 'regcred' }, type: 'kubernetes.io/dockerconfigjson', stringData: { '.dockerconfigjson': dockerConfig(auth.password) } },
  });
  const admitted = await createPod(namespace, pod());
  assertWrapped(t, admitted, 'app', ['/private/app', '--private']);

  const before = await controller.metrics();
  for (let i = 0; i < 5; i++) assertWrapped(t, await createPod(namespace, pod()), 'app', ['/private/app', '--private']);
  const after = await controller.metrics();
  const delta = (labels: string) => metricValue(after, labels) - metricValue(before, labels);
  t.is(delta('kind="serviceaccount",outcome="hit"'), 5, 'five admissions, the service account read once before');
  t.is(delta('kind="secret",outcome="hit"'), 5);
  t.is(delta('kind="serviceaccount",outcome="miss"') + delta('kind="secret",outcome="miss"'), 0, 'no API read for them');
  assertNoLeak(t, controller, [auth.password, Buffer.from(`${auth.username}:${auth.password}`).toString('base64')]);
});
