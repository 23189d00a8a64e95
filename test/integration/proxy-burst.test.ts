// The shared cache under a burst: 500 pods (real Pods with the piggy-uid annotation, each with its own
// pod-bound token from TokenRequest, each reviewed by a real TokenReview) ask /secret for the same
// secret's AWSCURRENT at once, over real HTTPS. It costs one GetSecretValue: the stage read answers
// with the version and its value, every request that arrives meanwhile waits on that one flight, and
// every later one finds the stage mapping and the version in the shared cache.
import test from 'ava';
import { createSecretVersions } from '../helpers/aws.ts';
import { createTestNamespace } from '../helpers/kube.ts';
import { createPiggyPod, createServiceAccount, podToken, proxyKubeConfig, requestFor, startProxy, type PiggyPod } from '../helpers/proxy.ts';

const PODS = 500;
const CANARY = 'canary-0c7b-proxy-burst-value';

/** Runs `work` over `items` with at most `limit` at once. */
async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    for (let index = next++; index < items.length; index = next++) results[index] = await work(items[index]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

test(`a burst of ${PODS} pods reading one secret's AWSCURRENT costs one GetSecretValue`, async (t) => {
  t.timeout(600_000);
  const namespace = await createTestNamespace(t, 'proxy-burst');
  await createServiceAccount(namespace, 'app');
  const secret = `${namespace}/shared`;
  await createSecretVersions(secret, [JSON.stringify({ PASSWORD: CANARY, USER: 'app', PIGGY_ALLOWED_SA: `${namespace}:app` })]);

  let started = Date.now();
  const pods: PiggyPod[] = await mapLimited(Array.from({ length: PODS }, (_v, index) => index), 16, (index) =>
    createPiggyPod(namespace, { name: `burst-${index}`, serviceAccount: 'app', annotations: { 'piggysec.com/aws-secret-name': secret } }),
  );
  const tokens = await mapLimited(pods, 16, (pod) => podToken(pod));
  t.log(`setup: ${PODS} pods and ${PODS} pod-bound tokens in ${Date.now() - started} ms`);

  // The stage mapping lives STAGE_CACHE_TTL; the burst must fit in it (on a loaded 2-core machine the
  // 500 TLS handshakes of this one test process alone can take longer than the default 30 s).
  const proxy = await startProxy(t, await proxyKubeConfig(namespace), { stageTtlMs: 600_000 });
  started = Date.now();
  const replies = await Promise.all(pods.map((pod, index) => proxy.send(tokens[index], requestFor(pod))));
  const elapsed = Date.now() - started;

  const statuses = new Map<number, number>();
  for (const reply of replies) statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
  t.deepEqual([...statuses], [[200, PODS]], replies.find((reply) => reply.status !== 200)?.body);
  for (const reply of replies) t.deepEqual(reply.json(), { PASSWORD: CANARY, USER: 'app' });

  const getSecretValue = await proxy.metric('piggy_aws_calls_total', { api: 'GetSecretValue' });
  const allAws = await proxy.metric('piggy_aws_calls_total');
  const reviews = await proxy.metric('piggy_proxy_token_reviews_total', { source: 'api' });
  const ok = await proxy.metric('piggy_proxy_requests_total', { result: 'ok' });
  t.is(getSecretValue, 1, 'one GetSecretValue for the whole burst');
  t.true(allAws <= 2, `at most one value read plus one stage resolution (got ${allAws})`);
  t.is(reviews, PODS, 'every request was a real TokenReview');
  t.is(ok, PODS);
  t.false(proxy.logs().includes(CANARY));
  const durations = proxy.logLines().filter((entry) => entry.msg === 'secret request').map((entry) => Number(entry.durationMs)).sort((a, b) => a - b);
  const at = (share: number) => durations[Math.min(durations.length - 1, Math.floor(durations.length * share))];
  t.log(`server-side time per request (queueing included): p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, max ${at(1)} ms`);
  t.log(`burst: ${PODS} requests in ${elapsed} ms (${Math.round((PODS * 1000) / elapsed)} req/s), AWS calls ${allAws} (GetSecretValue ${getSecretValue}), TokenReviews ${reviews}`);
});
