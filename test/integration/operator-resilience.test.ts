import { randomUUID } from 'node:crypto';
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import test from 'ava';
import { CONDITION_READY, type AWSSecret } from '../../src/controller/awssecret.ts';
import { createSecretVersions, decodeData } from '../helpers/aws.ts';
import { applyCrds, loadCrds } from '../helpers/crd.ts';
import { startFaultProxy } from '../helpers/fault-proxy.ts';
import { createTestNamespace, kube } from '../helpers/kube.ts';
import { AWSSECRETS, createAWSSecret, getAWSSecret, patchAWSSecretSpec, ref, startTestOperator } from '../helpers/operator.ts';
import { startPrivateApiserver, startPrivateMoto } from '../helpers/private-components.ts';
import { eventually } from '../helpers/stack.ts';

test.before(async () => {
  await applyCrds();
});

const ready = (object: AWSSecret) => object.status?.conditions?.find((condition) => condition.type === CONDITION_READY);

test('AWS down: the Secret stays intact, the condition says why, and it recovers when AWS is back', async (t) => {
  const moto = await startPrivateMoto(t);
  const namespace = await createTestNamespace(t, 'awsdown');
  const ids = [randomUUID(), randomUUID()];
  const values = [JSON.stringify({ k: 'one' }), JSON.stringify({ k: 'two' })];
  await createSecretVersions(`${namespace}/db`, values, moto.endpoint, ids);
  startTestOperator(t, { namespace, endpoint: moto.endpoint });
  await createAWSSecret(namespace, 'db', { stringDataFrom: ref(`${namespace}/db`, ids[0] ?? '') });
  await eventually(() => kube().core.readNamespacedSecret({ name: 'db', namespace }));

  await moto.stop();
  await patchAWSSecretSpec(namespace, 'db', { stringDataFrom: ref(`${namespace}/db`, ids[1] ?? '') });
  const down = await eventually(async () => {
    const condition = ready(await getAWSSecret(namespace, 'db'));
    if (condition?.reason !== 'AWSUnavailable') throw new Error(`reason ${condition?.reason ?? 'none'}`);
    return condition;
  });
  t.is(down.status, 'False');
  t.regex(down.message, /GetSecretValue/);
  t.deepEqual(decodeData((await kube().core.readNamespacedSecret({ name: 'db', namespace })).data), { k: 'one' }, 'last good Secret intact');

  await moto.start();
  await createSecretVersions(`${namespace}/db`, values, moto.endpoint, ids); // moto restarts empty
  await eventually(
    async () => {
      const secret = await kube().core.readNamespacedSecret({ name: 'db', namespace });
      if (decodeData(secret.data).k !== 'two') throw new Error('not recovered yet');
      // The status is patched after the Secret is written: wait for it too.
      const condition = ready(await getAWSSecret(namespace, 'db'));
      if (condition?.status !== 'True') throw new Error(`Ready ${condition?.status ?? 'unset'} (${condition?.reason ?? 'no reason'})`);
    },
    { timeoutMs: 60_000 },
  );
  t.is(ready(await getAWSSecret(namespace, 'db'))?.reason, 'Synced');
});

test('throttling: Throttled condition, backoff with no call storm, then every AWSSecret syncs', async (t) => {
  const proxy = await startFaultProxy(process.env.AWS_ENDPOINT_URL ?? '');
  t.teardown(() => proxy.close());
  const namespace = await createTestNamespace(t, 'throttle');
  const versions = await Promise.all(
    Array.from({ length: 10 }, async (_, index) => {
      const [id] = await createSecretVersions(`${namespace}/s${index}`, [JSON.stringify({ index })]);
      return id ?? '';
    }),
  );
  proxy.setMode('throttle');
  const op = startTestOperator(t, { namespace, endpoint: proxy.url, callsPerSecond: 20 });
  await Promise.all(versions.map((id, index) => createAWSSecret(namespace, `s${index}`, { stringDataFrom: ref(`${namespace}/s${index}`, id) })));
  await eventually(async () => {
    const condition = ready(await getAWSSecret(namespace, 's0'));
    if (condition?.reason !== 'Throttled') throw new Error(`reason ${condition?.reason ?? 'none'}`);
  });
  proxy.resetCounts();
  const windowMs = 5_000;
  await new Promise((resolve) => setTimeout(resolve, windowMs));
  const inWindow = proxy.count();
  t.log(`${inWindow} requests in ${windowMs} ms while throttled (10 AWSSecrets)`);
  // Without backoff, 10 keys retrying at once would send hundreds of requests in 5 s.
  t.true(inWindow <= 60, `${inWindow} requests while throttled`);
  t.true((await op.metric('piggy_aws_throttled_total')) > 0);

  proxy.setMode('pass');
  await eventually(
    async () => {
      const list = await kube().core.listNamespacedSecret({ namespace, labelSelector: 'app.kubernetes.io/managed-by=piggy' });
      if (list.items.length < 10) throw new Error(`${list.items.length} synced`);
    },
    { timeoutMs: 60_000 },
  );
  t.pass();
});

