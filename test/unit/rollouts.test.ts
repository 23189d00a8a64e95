import { PassThrough } from 'node:stream';
import test from 'ava';
import { Registry } from 'prom-client';
import type { AWSSecret } from '../../src/controller/awssecret.ts';
import { createOperatorMetrics } from '../../src/controller/operator-metrics.ts';
import {
  buildTemplatePatch,
  buildVersionAnnotationKey,
  diffTemplateAnnotations,
  parseRestartAnnotation,
  planRolloutProgress,
  planRolloutRequests,
  RESTART_ANNOTATION,
} from '../../src/controller/rollout-plan.ts';
import { RolloutQueue } from '../../src/controller/rollout-queue.ts';
import { Rollouts } from '../../src/controller/rollouts.ts';
import type { WorkloadClient, WorkloadKind, WorkloadObject, WorkloadRef } from '../../src/kube/workloads.ts';
import { AppError } from '../../src/shared/errors.ts';
import { createLogger } from '../../src/shared/logger.ts';

const NS = 'team';
const KEY_DB = 'awssecret.piggysec.com/db';

function workload(kind: WorkloadKind, name: string, follows?: string, template: Record<string, string> = {}, extra: object = {}): WorkloadObject {
  const annotations = follows === undefined ? {} : { [RESTART_ANNOTATION]: follows };
  const object = {
    metadata: { name, namespace: NS, generation: 1, annotations },
    spec: { selector: {}, template: { metadata: { annotations: { ...template } } } },
    status: { observedGeneration: 1 },
    ...extra,
  };
  return { kind, object } as WorkloadObject;
}

const ref = (kind: WorkloadKind, name: string): WorkloadRef => ({ kind, namespace: NS, name });
const request = (name: string, value: string, source = 'db') => ({
  key: `Deployment/${NS}/${name}`,
  ref: ref('Deployment', name),
  changes: { [`awssecret.piggysec.com/${source}`]: { value, source: { name: source, uid: `uid-${source}` } } },
});

test('the restart annotation lists distinct trimmed names', (t) => {
  t.deepEqual(parseRestartAnnotation(' db, cache,,db ,'), ['db', 'cache']);
  t.deepEqual(parseRestartAnnotation(undefined), []);
  t.deepEqual(parseRestartAnnotation(''), []);
});

