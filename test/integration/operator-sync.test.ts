import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CustomObjectsApi, Watch, type V1Secret } from '@kubernetes/client-node';
import test from 'ava';
import { CONDITION_READY } from '../../src/controller/awssecret.ts';
import { hashSecretData } from '../../src/controller/secret-data.ts';
import { FOREIGN_ACCOUNT, MOTO_ACCOUNT } from '../helpers/aws-account.ts';
import { createSecretVersions, decodeData, secretArnOf } from '../helpers/aws.ts';
import { REPO_ROOT, applyCrdFile, applyCrds } from '../helpers/crd.ts';
import { createTestNamespace, kube } from '../helpers/kube.ts';
import { createAWSSecret, getAWSSecret, patchAWSSecretSpec, ref, startTestOperator } from '../helpers/operator.ts';
import { eventually } from '../helpers/stack.ts';

const CANARY = 'canary-7d1e-SECRET-VALUE';

test.before(async () => {
  await applyCrds();
});

async function readSecret(namespace: string, name: string) {
  return kube().core.readNamespacedSecret({ name, namespace });
}

async function readyCondition(namespace: string, name: string) {
  const object = await getAWSSecret(namespace, name);
  return { object, ready: object.status?.conditions?.find((condition) => condition.type === CONDITION_READY) };
}

test('an AWSSecret becomes a version-pinned Secret; a bump updates it; status and events say so', async (t) => {
  const namespace = await createTestNamespace(t, 'sync');
  const [v1, v2] = await createSecretVersions(`${namespace}/db`, [
    JSON.stringify({ username: 'app', password: CANARY, port: 5432 }),
    JSON.stringify({ username: 'app', password: `${CANARY}-2`, port: 5433 }),
  ]);
  const op = startTestOperator(t, { namespace });
  await createAWSSecret(namespace, 'db', {
    stringDataFrom: ref(`${namespace}/db`, v1 ?? ''),
    type: 'kubernetes.io/basic-auth',
    metadata: { labels: { team: 'a' }, annotations: { owner: 'me' } },
  });

  const secret = await eventually(() => readSecret(namespace, 'db'));
  t.deepEqual(decodeData(secret.data), { username: 'app', password: CANARY, port: '5432' });
  t.is(secret.type, 'kubernetes.io/basic-auth');
  t.like(secret.metadata?.labels, { team: 'a', 'app.kubernetes.io/managed-by': 'piggy' });
  t.like(secret.metadata?.annotations, { owner: 'me', 'piggysec.com/aws-secret-id': `${namespace}/db`, 'piggysec.com/aws-version-id': v1 });
  t.is(secret.metadata?.ownerReferences?.[0]?.kind, 'AWSSecret');
  t.is(secret.metadata?.ownerReferences?.[0]?.controller, true);

  const { object, ready } = await eventually(async () => {
    const state = await readyCondition(namespace, 'db');
    if (state.ready?.status !== 'True') throw new Error('not ready yet');
    return state;
  });
  t.is(ready?.reason, 'Synced');
  t.is(object.status?.versionId, v1);
  t.is(object.status?.observedGeneration, object.metadata.generation);
  t.truthy(object.status?.syncedAt);

  await patchAWSSecretSpec(namespace, 'db', { stringDataFrom: ref(`${namespace}/db`, v2 ?? '') });
  const bumped = await eventually(async () => {
    const current = await readSecret(namespace, 'db');
    if (current.metadata?.annotations?.['piggysec.com/aws-version-id'] !== v2) throw new Error('not bumped yet');
    return current;
  });
  t.is(decodeData(bumped.data).port, '5433');
  await eventually(async () => {
    const state = await readyCondition(namespace, 'db');
    if (state.object.status?.versionId !== v2) throw new Error('status not updated yet');
  });

  const events = await eventually(async () => {
    const list = await kube().core.listNamespacedEvent({ namespace });
    const reasons = list.items.map((event) => event.reason);
    if (!reasons.includes('Created') || !reasons.includes('Updated')) throw new Error(`events so far: ${reasons.join()}`);
    return list.items;
  });
  t.true(events.every((event) => event.involvedObject.kind === 'AWSSecret'));

  // Secret values never reach logs, events or status.
  const status = JSON.stringify((await getAWSSecret(namespace, 'db')).status);
  for (const text of [op.logs(), JSON.stringify(events), status]) t.false(text.includes(CANARY));
  t.is(await op.awsCalls('GetSecretValue'), 2, 'one call per pinned version');
});