test('API server restarted: the controller re-watches and keeps reconciling', async (t) => {
  const apiserver = await startPrivateApiserver(t);
  const kc = new KubeConfig();
  kc.loadFromFile(apiserver.kubeconfig);
  const extensions = kc.makeApiClient(ApiextensionsV1Api);
  for (const crd of loadCrds()) await extensions.createCustomResourceDefinition({ body: crd });
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const namespace = 'restart';
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  const secretName = `${namespace}/db-${randomUUID().slice(0, 8)}`;
  const [id] = await createSecretVersions(secretName, [JSON.stringify({ k: 'v' })]);
  const create = async (name: string): Promise<void> => {
    await eventually(() =>
      custom.createNamespacedCustomObject({
        ...AWSSECRETS,
        namespace,
        body: { apiVersion: 'piggysec.com/v1alpha1', kind: 'AWSSecret', metadata: { name, namespace }, spec: { stringDataFrom: ref(secretName, id ?? '') } },
      }),
    );
  };
  const op = startTestOperator(t, { namespace, kubeconfig: kc });
  await create('before');
  await eventually(() => core.readNamespacedSecret({ name: 'before', namespace }));

  await apiserver.stop();
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  await apiserver.start();

  await create('after');
  const after = await eventually(() => core.readNamespacedSecret({ name: 'after', namespace }), { timeoutMs: 60_000 });
  t.deepEqual(decodeData(after.data), { k: 'v' });
  await core.deleteNamespacedSecret({ name: 'before', namespace });
  await eventually(() => core.readNamespacedSecret({ name: 'before', namespace }), { timeoutMs: 30_000 });
  t.true(op.operator.isLeader(), 'leadership survived or was re-acquired');
  t.is(await op.awsCalls('GetSecretValue'), 1, 'the restart cost no AWS calls');
});

test('a ResourceQuota 403 on Secret create is re-checked: raising the quota lets the AWSSecret sync without a spec change', async (t) => {
  const namespace = await createTestNamespace(t, 'quota');
  const [v1 = ''] = await createSecretVersions(`${namespace}/db`, [JSON.stringify({ k: 'v' })]);
  const quota = { metadata: { name: 'no-secrets' }, spec: { hard: { 'count/secrets': '0' } } };
  await kube().core.createNamespacedResourceQuota({ namespace, body: quota });
  startTestOperator(t, { namespace });
  await createAWSSecret(namespace, 'db', { stringDataFrom: ref(`${namespace}/db`, v1) });
  const refused = await eventually(async () => {
    const condition = ready(await getAWSSecret(namespace, 'db'));
    if (condition?.reason !== 'KubernetesError') throw new Error(`reason ${condition?.reason ?? 'none'}`);
    return condition;
  });
  t.regex(refused.message, /HTTP 403/);
  t.regex(refused.message, /quota/);

  await kube().core.deleteNamespacedResourceQuota({ name: 'no-secrets', namespace });
  const secret = await eventually(() => kube().core.readNamespacedSecret({ name: 'db', namespace }), { timeoutMs: 30_000 });
  t.deepEqual(decodeData(secret.data), { k: 'v' });
  await eventually(async () => {
    if (ready(await getAWSSecret(namespace, 'db'))?.status !== 'True') throw new Error('not Ready yet');
  });
});