test('the version annotation key is the AWSSecret name, hashed to fit 63 characters when longer', (t) => {
  t.is(buildVersionAnnotationKey('db'), KEY_DB);
  const exact = 'a'.repeat(63);
  t.is(buildVersionAnnotationKey(exact), `awssecret.piggysec.com/${exact}`);
  const long = `${'b'.repeat(60)}.one`;
  const other = `${'b'.repeat(60)}.two`;
  const key = buildVersionAnnotationKey(long);
  const namePart = key.split('/')[1] ?? '';
  t.is(namePart.length, 63);
  t.regex(namePart, /^[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?$/);
  t.true(namePart.startsWith('b'.repeat(52)));
  t.is(buildVersionAnnotationKey(long), key, 'stable');
  t.not(buildVersionAnnotationKey(other), key, 'distinct names that share a prefix get distinct keys');
});

test('planning: only workloads naming the AWSSecret get a request; equal values are a no-op', (t) => {
  const workloads = [
    workload('Deployment', 'web', 'db'),
    workload('StatefulSet', 'store', 'cache, db'),
    workload('DaemonSet', 'agent', 'other'),
    workload('Deployment', 'plain'),
    workload('Deployment', 'current', 'db', { [KEY_DB]: 'v2' }),
  ];
  const plan = planRolloutRequests(workloads, [{ name: 'db', uid: 'u1', versionIds: 'v2' }], () => false);
  t.deepEqual(
    plan.requests.map((entry) => [entry.key, entry.changes]),
    [
      ['Deployment/team/web', { [KEY_DB]: { value: 'v2', source: { name: 'db', uid: 'u1' } } }],
      ['StatefulSet/team/store', { [KEY_DB]: { value: 'v2', source: { name: 'db', uid: 'u1' } } }],
    ],
  );
  t.is(plan.unchanged, 1);
  const queued = planRolloutRequests(workloads, [{ name: 'db', uid: 'u1', versionIds: 'v2' }], (key) => key === 'Deployment/team/current');
  t.true(queued.requests.some((entry) => entry.key === 'Deployment/team/current'), 'a queued workload is re-checked even when equal');
});

test('planning: one request per workload for several AWSSecrets; catch-up only where piggy wrote before', (t) => {
  const both = workload('Deployment', 'both', 'db,cache', { 'awssecret.piggysec.com/cache': 'c1' });
  const versions = [
    { name: 'db', uid: 'u1', versionIds: 'v2' },
    { name: 'cache', uid: 'u2', versionIds: 'c2' },
  ];
  const plan = planRolloutRequests([both], versions, () => false);
  t.is(plan.requests.length, 1);
  t.deepEqual(Object.keys(plan.requests[0]?.changes ?? {}).sort(), ['awssecret.piggysec.com/cache', KEY_DB]);
  const catchUp = planRolloutRequests([both], versions.map((version) => ({ ...version, catchUp: true })), () => false);
  t.deepEqual(Object.keys(catchUp.requests[0]?.changes ?? {}), ['awssecret.piggysec.com/cache'], 'db was never written: no rollout of it');
  const synced = planRolloutRequests([workload('Deployment', 'x', 'cache', { 'awssecret.piggysec.com/cache': 'c2' })], [{ ...versions[1]!, catchUp: true }], () => false);
  t.deepEqual(synced, { requests: [], unchanged: 0 });
});

test('diff and patch touch only piggy annotations that differ', (t) => {
  const live = workload('Deployment', 'web', 'db,cache', { [KEY_DB]: 'v1', 'awssecret.piggysec.com/cache': 'c1', other: 'kept' });
  const changes = {
    [KEY_DB]: { value: 'v2', source: { name: 'db', uid: 'u' } },
    'awssecret.piggysec.com/cache': { value: 'c1', source: { name: 'cache', uid: 'u2' } },
  };
  const diff = diffTemplateAnnotations(live, changes);
  t.deepEqual(Object.keys(diff), [KEY_DB]);
  t.deepEqual(buildTemplatePatch(diff), { spec: { template: { metadata: { annotations: { [KEY_DB]: 'v2' } } } } });
});

test('rollout progress per kind', (t) => {
  const deployment = (status: object, spec: object = {}, generation = 2) =>
    planRolloutProgress({ kind: 'Deployment', object: { metadata: { generation }, spec: { selector: {}, template: {}, ...spec }, status } });
  t.is(deployment({ observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: 1 }), 'progressing', 'generation not observed');
  t.is(deployment({ observedGeneration: 2 }), 'progressing', 'unset counts are 0, spec.replicas defaults to 1');
  t.is(deployment({ observedGeneration: 2, replicas: 1, updatedReplicas: 1, availableReplicas: 1 }), 'complete');
  t.is(deployment({ observedGeneration: 2, replicas: 3, updatedReplicas: 2, availableReplicas: 2 }, { replicas: 2 }), 'progressing', 'old replicas left');
  t.is(deployment({ observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 1 }, { replicas: 2 }), 'progressing');
  t.is(deployment({ observedGeneration: 2 }, { replicas: 0 }), 'complete', 'scaled to zero');
  t.is(deployment({ observedGeneration: 2, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }] }), 'stalled');
  const sts = (status: object, spec: object = {}) =>
    planRolloutProgress({ kind: 'StatefulSet', object: { metadata: { generation: 3 }, spec: { selector: {}, template: {}, serviceName: 's', replicas: 3, ...spec }, status } } as WorkloadObject);
  t.is(sts({ observedGeneration: 3, updatedReplicas: 2 }), 'progressing');
  t.is(sts({ observedGeneration: 3, updatedReplicas: 3 }), 'complete');
  t.is(sts({ observedGeneration: 3, updatedReplicas: 1 }, { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } } }), 'complete');
  t.is(sts({ observedGeneration: 3 }, { updateStrategy: { type: 'OnDelete' } }), 'complete');
  const ds = (status: object) => planRolloutProgress({ kind: 'DaemonSet', object: { metadata: { generation: 1 }, spec: { selector: {}, template: {} }, status } } as WorkloadObject);
  t.is(ds({ observedGeneration: 0 }), 'progressing');
  t.is(ds({ observedGeneration: 1, desiredNumberScheduled: 4, updatedNumberScheduled: 3 }), 'progressing');
  t.is(ds({ observedGeneration: 1, desiredNumberScheduled: 4, updatedNumberScheduled: 4 }), 'complete');
});

test('queue: the cap holds, waiting is FIFO and deduplicated, a finished rollout frees its slot', (t) => {
  const queue = new RolloutQueue(1);
  t.deepEqual(queue.offer(request('a', 'v2')).map((start) => start.key), ['Deployment/team/a']);
  t.deepEqual(queue.offer(request('b', 'v2')), []);
  t.deepEqual(queue.offer(request('c', 'v2')), []);
  t.deepEqual(queue.offer(request('b', 'v3')), [], 'b waits once, with its newer value');
  t.is(queue.waiting, 2);
  t.deepEqual(queue.patched('Deployment/team/a', true, 1_000), [], 'a rolls and keeps its slot');
  t.deepEqual(queue.rolling(), [{ key: 'Deployment/team/a', ref: ref('Deployment', 'a'), since: 1_000 }]);
  t.deepEqual(queue.finished('Deployment/team/a', 999), [], 'a stale poll result is ignored');
  const next = queue.finished('Deployment/team/a', 1_000);
  t.deepEqual(next.map((start) => [start.key, start.changes[KEY_DB]?.value]), [['Deployment/team/b', 'v3']]);
  const afterNoop = queue.patched('Deployment/team/b', false, 2_000);
  t.deepEqual(afterNoop.map((start) => start.key), ['Deployment/team/c'], 'a patch that changed nothing frees the slot at once');
  t.is(queue.active, 1);
  t.is(queue.waiting, 0);
});