test('hand edits and deletion are undone without calling AWS', async (t) => {
  const namespace = await createTestNamespace(t, 'drift');
  const [v1] = await createSecretVersions(`${namespace}/app`, [JSON.stringify({ token: 'abc' })]);
  const op = startTestOperator(t, { namespace });
  await createAWSSecret(namespace, 'app', { stringDataFrom: ref(`${namespace}/app`, v1 ?? '') });
  await eventually(() => readSecret(namespace, 'app'));
  const callsAfterSync = await op.awsCalls();
  t.is(callsAfterSync, 1);

  const edited = await readSecret(namespace, 'app');
  edited.data = { token: Buffer.from('tampered').toString('base64'), extra: Buffer.from('x').toString('base64') };
  edited.metadata = { ...edited.metadata, labels: {} };
  await kube().core.replaceNamespacedSecret({ name: 'app', namespace, body: edited });
  await eventually(async () => {
    const current = await readSecret(namespace, 'app');
    if (JSON.stringify(decodeData(current.data)) !== JSON.stringify({ token: 'abc' })) throw new Error('not restored yet');
    if (current.metadata?.labels?.['app.kubernetes.io/managed-by'] !== 'piggy') throw new Error('label not restored yet');
  });

  await kube().core.deleteNamespacedSecret({ name: 'app', namespace });
  const recreated = await eventually(() => readSecret(namespace, 'app'));
  t.deepEqual(decodeData(recreated.data), { token: 'abc' });
  t.is(await op.awsCalls(), callsAfterSync, 'repairs cost zero AWS calls');
});

test('a hand edit that also rewrites piggysec.com/data-hash is undone (the hash is keyed), without calling AWS', async (t) => {
  const namespace = await createTestNamespace(t, 'forged-hash');
  const [v1 = ''] = await createSecretVersions(`${namespace}/app`, [JSON.stringify({ token: 'abc' })]);
  const op = startTestOperator(t, { namespace });
  await createAWSSecret(namespace, 'app', { stringDataFrom: ref(`${namespace}/app`, v1) });
  await eventually(() => readSecret(namespace, 'app'));
  t.is(await op.awsCalls(), 1);
  const key = await eventually(() => kube().core.readNamespacedSecret({ name: 'piggy-data-hash-key', namespace }));
  t.is(Buffer.from(key.data?.key ?? '', 'base64').length, 32, 'the key Secret holds 32 random bytes');
  t.is(key.metadata?.labels?.['app.kubernetes.io/managed-by'], undefined, 'not one of the generated Secrets');

  // What an editor can compute: the fingerprint of the tampered data without the key (the old,
  // public sha256 form) or with a key of their own.
  const tamperedData = { token: Buffer.from('tampered').toString('base64') };
  const unkeyed = `sha256:${createHash('sha256').update('Opaque\n').update(`token\0${tamperedData.token}\n`).digest('hex')}`;
  for (const forged of [unkeyed, hashSecretData(tamperedData, 'Opaque', randomBytes(32))]) {
    const edited = await readSecret(namespace, 'app');
    edited.data = tamperedData;
    edited.metadata = { ...edited.metadata, annotations: { ...edited.metadata?.annotations, 'piggysec.com/data-hash': forged } };
    await kube().core.replaceNamespacedSecret({ name: 'app', namespace, body: edited });
    await eventually(async () => {
      const current = await readSecret(namespace, 'app');
      if (decodeData(current.data).token !== 'abc') throw new Error('not restored yet');
    });
  }
  t.is(await op.awsCalls(), 1, 'restored from the version cache');
});

test('a ref moved from stringDataFrom to dataFrom re-reads the version with the new meaning', async (t) => {
  const namespace = await createTestNamespace(t, 'moved-ref');
  const encoded = Buffer.from('plain-value').toString('base64');
  const [v1 = ''] = await createSecretVersions(`${namespace}/app`, [JSON.stringify({ token: encoded })]);
  startTestOperator(t, { namespace });
  await createAWSSecret(namespace, 'app', { stringDataFrom: ref(`${namespace}/app`, v1) });
  const asString = await eventually(() => readSecret(namespace, 'app'));
  t.deepEqual(decodeData(asString.data), { token: encoded }, 'stringDataFrom: the text as it is');
  // Merge patch: null removes stringDataFrom; the same secret and version, now as base64 values.
  await patchAWSSecretSpec(namespace, 'app', { stringDataFrom: null, dataFrom: ref(`${namespace}/app`, v1) } as unknown as Parameters<typeof patchAWSSecretSpec>[2]);
  const asData = await eventually(async () => {
    const current = await readSecret(namespace, 'app');
    if (decodeData(current.data).token !== 'plain-value') throw new Error('still the stringDataFrom interpretation');
    return current;
  });
  t.is(asData.metadata?.annotations?.['piggysec.com/aws-ref-fields'], 'dataFrom');
});

