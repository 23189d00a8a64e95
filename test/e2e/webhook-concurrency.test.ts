// The injection webhook end to end, under concurrency: 100 pods created at once through the API
// server, each with its own image and no command, so 100 image configs are read from the real
// registry in parallel through the shared cache and connection limit. Every pod must be stored
// wrapped with its own image's entrypoint (no cross-talk between concurrent admissions).
import type { V1Pod } from '@kubernetes/client-node';
import test from 'ava';
import type { Pod } from '../../src/webhook/pod.ts';
import { createTestNamespace, kube } from '../helpers/kube.ts';
import { pushImage } from '../helpers/registry.ts';
import { registryHost, uniqueName } from '../helpers/stack.ts';
import { assertInjectedOnce, assertWrapped, containerOf, createScope, plain, startWebhookController } from '../helpers/webhook.ts';

const COUNT = 100;
const scope = createScope();
test.after.always(() => scope.close());

/** Runs `work` over `items` with at most `limit` in flight. */
async function inBatches<T>(items: readonly T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: limit }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
  }));
}

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;

test(`${COUNT} concurrent pod creations with ${COUNT} distinct images are all wrapped with their own entrypoint`, async (t) => {
  t.timeout(240_000);
  const namespace = await createTestNamespace(t, 'e2e-wh-concurrency');
  const host = registryHost();
  const repo = uniqueName('many');
  const indexes = Array.from({ length: COUNT }, (_unused, index) => index);
  const pushStarted = Date.now();
  await inBatches(indexes, 16, (index) => pushImage(host, `${repo}/app-${index}`, 'v1', { entrypoint: [`/bin/app-${index}`], cmd: ['--id', String(index)] }));
  t.log(`pushed ${COUNT} images in ${Date.now() - pushStarted} ms`);
  // Correctness under concurrency, not latency: the 100 reads queue behind REGISTRY_MAX_CONCURRENCY,
  // so on a loaded machine one could pass IMAGE_RESOLVE_TIMEOUT's 5 s; give it the webhook's budget.
  const controller = await startWebhookController(scope, { namespace, env: { IMAGE_RESOLVE_TIMEOUT: '7s' } });

  const latencies: number[] = [];
  const started = Date.now();
  const created = await Promise.all(indexes.map(async (index) => {
    const pod: Pod = {
      metadata: { name: `many-${index}`, annotations: { 'piggysec.com/aws-secret-name': `${namespace}/app` }, labels: { index: String(index) } },
      spec: { containers: [{ name: 'app', image: `${host}/${repo}/app-${index}:v1`, env: [{ name: 'TOKEN', value: 'piggy:token' }, { name: 'INDEX', value: String(index) }] }] },
    };
    const begin = performance.now();
    const result = await kube().core.createNamespacedPod({ namespace, body: pod as V1Pod });
    latencies.push(performance.now() - begin);
    return result;
  }));
  const elapsed = Date.now() - started;
  latencies.sort((a, b) => a - b);
  t.log(`${COUNT} concurrent creations in ${elapsed} ms; per request p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms`);
  t.is(created.length, COUNT);

  const stored = (await kube().core.listNamespacedPod({ namespace })).items.map(plain).filter((pod) => pod.metadata?.name?.startsWith('many-'));
  t.is(stored.length, COUNT);
  for (const pod of stored) {
    const index = Number(pod.metadata?.labels?.index);
    assertWrapped(t, pod, 'app', [`/bin/app-${index}`, '--id', String(index)]);
    assertInjectedOnce(t, pod, ['app']);
    t.is(containerOf(pod, 'app').image, `${host}/${repo}/app-${index}:v1`);
  }
  // What the webhook itself spent (the rest is the API server's queueing and its own work).
  const metrics = await controller.metrics();
  const sum = Number(/piggy_webhook_admission_duration_seconds_sum\{result="mutated"\} ([\d.e+-]+)/.exec(metrics)?.[1]);
  const count = Number(/piggy_webhook_admission_duration_seconds_count\{result="mutated"\} (\d+)/.exec(metrics)?.[1]);
  t.true(count >= COUNT, `${count} admissions mutated`);
  t.log(`webhook: ${count} mutations, mean ${((sum / count) * 1000).toFixed(0)} ms inside the controller`);
  t.log(metrics.split('\n').filter((line) => /^piggy_(image_registry_requests_total|image_cache_lookups_total|webhook_admission_duration_seconds_bucket\{le="[^"]+",result="mutated")/.test(line)).join('\n'));
  const uids = new Set(stored.map((pod) => containerOf(pod, 'app').env?.find((item) => item.name === 'PIGGY_UID')?.value));
  t.is(uids.size, COUNT, 'every container got its own uid');
});