test('queue: a request for a rolling workload is applied at once without a second slot; one in flight waits', (t) => {
  const queue = new RolloutQueue(1);
  queue.offer(request('a', 'v2'));
  queue.offer(request('a', 'v3', 'cache'));
  t.is(queue.active, 1);
  const follow = queue.patched('Deployment/team/a', true, 10);
  t.deepEqual(follow.map((start) => Object.keys(start.changes)), [['awssecret.piggysec.com/cache']], 'changes that arrived in flight go next');
  t.deepEqual(queue.rolling(), [], 'not polled while a patch is in flight');
  t.deepEqual(queue.patched('Deployment/team/a', false, 20), []);
  t.deepEqual(queue.rolling().map((entry) => entry.since), [10], 'still rolling from the first patch');
  const revert = queue.offer(request('a', 'v1'));
  t.deepEqual(revert.map((start) => start.changes[KEY_DB]?.value), ['v1'], 'a revert supersedes the rollout at once');
  t.deepEqual(queue.offer(request('b', 'v1')), [], 'still one slot');
  t.deepEqual(queue.finished('Deployment/team/a', 10), [], 'not finished while patching');
});

test('queue: a timed-out rollout frees its slot', (t) => {
  const queue = new RolloutQueue(1);
  queue.offer(request('a', 'v2'));
  queue.offer(request('b', 'v2'));
  queue.patched('Deployment/team/a', true, 0);
  t.deepEqual(queue.expire(599, 600).expired, []);
  const { expired, starts } = queue.expire(600, 600);
  t.deepEqual(expired.map((entry) => entry.key), ['Deployment/team/a']);
  t.deepEqual(starts.map((start) => start.key), ['Deployment/team/b']);
});

// The driver, with a fake API: an in-memory set of workloads.
function fakeClient(workloads: WorkloadObject[]) {
  const store = new Map(workloads.map((entry) => [`${entry.kind}/${entry.object.metadata?.name ?? ''}`, entry]));
  const patches: string[] = [];
  const failures = new Map<string, AppError>();
  let listFailures = 0;
  const client: WorkloadClient = {
    listWorkloads: () => {
      if (listFailures > 0) {
        listFailures -= 1;
        return Promise.reject(new AppError('ERR_KUBE_UNAVAILABLE', 'down', { kind: 'transient' }));
      }
      return Promise.resolve(structuredClone([...store.values()]));
    },
    readWorkload: (target) => Promise.resolve(structuredClone(store.get(`${target.kind}/${target.name}`))),
    patchTemplateAnnotations: (target, annotations) => {
      const id = `${target.kind}/${target.name}`;
      const failure = failures.get(id);
      if (failure !== undefined) return Promise.reject(failure);
      const found = store.get(id);
      if (found?.object.spec === undefined) return Promise.reject(new AppError('ERR_KUBE_REQUEST', 'not found'));
      Object.assign((found.object.spec.template.metadata ??= {}), { annotations: { ...found.object.spec.template.metadata.annotations, ...annotations } });
      found.object.metadata = { ...found.object.metadata, generation: (found.object.metadata?.generation ?? 0) + 1 };
      patches.push(`${id}=${Object.values(annotations).join(',')}`);
      return Promise.resolve();
    },
  };
  const complete = (id: string): void => {
    const found = store.get(id);
    if (found === undefined) throw new Error(id);
    found.object.status = { observedGeneration: found.object.metadata?.generation, replicas: 1, updatedReplicas: 1, availableReplicas: 1 };
  };
  return { client, store, patches, failures, complete, failLists: (count: number) => (listFailures = count) };
}

