import { AppsV1Api, type V1PodTemplateSpec } from '@kubernetes/client-node';
import test, { type ExecutionContext } from 'ava';
import { RESTART_ANNOTATION, buildVersionAnnotationKey } from '../../src/controller/rollout-plan.ts';
import { createSecretVersions } from '../helpers/aws.ts';
import { applyCrds, applyOperatorRbac } from '../helpers/crd.ts';
import { createTestNamespace, kube, serviceAccountKubeConfig } from '../helpers/kube.ts';
import { createAWSSecret, getAWSSecret, patchAWSSecretSpec, ref, startTestOperator, type TestOperator } from '../helpers/operator.ts';
import { busyboxImage, onRealNode } from '../helpers/real-node.ts';
import { eventually, kubectl } from '../helpers/stack.ts';

type Kind = 'Deployment' | 'StatefulSet' | 'DaemonSet';

const POLL_MS = 200;

test.before(async () => {
  await applyCrds();
});

const apps = (): AppsV1Api => kube().kc.makeApiClient(AppsV1Api);

function podTemplate(app: string): V1PodTemplateSpec {
  return { metadata: { labels: { app } }, spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] } };
}

/**
 * A pod template the real nodes run: busybox, Ready only once /tmp/ready exists (the test decides
 * when a rollout finishes, and the real Deployment controller reports it).
 */
async function gatedTemplate(app: string): Promise<V1PodTemplateSpec> {
  const probe = { exec: { command: ['cat', '/tmp/ready'] }, periodSeconds: 1 };
  const container = { name: 'app', image: await busyboxImage(), args: ['exec sleep 3600'], readinessProbe: probe };
  return { metadata: { labels: { app } }, spec: onRealNode({ containers: [container], terminationGracePeriodSeconds: 0 }) };
}

async function createWorkload(kind: Kind, namespace: string, name: string, follows?: string, template?: V1PodTemplateSpec): Promise<void> {
  const annotations: Record<string, string> = follows === undefined ? {} : { [RESTART_ANNOTATION]: follows };
  const metadata = { name, namespace, annotations };
  const spec = { selector: { matchLabels: { app: name } }, template: template ?? podTemplate(name) };
  if (kind === 'Deployment') await apps().createNamespacedDeployment({ namespace, body: { metadata, spec } });
  else if (kind === 'StatefulSet') await apps().createNamespacedStatefulSet({ namespace, body: { metadata, spec: { ...spec, serviceName: name } } });
  else await apps().createNamespacedDaemonSet({ namespace, body: { metadata, spec } });
}

async function readWorkload(kind: Kind, namespace: string, name: string) {
  if (kind === 'Deployment') return apps().readNamespacedDeployment({ namespace, name });
  if (kind === 'StatefulSet') return apps().readNamespacedStatefulSet({ namespace, name });
  return apps().readNamespacedDaemonSet({ namespace, name });
}

async function templateAnnotations(kind: Kind, namespace: string, name: string): Promise<Record<string, string>> {
  return (await readWorkload(kind, namespace, name)).spec?.template.metadata?.annotations ?? {};
}

/** Waits until the workload's pod template holds `value` under `key`. */
async function waitForAnnotation(kind: Kind, namespace: string, name: string, key: string, value: string): Promise<void> {
  await eventually(async () => {
    const found = (await templateAnnotations(kind, namespace, name))[key];
    if (found !== value) throw new Error(`${kind}/${name}: ${key}=${found ?? 'unset'}, want ${value}`);
  });
}

