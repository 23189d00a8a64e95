// A rolling restart of the controller (the chart installed with helm, 2 replicas on the two real
// nodes) while opted-in pods are admitted in a loop through the webhook. The webhook is registered
// by URL (https://127.0.0.1:PORT/mutate: no Service networking here), so every admission goes to the
// replica on node 127.0.0.1, and its replacement can bind that host port only once the old
// replica's process has exited. What this measures is written to the test log and the README.
import type { V1Pod } from '@kubernetes/client-node';
import test from 'ava';
import { appImage, controllerPods, isReady, startJourney, stopJourney, type JourneyContext } from '../helpers/journey.ts';
import { kube } from '../helpers/kube.ts';
import { onRealNode } from '../helpers/real-node.ts';
import { eventually, kubectl, uniqueName } from '../helpers/stack.ts';

const ctx: JourneyContext = {};

test.before(() => startJourney(ctx, 'restart-moto'));
test.after.always(() => stopJourney(ctx));

interface Attempt {
  readonly at: number;
  readonly ok: boolean;
  readonly error?: string;
}

test('kubectl rollout restart while opted-in pods are admitted in a loop: the rollout completes; admissions fail only while no process listens on the URL', async (t) => {
  t.timeout(600_000);
  const inst = ctx.inst;
  if (inst === undefined) throw new Error('piggy is not installed');
  const image = await appImage();
  const pod = (): V1Pod => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: uniqueName('admit'), annotations: { 'piggysec.com/aws-secret-name': `${inst.apps}/demo` } },
    spec: onRealNode({ terminationGracePeriodSeconds: 0, containers: [{ name: 'app', image, command: ['/bin/sh', '-c', 'exec sleep 3600'], env: [{ name: 'TEST_ENV', value: 'piggy:TEST_ENV' }] }] }),
  });
  // Server-side dry run: the API server calls the mutating webhook (sideEffects: None), stores nothing.
  const admit = async (): Promise<Attempt> => {
    const at = Date.now();
    try {
      const admitted = await kube().core.createNamespacedPod({ namespace: inst.apps, body: pod(), dryRun: 'All' });
      if (admitted.spec?.containers[0]?.command?.[0] !== '/piggy/piggy-env' || admitted.spec.volumes?.some((volume) => volume.name === 'piggy-env') !== true) return { at, ok: false, error: 'admitted without the launcher' };
      return { at, ok: true };
    } catch (error) {
      const body = (error as { body?: unknown }).body;
      return { at, ok: false, error: (typeof body === 'string' ? body : (error as Error).message).slice(0, 300) };
    }
  };
  t.true((await admit()).ok, 'an admission works before the restart');

  const attempts: Attempt[] = [];
  const looping = { on: true };
  t.teardown(() => {
    looping.on = false;
  });
  const loop = (async () => {
    while (looping.on) {
      attempts.push(await admit());
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  const before = (await controllerPods(inst)).map((p) => p.metadata?.name ?? '');
  const startedAt = Date.now();
  t.is((await kubectl(['-n', inst.namespace, 'rollout', 'restart', `deployment/${inst.release}`])).code, 0);
  const status = await kubectl(['-n', inst.namespace, 'rollout', 'status', `deployment/${inst.release}`, '--timeout=5m']);
  const rolledMs = Date.now() - startedAt;
  await eventually(async () => {
    const pods = await controllerPods(inst);
    if (pods.length !== 2 || !pods.every(isReady) || pods.some((p) => before.includes(p.metadata?.name ?? ''))) throw new Error('not both replaced and Ready yet');
  }, { timeoutMs: 120_000 });
  // A few seconds more of admissions on the new replicas.
  const settled = Date.now();
  while (Date.now() - settled < 5_000) await new Promise((resolve) => setTimeout(resolve, 200));
  looping.on = false;
  await loop;

  const failed = attempts.filter((attempt) => !attempt.ok);
  const window = failed.length === 0 ? 0 : (failed.at(-1)?.at ?? 0) - (failed[0]?.at ?? 0);
  const kinds = [...new Set(failed.map((attempt) => (/connection refused/.test(attempt.error ?? '') ? 'connection refused' : (attempt.error ?? ''))))];
  t.log(`rollout ${status.code === 0 ? 'completed' : 'did not complete'} in ${rolledMs} ms; ${attempts.length} admissions, ${failed.length} failed within ${window} ms: ${kinds.join(' | ')}`);
  t.is(status.code, 0, `rollout status: ${status.stdout}${status.stderr}`);
  // The drain keeps every admission answered while a replica still runs; only the gap between the
  // old 127.0.0.1 replica's exit and its replacement's listener refuses connections.
  t.deepEqual(kinds.filter((kind) => kind !== 'connection refused'), [], 'no admission failed for another reason (timeouts, errors while draining)');
  t.true(window < 30_000, `one short gap, not a long outage (${window} ms)`);
});
