import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface OperatorMetrics {
  readonly reconciles: Counter<'result'>;
  readonly reconcileDuration: Histogram<'result'>;
  readonly queueDepth: Gauge;
  readonly secretWrites: Counter<'action'>;
  readonly updateChecks: Counter<'result'>;
  readonly rollouts: Counter<'result'>;
  readonly leader: Gauge;
  readonly eventsDropped: Counter<'type'>;
}

export function createOperatorMetrics(registry: Registry): OperatorMetrics {
  const registers = [registry];
  return {
    reconciles: new Counter({
      name: 'piggy_reconcile_total',
      help: 'AWSSecret reconciles by result (synced, unchanged, or the failure reason).',
      labelNames: ['result'],
      registers,
    }),
    reconcileDuration: new Histogram({
      name: 'piggy_reconcile_duration_seconds',
      help: 'Time to reconcile one AWSSecret.',
      labelNames: ['result'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
      registers,
    }),
    queueDepth: new Gauge({ name: 'piggy_queue_depth', help: 'AWSSecret keys waiting to be reconciled.', registers }),
    secretWrites: new Counter({
      name: 'piggy_secret_writes_total',
      help: 'Writes of generated Secrets by action (create, update, recreate).',
      labelNames: ['action'],
      registers,
    }),
    updateChecks: new Counter({
      name: 'piggy_update_checks_total',
      help: 'AWSCURRENT update checks by result (up_to_date, update_available, failed).',
      labelNames: ['result'],
      registers,
    }),
    rollouts: new Counter({
      name: 'piggy_rollouts_total',
      help: 'Workload pod-template patches for version-pinned rollouts by result.',
      labelNames: ['result'],
      registers,
    }),
    leader: new Gauge({ name: 'piggy_leader', help: '1 while this process holds the operator lease.', registers }),
    eventsDropped: new Counter({
      name: 'piggy_events_dropped_total',
      help: 'Events not written because the event queue was full, by type (Normal, Warning).',
      labelNames: ['type'],
      registers,
    }),
  };
}
