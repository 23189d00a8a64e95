import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One Prometheus registry per process; components register their own metrics on it. */
export interface Metrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'route' | 'method' | 'code'>;
  readonly httpDuration: Histogram<'route'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'piggy_' });
  return {
    registry,
    httpRequests: new Counter({
      name: 'piggy_http_requests_total',
      help: 'Requests served on the HTTPS listener, by route, method and status code.',
      labelNames: ['route', 'method', 'code'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'piggy_http_request_duration_seconds',
      help: 'Time to answer a request on the HTTPS listener, by route.',
      labelNames: ['route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
}