test('a restarted controller whose Secrets already match makes zero AWS calls', async (t) => {
  const namespace = await createTestNamespace(t, 'restart');
  const [v1] = await createSecretVersions(`${namespace}/a`, [JSON.stringify({ k: 'v' })]);
  const [w1] = await createSecretVersions(`${namespace}/b`, ['plain text']);
  const first = startTestOperator(t, { namespace });
  await createAWSSecret(namespace, 'a', { stringDataFrom: ref(`${namespace}/a`, v1 ?? '') });
  await createAWSSecret(namespace, 'b', { stringDataFrom: ref(`${namespace}/b`, w1 ?? '') });
  for (const name of ['a', 'b']) {
    await eventually(async () => {
      if ((await readyCondition(namespace, name)).ready?.status !== 'True') throw new Error('not ready');
    });
  }
  t.is(await first.awsCalls(), 2);
  await first.stop();

  const second = startTestOperator(t, { namespace });
  await eventually(async () => {
    if ((await second.metric('piggy_reconcile_total', { result: 'unchanged' })) < 2) throw new Error('not reconciled yet');
  });
  t.is(await second.awsCalls(), 0, 'counted, not assumed');
  t.is(await second.metric('piggy_secret_writes_total'), 0);
});

test('an existing Secret that piggy does not manage is never overwritten', async (t) => {
  const namespace = await createTestNamespace(t, 'conflict');
  const [v1] = await createSecretVersions(`${namespace}/db`, [JSON.stringify({ k: 'from-aws' })]);
  await kube().core.createNamespacedSecret({ namespace, body: { metadata: { name: 'db' }, stringData: { k: 'mine' } } });
  startTestOperator(t, { namespace });
  await createAWSSecret(namespace, 'db', { stringDataFrom: ref(`${namespace}/db`, v1 ?? '') });
  const { ready } = await eventually(async () => {
    const state = await readyCondition(namespace, 'db');
    if (state.ready?.reason !== 'SecretConflict') throw new Error(`reason ${state.ready?.reason ?? 'none'}`);
    return state;
  });
  t.is(ready?.status, 'False');
  t.deepEqual(decodeData((await readSecret(namespace, 'db')).data), { k: 'mine' });
});

test('failures keep the last good Secret and say why: missing version, missing secret, policy, bad data', async (t) => {
  const namespace = await createTestNamespace(t, 'fail');
  const [v1] = await createSecretVersions(`${namespace}/db`, [JSON.stringify({ k: 'good' })]);
  const [bad] = await createSecretVersions(`${namespace}/bad`, [JSON.stringify({ 'no spaces allowed': CANARY })]);
  const op = startTestOperator(t, { namespace });
  await createAWSSecret(namespace, 'db', { stringDataFrom: ref(`${namespace}/db`, v1 ?? '') });
  await eventually(() => readSecret(namespace, 'db'));

  const expectReason = async (reason: string): Promise<void> => {
    const { ready } = await eventually(async () => {
      const state = await readyCondition(namespace, 'db');
      if (state.ready?.reason !== reason) throw new Error(`reason ${state.ready?.reason ?? 'none'}`);
      return state;
    });
    t.is(ready?.status, 'False');
    t.deepEqual(decodeData((await readSecret(namespace, 'db')).data), { k: 'good' }, `${reason}: last good Secret kept`);
  };
  await patchAWSSecretSpec(namespace, 'db', { stringDataFrom: ref(`${namespace}/db`, '00000000-0000-0000-0000-000000000000') });
  await expectReason('VersionNotFound');
  await patchAWSSecretSpec(namespace, 'db', { stringDataFrom: ref(`${namespace}/missing`, v1 ?? '') });
  await expectReason('SecretNotFound');
  await patchAWSSecretSpec(namespace, 'db', { stringDataFrom: ref('other-namespace/db', v1 ?? '') });
  await expectReason('PolicyDenied');
  await patchAWSSecretSpec(namespace, 'db', { stringDataFrom: ref(`${namespace}/bad`, bad ?? '') });
  await expectReason('InvalidSecretData');
  const { ready } = await readyCondition(namespace, 'db');
  t.regex(ready?.message ?? '', /"no spaces allowed"/);
  t.false(JSON.stringify(await getAWSSecret(namespace, 'db')).includes(CANARY));
  t.false(op.logs().includes(CANARY));

  const events = await kube().core.listNamespacedEvent({ namespace });
  const warnings = events.items.filter((event) => event.type === 'Warning').map((event) => event.reason);
  for (const reason of ['VersionNotFound', 'SecretNotFound', 'PolicyDenied', 'InvalidSecretData']) t.true(warnings.includes(reason), reason);
  t.false(JSON.stringify(events.items).includes(CANARY));
});

