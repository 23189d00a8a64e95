import { Counter, Histogram, type Registry } from 'prom-client';
import type { CacheOutcome } from './cache.ts';

/** What the resolver reports; a no-op when no prom-client Registry is passed in. */
export interface ImageMetrics {
  cache(cache: 'tag' | 'manifest' | 'image', outcome: CacheOutcome): void;
  request(kind: string, outcome: string): void;
  resolved(outcome: string, seconds: number): void;
}

export const NO_METRICS: ImageMetrics = { cache: () => undefined, request: () => undefined, resolved: () => undefined };

export function createImageMetrics(registry: Registry | undefined): ImageMetrics {
  if (registry === undefined) return NO_METRICS;
  const lookups = new Counter({
    name: 'piggy_image_cache_lookups_total',
    help: 'Image resolver cache lookups by cache (tag, manifest, image) and outcome (hit, miss, coalesced into an in-flight load).',
    labelNames: ['cache', 'outcome'],
    registers: [registry],
  });
  const requests = new Counter({
    name: 'piggy_image_registry_requests_total',
    help: 'HTTP requests sent to registries, token servers and ECR, by kind and status code (or error).',
    labelNames: ['kind', 'code'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'piggy_image_resolve_duration_seconds',
    help: 'Time to resolve an image entrypoint, by outcome (ok or an error code).',
    labelNames: ['outcome'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return {
    cache: (cache, outcome) => lookups.inc({ cache, outcome }),
    request: (kind, code) => requests.inc({ kind, code }),
    resolved: (outcome, seconds) => duration.observe({ outcome }, seconds),
  };
}