/** Asserts that a condition stays false for a whole observation window (several poll intervals). */
async function staysFalse(condition: () => Promise<boolean>, windowMs: number): Promise<boolean> {
  const deadline = Date.now() + windowMs;
  while (Date.now() < deadline) {
    if (await condition()) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
}

/** Lets the newest pod of Deployment NAME (the one whose template carries KEY=VALUE) turn Ready. */
async function finishRollout(namespace: string, name: string, key: string, value: string): Promise<void> {
  const pod = await eventually(async () => {
    const pods = await kube().core.listNamespacedPod({ namespace, labelSelector: `app=${name}` });
    const newest = pods.items.find((p) => p.metadata?.annotations?.[key] === value && p.status?.phase === 'Running');
    if (newest?.metadata?.name === undefined) throw new Error(`no running pod of ${name} with ${key}=${value} yet`);
    return newest.metadata.name;
  });
  const res = await kubectl(['-n', namespace, 'exec', pod, '--', 'touch', '/tmp/ready']);
  if (res.code !== 0) throw new Error(`kubectl exec ${pod}: ${res.stderr}`);
}

/** An AWSSecret on version v1 of a two-version secret, synced (status.versionId = v1). */
async function syncedAWSSecret(namespace: string, name: string): Promise<{ v1: string; v2: string }> {
  const [v1 = '', v2 = ''] = await createSecretVersions(`${namespace}/${name}`, [JSON.stringify({ k: '1' }), JSON.stringify({ k: '2' })]);
  await createAWSSecret(namespace, name, { stringDataFrom: ref(`${namespace}/${name}`, v1) });
  await eventually(async () => {
    if ((await getAWSSecret(namespace, name)).status?.versionId !== v1) throw new Error(`${name} not synced yet`);
  });
  return { v1, v2 };
}

const bump = (namespace: string, name: string, versionId: string): Promise<void> =>
  patchAWSSecretSpec(namespace, name, { stringDataFrom: ref(`${namespace}/${name}`, versionId) });

async function waitForMetric(op: TestOperator, result: string, atLeast: number): Promise<void> {
  await eventually(async () => {
    const value = await op.metric('piggy_rollouts_total', { result });
    if (value < atLeast) throw new Error(`piggy_rollouts_total{result=${result}} = ${value}, want >= ${atLeast}`);
  });
}

test('a version bump rolls out the opted-in Deployment, StatefulSet and DaemonSet; a revert rolls them back', async (t) => {
  const namespace = await createTestNamespace(t, 'rollout');
  const op = startTestOperator(t, { namespace, settings: { rolloutPollIntervalMs: POLL_MS } });
  const { v1, v2 } = await syncedAWSSecret(namespace, 'db');
  const followers: [Kind, string][] = [['Deployment', 'web'], ['StatefulSet', 'store'], ['DaemonSet', 'agent']];
  for (const [kind, name] of followers) await createWorkload(kind, namespace, name, 'db');
  await createWorkload('Deployment', namespace, 'bystander', 'other');
  await createWorkload('Deployment', namespace, 'plain');
  const key = buildVersionAnnotationKey('db');
  t.is(key, 'awssecret.piggysec.com/db');
  for (const [kind, name] of followers) t.deepEqual(await templateAnnotations(kind, namespace, name), {}, 'a new workload is not rolled');

  await bump(namespace, 'db', v2);
  for (const [kind, name] of followers) await waitForAnnotation(kind, namespace, name, key, v2);
  for (const name of ['bystander', 'plain']) {
    const untouched = await readWorkload('Deployment', namespace, name);
    t.is(untouched.metadata?.generation, 1, `${name} never patched`);
    t.deepEqual(untouched.spec?.template.metadata?.annotations ?? {}, {});
  }
  await waitForMetric(op, 'triggered', 3);
  const events = await eventually(async () => {
    const list = await kube().core.listNamespacedEvent({ namespace });
    const rollouts = list.items.filter((event) => event.reason === 'RolloutTriggered');
    if (rollouts.length < 3) throw new Error(`${rollouts.length} RolloutTriggered events so far`);
    return rollouts;
  });
  t.true(events.every((event) => event.involvedObject.kind === 'AWSSecret' && event.involvedObject.name === 'db' && event.type === 'Normal'));
  t.true(events.some((event) => event.message?.includes('StatefulSet store') === true));

  // The three never finish rolling (their pods do not tolerate the real nodes' taint): the revert supersedes them at once.
  await bump(namespace, 'db', v1);
  for (const [kind, name] of followers) await waitForAnnotation(kind, namespace, name, key, v1);
  t.is((await readWorkload('Deployment', namespace, 'web')).metadata?.generation, 3, 'one patch per bump');
  t.is(await op.metric('piggy_rollouts_total', { result: 'failed' }), 0);
});

test('rolloutConcurrency 1: the second workload is patched only after the first reports done (real Deployment controller and nodes)', async (t) => {
  const namespace = await createTestNamespace(t, 'rollout-cap');
  const op = startTestOperator(t, { namespace, settings: { rolloutConcurrency: 1, rolloutPollIntervalMs: POLL_MS } });
  const { v2 } = await syncedAWSSecret(namespace, 'db');
  await createWorkload('Deployment', namespace, 'one', 'db', await gatedTemplate('one'));
  await createWorkload('Deployment', namespace, 'two', 'db', await gatedTemplate('two'));
  const key = buildVersionAnnotationKey('db');
  const patched = async (name: string): Promise<boolean> => (await templateAnnotations('Deployment', namespace, name))[key] === v2;

  await bump(namespace, 'db', v2);
  const first = await eventually(async () => {
    const done = (await Promise.all(['one', 'two'].map(patched))).map((is, index) => (is ? ['one', 'two'][index] : undefined)).filter(Boolean);
    if (done.length === 0) throw new Error('no workload patched yet');
    return done;
  });
  t.is(first.length, 1, 'only one rollout at a time');
  const [started = ''] = first;
  const second = started === 'one' ? 'two' : 'one';
  t.true(await staysFalse(() => patched(second), POLL_MS * 8), 'the second waits while the first rolls');

  await finishRollout(namespace, started, key, v2);
  await waitForAnnotation('Deployment', namespace, second, key, v2);
  await waitForMetric(op, 'completed', 1);
  t.is(await op.metric('piggy_rollouts_total', { result: 'triggered' }), 2);
});


async function asOperator(t: ExecutionContext, namespace: string): Promise<TestOperator> {
  await applyOperatorRbac(namespace, 'piggy');
  const kubeconfig = await serviceAccountKubeConfig(namespace, 'piggy');
  return startTestOperator(t, { namespace, kubeconfig, settings: { rolloutPollIntervalMs: POLL_MS } });
}

test('with only deploy/ RBAC: a workload naming two AWSSecrets (one with a long name) gets both annotations', async (t) => {
  const namespace = await createTestNamespace(t, 'rollout-two');
  const op = await asOperator(t, namespace);
  const longName = `cache-${'x'.repeat(64)}`;
  const db = await syncedAWSSecret(namespace, 'db');
  const cache = await syncedAWSSecret(namespace, longName);
  await createWorkload('Deployment', namespace, 'web', `db, ${longName}`);
  await createWorkload('StatefulSet', namespace, 'only-db', 'db');

  await bump(namespace, 'db', db.v2);
  await waitForAnnotation('Deployment', namespace, 'web', buildVersionAnnotationKey('db'), db.v2);
  await waitForAnnotation('StatefulSet', namespace, 'only-db', buildVersionAnnotationKey('db'), db.v2);
  await bump(namespace, longName, cache.v2);
  const longKey = buildVersionAnnotationKey(longName);
  t.is(longKey.split('/')[1]?.length, 63);
  await waitForAnnotation('Deployment', namespace, 'web', longKey, cache.v2);
  const annotations = await templateAnnotations('Deployment', namespace, 'web');
  t.deepEqual(annotations, { 'awssecret.piggysec.com/db': db.v2, [longKey]: cache.v2 });
  t.false(Object.keys(await templateAnnotations('StatefulSet', namespace, 'only-db')).includes(longKey));
  t.is(await op.metric('piggy_rollouts_total', { result: 'failed' }), 0, 'list, get and patch were allowed');
});
