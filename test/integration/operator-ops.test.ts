import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CoordinationV1Api, CoreV1Api } from '@kubernetes/client-node';
import test from 'ava';
import { createSecretVersions, decodeData } from '../helpers/aws.ts';
import { applyCrds, applyOperatorRbac } from '../helpers/crd.ts';
import { createTestNamespace, kube, serviceAccountKubeConfig } from '../helpers/kube.ts';
import { createAWSSecret, getAWSSecret, patchAWSSecretSpec, ref, startTestOperator } from '../helpers/operator.ts';
import { eventually } from '../helpers/stack.ts';

test.before(async () => {
  await applyCrds();
});


test('the reconciler works with only the RBAC that deploy/ grants its ServiceAccount', async (t) => {
  const namespace = await createTestNamespace(t, 'rbac-op');
  await applyOperatorRbac(namespace, 'piggy');
  const kc = await serviceAccountKubeConfig(namespace, 'piggy');
  const [v1] = await createSecretVersions(`${namespace}/db`, [JSON.stringify({ user: 'u' })]);
  const op = startTestOperator(t, { namespace, kubeconfig: kc });
  await createAWSSecret(namespace, 'db', { stringDataFrom: ref(`${namespace}/db`, v1 ?? '') });
  const secret = await eventually(() => kube().core.readNamespacedSecret({ name: 'db', namespace }));
  t.deepEqual(decodeData(secret.data), { user: 'u' });
  await eventually(async () => {
    const status = (await getAWSSecret(namespace, 'db')).status;
    if (status?.versionId !== v1) throw new Error('status not written yet');
  });
  await eventually(async () => {
    const events = await kube().core.listNamespacedEvent({ namespace });
    if (!events.items.some((event) => event.reason === 'Created')) throw new Error('no event yet');
  });
  t.true(op.operator.isLeader(), 'the lease Role lets it lead');
  // Least privilege: nothing beyond what the operator uses.
  const asOperator = kc.makeApiClient(CoreV1Api);
  const podsError = await t.throwsAsync(asOperator.listNamespacedPod({ namespace }));
  t.is((podsError as { code?: number } | undefined)?.code, 403);
  const configMapError = await t.throwsAsync(asOperator.listNamespacedConfigMap({ namespace }));
  t.is((configMapError as { code?: number } | undefined)?.code, 403);
});

test('two controllers: one leader reconciles; when it stops the other takes over quickly', async (t) => {
  const namespace = await createTestNamespace(t, 'leader');
  const [v1] = await createSecretVersions(`${namespace}/a`, [JSON.stringify({ k: '1' })]);
  const [w1] = await createSecretVersions(`${namespace}/b`, [JSON.stringify({ k: '2' })]);
  const first = startTestOperator(t, { namespace, identity: 'first' });
  const second = startTestOperator(t, { namespace, identity: 'second' });
  await eventually(async () => {
    if (!first.operator.isLeader() && !second.operator.isLeader()) throw new Error('no leader yet');
  });
  const [leader, follower] = first.operator.isLeader() ? [first, second] : [second, first];
  t.false(follower.operator.isLeader());
  await createAWSSecret(namespace, 'a', { stringDataFrom: ref(`${namespace}/a`, v1 ?? '') });
  await eventually(() => kube().core.readNamespacedSecret({ name: 'a', namespace }));
  t.is(await follower.metric('piggy_reconcile_total'), 0, 'the follower does not reconcile');

  const stoppedAt = Date.now();
  await leader.stop();
  // The stopped leader released the lease (it did not just stop renewing it): it no longer holds it.
  const lease = await kube().kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'piggy-operator', namespace });
  t.not(lease.spec?.holderIdentity, leader === first ? 'first' : 'second');
  await eventually(async () => {
    if (!follower.operator.isLeader()) throw new Error('no hand-over yet');
  });
  const handOverMs = Date.now() - stoppedAt;
  t.log(`hand-over in ${handOverMs} ms`);
  await createAWSSecret(namespace, 'b', { stringDataFrom: ref(`${namespace}/b`, w1 ?? '') });
  const secret = await eventually(() => kube().core.readNamespacedSecret({ name: 'b', namespace }));
  t.deepEqual(decodeData(secret.data), { k: '2' });
});