function driver(t: import('ava').ExecutionContext, client: WorkloadClient, settings: { concurrency?: number; pollIntervalMs?: number } = {}) {
  const registry = new Registry();
  const metrics = createOperatorMetrics(registry);
  const events: string[] = [];
  const logs = new PassThrough();
  let clock = 0;
  const rollouts = new Rollouts({
    workloads: client,
    recordEvent: (source, reason, message) => events.push(`${source.name}:${reason}:${message}`),
    log: createLogger({ level: 'silent', destination: logs }),
    metrics,
    settings: { concurrency: settings.concurrency ?? 5, timeoutMs: 1_000, pollIntervalMs: settings.pollIntervalMs ?? 60_000 },
    now: () => clock,
  });
  t.teardown(() => rollouts.stop());
  const count = async (result: string): Promise<number> =>
    (await metrics.rollouts.get()).values.filter((value) => value.labels.result === result).reduce((sum, value) => sum + value.value, 0);
  return { rollouts, events, count, advance: (ms: number) => (clock += ms) };
}

const awsSecret = (name: string): AWSSecret => ({ metadata: { name, namespace: NS, uid: `uid-${name}` }, spec: {} });

test('driver: a version change patches the workloads naming it, records events, counts results', async (t) => {
  const fake = fakeClient([workload('Deployment', 'web', 'db'), workload('DaemonSet', 'agent', 'db'), workload('Deployment', 'plain'), workload('Deployment', 'other', 'cache')]);
  const { rollouts, events, count } = driver(t, fake.client);
  rollouts.notify(awsSecret('db'), 'v2');
  await rollouts.idle();
  t.deepEqual(fake.patches.sort(), ['DaemonSet/agent=v2', 'Deployment/web=v2']);
  t.is(await count('triggered'), 2);
  t.true(events.some((event) => event.startsWith('db:RolloutTriggered:rollout of Deployment web triggered')));
  rollouts.notify(awsSecret('db'), 'v2');
  await rollouts.idle();
  t.is(fake.patches.length, 2, 'the same version again: no patch');
  t.true((await count('unchanged')) >= 2);
});

test('driver: the cap holds a second rollout until the first completes or times out', async (t) => {
  const fake = fakeClient([workload('Deployment', 'a', 'db'), workload('Deployment', 'b', 'db'), workload('Deployment', 'c', 'db')]);
  const { rollouts, count, advance } = driver(t, fake.client, { concurrency: 1 });
  rollouts.notify(awsSecret('db'), 'v2');
  await rollouts.idle();
  t.deepEqual(fake.patches, ['Deployment/a=v2']);
  await rollouts.poll();
  await rollouts.idle();
  t.is(fake.patches.length, 1, 'a still rolling');
  fake.complete('Deployment/a');
  await rollouts.poll();
  await rollouts.idle();
  t.deepEqual(fake.patches, ['Deployment/a=v2', 'Deployment/b=v2']);
  t.is(await count('completed'), 1);
  advance(1_000);
  await rollouts.poll();
  await rollouts.idle();
  t.deepEqual(fake.patches, ['Deployment/a=v2', 'Deployment/b=v2', 'Deployment/c=v2'], 'b timed out, c goes');
  t.is(await count('timed_out'), 1);
});

test('driver: a failed patch (403, 404) is counted and never blocks the others', async (t) => {
  const fake = fakeClient([workload('Deployment', 'denied', 'db'), workload('Deployment', 'ok', 'db'), workload('StatefulSet', 'gone', 'db')]);
  fake.failures.set('Deployment/denied', new AppError('ERR_KUBE_FORBIDDEN', 'forbidden'));
  fake.failures.set('StatefulSet/gone', new AppError('ERR_KUBE_REQUEST', 'not found (HTTP 404)'));
  const { rollouts, count } = driver(t, fake.client, { concurrency: 2 });
  rollouts.notify(awsSecret('db'), 'v2');
  await rollouts.idle();
  t.deepEqual(fake.patches, ['Deployment/ok=v2'], 'the failures freed their slots: gone was tried after denied');
  t.is(await count('failed'), 2);
  t.is(rollouts.inProgress, 1);
});

test('driver: a transient list failure is retried; resync catches up only piggy-annotated workloads', async (t) => {
  const fake = fakeClient([workload('Deployment', 'web', 'db', { [KEY_DB]: 'v1' }), workload('Deployment', 'fresh', 'db')]);
  const { rollouts } = driver(t, fake.client, { pollIntervalMs: 5 });
  fake.failLists(2);
  rollouts.resync([{ ...awsSecret('db'), status: { versionId: 'v2' } }]);
  await rollouts.idle();
  t.deepEqual(fake.patches, ['Deployment/web=v2']);
});

test('driver: stop resolves with work pending and drops it', async (t) => {
  const fake = fakeClient([workload('Deployment', 'web', 'db')]);
  const { rollouts } = driver(t, fake.client, { pollIntervalMs: 50 });
  fake.failLists(1); // without stop, the retry would list and patch
  rollouts.notify(awsSecret('db'), 'v2');
  await rollouts.stop();
  rollouts.notify(awsSecret('db'), 'v3');
  await rollouts.idle();
  t.deepEqual(fake.patches, []);
});