test('migration from mumoshu/aws-secret-operator: the piggy AWSSecret adopts the Secret in place; it is never deleted or emptied', async (t) => {
  await applyCrdFile(join(REPO_ROOT, 'test', 'fixtures', 'mumoshu', 'awssecrets.mumoshu.github.io.yaml'));
  const namespace = await createTestNamespace(t, 'mumoshu');
  const [v1 = ''] = await createSecretVersions(`${namespace}/db`, [JSON.stringify({ password: CANARY })]);
  const mumoshu = { group: 'mumoshu.github.io', version: 'v1alpha1', plural: 'awssecrets', namespace };
  const custom = kube().kc.makeApiClient(CustomObjectsApi);
  // What mumoshu's operator leaves behind: its AWSSecret and a Secret it controls (with its AWSVersionId key).
  const writeMumoshu = async (name: string) => {
    const owner = (await custom.createNamespacedCustomObject({
      ...mumoshu,
      body: { apiVersion: 'mumoshu.github.io/v1alpha1', kind: 'AWSSecret', metadata: { name }, spec: { stringDataFrom: ref(`${namespace}/db`, v1) } },
    })) as { metadata: { uid: string } };
    const ownerReferences = [{ apiVersion: 'mumoshu.github.io/v1alpha1', kind: 'AWSSecret', name, uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true }];
    return kube().core.createNamespacedSecret({ namespace, body: { metadata: { name, ownerReferences }, stringData: { password: CANARY, AWSVersionId: v1 } } });
  };
  const before = await writeMumoshu('db');
  await writeMumoshu('control'); // not migrated: proves the garbage collector runs in this test
  const watch = watchSecret(namespace, 'db');

  const op = startTestOperator(t, { namespace });
  await createAWSSecret(namespace, 'db', { stringDataFrom: ref(`${namespace}/db`, v1) });
  const adopted = await eventually(async () => {
    const secret = await readSecret(namespace, 'db');
    if (secret.metadata?.labels?.['app.kubernetes.io/managed-by'] !== 'piggy') throw new Error('not adopted yet');
    return secret;
  });
  t.is(adopted.metadata?.uid, before.metadata?.uid, 'the same Secret, updated in place');
  t.deepEqual(adopted.metadata?.ownerReferences?.map((owner) => `${owner.apiVersion}/${owner.kind}/${owner.name}/${String(owner.controller)}`), [
    'piggysec.com/v1alpha1/AWSSecret/db/true',
  ]);
  t.deepEqual(decodeData(adopted.data), { password: CANARY });
  await eventually(async () => {
    if ((await readyCondition(namespace, 'db')).ready?.status !== 'True') throw new Error('not Ready yet');
  });
  const events = await kube().core.listNamespacedEvent({ namespace });
  t.true(events.items.some((event) => event.reason === 'Adopted' && event.type === 'Normal'));

  // The last migration step: delete mumoshu's AWSSecrets. The garbage collector removes the Secret
  // it still owns (control) and leaves the adopted one alone.
  for (const name of ['db', 'control']) await custom.deleteNamespacedCustomObject({ ...mumoshu, name });
  await eventually(
    async () => {
      const left = await kube().core.listNamespacedSecret({ namespace });
      if (left.items.some((secret) => secret.metadata?.name === 'control')) throw new Error('control Secret not collected: is the garbage collector (kube-controller-manager, the real nodes) running?');
    },
    { timeoutMs: 30_000 },
  );
  const after = await readSecret(namespace, 'db');
  t.is(after.metadata?.uid, before.metadata?.uid);
  t.deepEqual(decodeData(after.data), { password: CANARY });
  t.deepEqual(await watch.stop(), [], 'never deleted or emptied');
  t.is(await op.awsCalls(), 1);
  t.false(op.logs().includes(CANARY));
});

