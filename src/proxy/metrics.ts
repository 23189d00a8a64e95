import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { RESULT_LABELS } from './errors.ts';

export interface ProxyMetrics {
  recordRequest(result: string, seconds: number): void;
  recordTokenReview(source: 'api' | 'cache'): void;
  /** Reads the limiter at scrape time. */
  watchLoad(read: () => { inFlight: number; queued: number }): void;
}

/**
 * `piggy_proxy_requests_total{result}` (`ok` or the error code without `ERR_PROXY_`, lower case),
 * `piggy_proxy_request_duration_seconds{result}`, `piggy_proxy_token_reviews_total{source}` (`api`: a
 * TokenReview was sent; `cache`: answered from the cache), `piggy_proxy_in_flight`, `piggy_proxy_queued`.
 */
export function buildProxyMetrics(registry: Registry): ProxyMetrics {
  const requests = new Counter({
    name: 'piggy_proxy_requests_total',
    help: 'Requests answered by POST /secret, by result (ok, or the error code without ERR_PROXY_ in lower case).',
    labelNames: ['result'],
    registers: [registry],
  });
  for (const result of RESULT_LABELS) requests.inc({ result }, 0);
  const duration = new Histogram({
    name: 'piggy_proxy_request_duration_seconds',
    help: 'Time to answer POST /secret (queueing, token review, pod read and AWS read included), by result.',
    labelNames: ['result'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const reviews = new Counter({
    name: 'piggy_proxy_token_reviews_total',
    help: 'Token reviews of /secret callers, by source (api: a TokenReview was sent; cache: reused).',
    labelNames: ['source'],
    registers: [registry],
  });
  let read: (() => { inFlight: number; queued: number }) | undefined;
  new Gauge({
    name: 'piggy_proxy_in_flight',
    help: 'POST /secret requests being served now.',
    registers: [registry],
    collect() {
      if (read !== undefined) this.set(read().inFlight);
    },
  });
  new Gauge({
    name: 'piggy_proxy_queued',
    help: 'POST /secret requests waiting for a slot now.',
    registers: [registry],
    collect() {
      if (read !== undefined) this.set(read().queued);
    },
  });
  return {
    recordRequest(result, seconds) {
      requests.inc({ result });
      duration.observe({ result }, seconds);
    },
    recordTokenReview: (source) => reviews.inc({ source }),
    watchLoad(reader) {
      read = reader;
    },
  };
}