test('the update check records AWSCURRENT and UpdateAvailable without reading the value', async (t) => {
  const namespace = await createTestNamespace(t, 'update');
  const [v1] = await createSecretVersions(`${namespace}/db`, [JSON.stringify({ k: '1' })]);
  const op = startTestOperator(t, { namespace, settings: { updateCheckSchedule: '* * * * * *', updateCheckJitterMs: 0 } });
  await createAWSSecret(namespace, 'db', { stringDataFrom: ref(`${namespace}/db`, v1 ?? '') });
  const upToDate = await eventually(async () => {
    const object = await getAWSSecret(namespace, 'db');
    const condition = object.status?.conditions?.find((entry) => entry.type === 'UpdateAvailable');
    if (condition === undefined) throw new Error('not checked yet');
    return { object, condition };
  });
  t.is(upToDate.condition.status, 'False');
  t.is(upToDate.object.status?.latestVersionId, v1);

  const client = new SecretsManagerClient({});
  const v2 = (await client.send(new PutSecretValueCommand({ SecretId: `${namespace}/db`, SecretString: JSON.stringify({ k: '2' }) }))).VersionId;
  client.destroy();
  const available = await eventually(async () => {
    const object = await getAWSSecret(namespace, 'db');
    const condition = object.status?.conditions?.find((entry) => entry.type === 'UpdateAvailable');
    if (condition?.status !== 'True') throw new Error('update not seen yet');
    return { object, condition };
  });
  t.is(available.object.status?.latestVersionId, v2);
  t.is(available.object.status?.versionId, v1, 'still pinned');
  t.is(available.condition.reason, 'NewVersionAvailable');
  t.deepEqual(decodeData((await kube().core.readNamespacedSecret({ name: 'db', namespace })).data), { k: '1' });
  t.is(await op.awsCalls('GetSecretValue'), 1, 'checks use DescribeSecret only');
  t.true((await op.awsCalls('DescribeSecret')) >= 2);
});

test('a thousand-way fan-in: 200 AWSSecrets on one version cost one AWS call', async (t) => {
  const namespace = await createTestNamespace(t, 'fanin');
  const [v1] = await createSecretVersions(`${namespace}/shared`, [JSON.stringify({ k: 'v' })]);
  const op = startTestOperator(t, { namespace, settings: { concurrency: 32 } });
  const names = Array.from({ length: 200 }, (_, index) => `s${index}`);
  for (let index = 0; index < names.length; index += 20) {
    await Promise.all(names.slice(index, index + 20).map((name) => createAWSSecret(namespace, name, { stringDataFrom: ref(`${namespace}/shared`, v1 ?? '') })));
  }
  await eventually(
    async () => {
      const list = await kube().core.listNamespacedSecret({ namespace, labelSelector: 'app.kubernetes.io/managed-by=piggy' });
      if (list.items.length < names.length) throw new Error(`${list.items.length} Secrets so far`);
    },
    { timeoutMs: 90_000 },
  );
  t.is(await op.awsCalls('GetSecretValue'), 1);
});

test('an invalid spec.updateCheckSchedule is reported (condition reason and event), not replaced by the default', async (t) => {
  const namespace = await createTestNamespace(t, 'bad-schedule');
  const [v1 = ''] = await createSecretVersions(`${namespace}/db`, [JSON.stringify({ k: '1' })]);
  const op = startTestOperator(t, { namespace, settings: { updateCheckSchedule: '* * * * * *', updateCheckJitterMs: 0 } });
  await createAWSSecret(namespace, 'db', { stringDataFrom: ref(`${namespace}/db`, v1), updateCheckSchedule: 'every tuesday' });
  const invalid = await eventually(async () => {
    const object = await getAWSSecret(namespace, 'db');
    const condition = object.status?.conditions?.find((entry) => entry.type === 'UpdateAvailable');
    if (condition === undefined) throw new Error('no UpdateAvailable yet');
    return condition;
  });
  t.is(invalid.status, 'Unknown');
  t.is(invalid.reason, 'InvalidSchedule');
  t.regex(invalid.message, /spec\.updateCheckSchedule "every tuesday" is invalid/);
  const warning = await eventually(async () => {
    const events = await kube().core.listNamespacedEvent({ namespace });
    const found = events.items.find((event) => event.reason === 'InvalidSchedule');
    if (found === undefined) throw new Error('no event yet');
    return found;
  });
  t.is(warning.type, 'Warning');
  // The controller-wide schedule checks every second: a silent fallback would have called DescribeSecret.
  await new Promise((resolve) => setTimeout(resolve, 2_500));
  t.is(await op.awsCalls('DescribeSecret'), 0);
  const readyCondition = (await getAWSSecret(namespace, 'db')).status?.conditions?.find((entry) => entry.type === 'Ready');
  t.is(readyCondition?.status, 'True', 'the Secret itself is synced');

  await patchAWSSecretSpec(namespace, 'db', { updateCheckSchedule: '* * * * * *' });
  const fixed = await eventually(async () => {
    const condition = (await getAWSSecret(namespace, 'db')).status?.conditions?.find((entry) => entry.type === 'UpdateAvailable');
    if (condition?.reason !== 'UpToDate') throw new Error(`reason ${condition?.reason ?? 'none'}`);
    return condition;
  });
  t.is(fixed.status, 'False');
});