test('a Secret owned by a mumoshu AWSSecret of another name is not adopted (SecretConflict)', async (t) => {
  await applyCrdFile(join(REPO_ROOT, 'test', 'fixtures', 'mumoshu', 'awssecrets.mumoshu.github.io.yaml'));
  const namespace = await createTestNamespace(t, 'mumoshu-other');
  const [v1 = ''] = await createSecretVersions(`${namespace}/db`, [JSON.stringify({ k: 'from-aws' })]);
  const other = (await kube().kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group: 'mumoshu.github.io', version: 'v1alpha1', plural: 'awssecrets', namespace,
    body: { apiVersion: 'mumoshu.github.io/v1alpha1', kind: 'AWSSecret', metadata: { name: 'other' }, spec: {} },
  })) as { metadata: { uid: string } };
  const ownerReferences = [{ apiVersion: 'mumoshu.github.io/v1alpha1', kind: 'AWSSecret', name: 'other', uid: other.metadata.uid, controller: true }];
  await kube().core.createNamespacedSecret({ namespace, body: { metadata: { name: 'db', ownerReferences }, stringData: { k: 'mine' } } });
  startTestOperator(t, { namespace });
  await createAWSSecret(namespace, 'db', { stringDataFrom: ref(`${namespace}/db`, v1) });
  await eventually(async () => {
    const state = await readyCondition(namespace, 'db');
    if (state.ready?.reason !== 'SecretConflict') throw new Error(`reason ${state.ready?.reason ?? 'none'}`);
  });
  t.deepEqual(decodeData((await readSecret(namespace, 'db')).data), { k: 'mine' });
});

/** Watches one Secret by name: reports a deletion or an update that leaves it without data. */
function watchSecret(namespace: string, name: string): { stop: () => Promise<string[]> } {
  const problems: string[] = [];
  const controller = new AbortController();
  const watcher = new Watch(kube().kc);
  const started = watcher.watch(
    `/api/v1/namespaces/${namespace}/secrets`,
    { fieldSelector: `metadata.name=${name}` },
    (type: string, object: V1Secret) => {
      if (type === 'DELETED') problems.push('deleted');
      else if (Object.keys(object.data ?? {}).length === 0) problems.push(`${type} without data`);
    },
    (error: unknown) => {
      if (error !== null && error !== undefined && !controller.signal.aborted) problems.push(`watch ended: ${error instanceof Error ? error.message : JSON.stringify(error)}`);
    },
  );
  return {
    stop: async () => {
      controller.abort();
      (await started).abort();
      return problems;
    },
  };
}
test('an ARN in another account is PolicyDenied with no AWS call, though its name is under the namespace; the own account\'s ARN syncs', async (t) => {
  const namespace = await createTestNamespace(t, 'account');
  const [v1] = await createSecretVersions(`${namespace}/db`, [JSON.stringify({ k: 'own' })]);
  const arn = await secretArnOf(`${namespace}/db`);
  t.true(arn.includes(`:${MOTO_ACCOUNT}:`), arn);
  const foreignArn = arn.replace(`:${MOTO_ACCOUNT}:`, `:${FOREIGN_ACCOUNT}:`);
  const op = startTestOperator(t, { namespace });
  await createAWSSecret(namespace, 'foreign', { stringDataFrom: ref(foreignArn, v1 ?? '') });
  const { ready } = await eventually(async () => {
    const state = await readyCondition(namespace, 'foreign');
    if (state.ready?.reason !== 'PolicyDenied') throw new Error(`reason ${state.ready?.reason ?? 'none'}`);
    return state;
  });
  t.is(ready?.status, 'False');
  t.regex(ready?.message ?? '', new RegExp(`account ${FOREIGN_ACCOUNT} is not the controller's own account`));
  t.is(await op.awsCalls(), 0, 'refused before any AWS call');

  await createAWSSecret(namespace, 'own', { stringDataFrom: ref(arn, v1 ?? '') });
  const own = await eventually(() => readSecret(namespace, 'own'));
  t.deepEqual(decodeData(own.data), { k: 'own' });
  await t.throwsAsync(readSecret(namespace, 'foreign'), undefined, 'no Secret for the foreign ARN');
});
