import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type AwsCallResult = 'ok' | 'throttled' | 'not_found' | 'denied' | 'error';

/** The caches of the AWS access layer, as the `cache` label names them. */
export type CacheName = 'secret_version' | 'secret_stage' | 'secret_current' | 'ssm_path';

/**
 * Metrics of the AWS access layer, registered on the process registry (src/shared/metrics.ts).
 * `piggy_aws_calls_total` counts HTTP requests to AWS, one per SDK attempt, so SDK retries are visible.
 */
export interface AwsMetrics {
  recordCall(api: string, result: AwsCallResult, seconds: number): void;
  recordThrottled(): void;
  recordCacheHit(cache: CacheName): void;
  recordCacheMiss(cache: CacheName): void;
  /** Reads the byte total of a cache at scrape time. */
  watchCacheBytes(cache: CacheName, read: () => number): void;
  /** Reads the budget's effective rate at scrape time. */
  watchBudgetRate(read: () => number): void;
}

export function createAwsMetrics(registry: Registry): AwsMetrics {
  const calls = new Counter({
    name: 'piggy_aws_calls_total',
    help: 'Requests sent to AWS (one per SDK attempt), by API and result (ok, throttled, not_found, denied, error).',
    labelNames: ['api', 'result'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'piggy_aws_call_duration_seconds',
    help: 'Time of one request to AWS, from sending to the answer (budget waits excluded), by API.',
    labelNames: ['api'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const hits = new Counter({
    name: 'piggy_cache_hits_total',
    help: 'Lookups answered from a cache of the AWS access layer, by cache.',
    labelNames: ['cache'],
    registers: [registry],
  });
  const misses = new Counter({
    name: 'piggy_cache_misses_total',
    help: 'Lookups a cache of the AWS access layer could not answer (an AWS call or a shared in-flight call followed), by cache.',
    labelNames: ['cache'],
    registers: [registry],
  });
  const throttled = new Counter({
    name: 'piggy_aws_throttled_total',
    help: 'AWS requests answered with throttling.',
    registers: [registry],
  });
  const byteReaders = new Map<CacheName, () => number>();
  new Gauge({
    name: 'piggy_cache_bytes',
    help: 'Bytes of secret material held in memory by a cache, by cache.',
    labelNames: ['cache'],
    registers: [registry],
    collect() {
      for (const [cache, read] of byteReaders) this.set({ cache }, read());
    },
  });
  let readRate: (() => number) | undefined;
  new Gauge({
    name: 'piggy_aws_budget_rate',
    help: 'Effective AWS call rate of the process-wide budget in calls per second (lowered on throttling).',
    registers: [registry],
    collect() {
      if (readRate !== undefined) this.set(readRate());
    },
  });
  return {
    recordCall(api, result, seconds) {
      calls.inc({ api, result });
      duration.observe({ api }, seconds);
    },
    recordThrottled: () => throttled.inc(),
    recordCacheHit: (cache) => hits.inc({ cache }),
    recordCacheMiss: (cache) => misses.inc({ cache }),
    watchCacheBytes: (cache, read) => byteReaders.set(cache, read),
    watchBudgetRate(read) {
      readRate = read;
    },
  };
}
