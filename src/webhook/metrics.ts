import { Counter, Histogram, type Registry } from 'prom-client';
import type { AdmissionResult } from './review.ts';

export interface WebhookMetrics {
  readonly admissions: Counter<'result'>;
  readonly duration: Histogram<'result'>;
}

/** `piggy_webhook_pull_secret_lookups_total{kind,outcome}`: service account and pull Secret reads, from the cache (hit) or the API (miss). */
export function buildPullSecretLookupMetric(registry: Registry): (kind: 'serviceaccount' | 'secret', outcome: 'hit' | 'miss') => void {
  const lookups = new Counter({
    name: 'piggy_webhook_pull_secret_lookups_total',
    help: 'Pull-credential lookups of the webhook (service accounts, pull Secrets), answered by the cache (hit) or the API server (miss).',
    labelNames: ['kind', 'outcome'],
    registers: [registry],
  });
  return (kind, outcome) => lookups.inc({ kind, outcome });
}

/** `piggy_webhook_admissions_total{result}` and `piggy_webhook_admission_duration_seconds{result}`. */
export function buildWebhookMetrics(registry: Registry): WebhookMetrics {
  const results: AdmissionResult[] = ['mutated', 'allowed', 'denied', 'malformed', 'error'];
  const admissions = new Counter({
    name: 'piggy_webhook_admissions_total',
    help: 'Admission reviews answered by /mutate, by result (mutated, allowed, denied, malformed, error).',
    labelNames: ['result'],
    registers: [registry],
  });
  for (const result of results) admissions.inc({ result }, 0);
  return {
    admissions,
    duration: new Histogram({
      name: 'piggy_webhook_admission_duration_seconds',
      help: 'Time to answer an admission review, including ConfigMap/Secret lookups and image reads.',
      labelNames: ['result'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
}
