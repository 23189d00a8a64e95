// The measurements: timed creation with bounded concurrency, and the wait until every AWSSecret is
// Ready=True, read by listing them.
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type AWSSecret } from '../../src/controller/awssecret.ts';
import { codeOf, forEachLimited } from '../../scripts/local/kube-objects.ts';
import { sleep } from '../../scripts/local/procs.ts';

export interface Created {
  readonly ms: number;
  /** Requests answered 429 or 5xx and sent again. */
  readonly retries: number;
}

const RETRYABLE = new Set([429, 500, 503, 504]);

/** Runs create(i) for i in [0, count) with `concurrency` in flight, retrying 429/5xx; timed. */
export async function createAll(count: number, concurrency: number, create: (index: number) => Promise<unknown>): Promise<Created> {
  let retries = 0;
  const t0 = performance.now();
  await forEachLimited(Array.from({ length: count }, (_, i) => i), concurrency, async (index) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await create(index);
        return;
      } catch (error) {
        const code = codeOf(error);
        if (code === undefined || !RETRYABLE.has(code) || attempt >= 10) throw error;
        retries++;
        await sleep(50 * attempt);
      }
    }
  });
  return { ms: performance.now() - t0, retries };
}

export interface ReadyResult {
  /** From `since` until the last AWSSecret's Ready condition turned True (its lastTransitionTime). */
  readonly ms: number;
  /** From `since` until a list first showed every AWSSecret Ready (includes the poll interval). */
  readonly observedMs: number;
}

const isReady = (item: AWSSecret): boolean => {
  const ready = item.status?.conditions?.find((condition) => condition.type === 'Ready');
  return ready?.status === 'True' && item.status?.observedGeneration === item.metadata.generation;
};

/**
 * Lists the namespace's AWSSecrets every `intervalMs` until `count` of them are Ready=True; the
 * time is taken from the Ready conditions' lastTransitionTime (millisecond precision, same clock).
 */
export async function waitAllReady(
  kc: KubeConfig,
  namespace: string,
  count: number,
  since: number,
  options: { intervalMs: number; timeoutMs: number; progress: (ready: number) => void },
): Promise<ReadyResult> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const list = (await api.listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace })) as { items: AWSSecret[] };
    const ready = list.items.filter(isReady);
    if (ready.length >= count) {
      const observedMs = Date.now() - since;
      const last = ready.reduce((max, item) => Math.max(max, Date.parse(item.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime ?? '')), -Infinity);
      return { ms: Number.isFinite(last) ? last - since : observedMs, observedMs };
    }
    options.progress(ready.length);
    if (Date.now() > deadline) throw new Error(`only ${ready.length} of ${count} AWSSecrets Ready after ${options.timeoutMs / 1000}s`);
    await sleep(options.intervalMs);
  }
}
