import { CoreV1Api, type CoreV1Event, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../shared/logger.ts';

export interface EventTarget {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly resourceVersion?: string;
}

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  record(target: EventTarget, type: EventType, reason: string, message: string): void;
}

/**
 * Events held while one is being written. client-go's broadcaster holds 1,000; a burst of 10,000
 * AWSSecrets on a saturated API server then lost 8,379 of its 10,000 Created events (bench:operator),
 * since one write at a time gets ~8 per second through while the reconciles run. 10,000 bodies are
 * a few MiB, held only during such a burst.
 */
export const MAX_QUEUED_EVENTS = 10_000;

export interface SendQueueOptions<T> {
  readonly maxQueued?: number;
  /** An item for which this is true, arriving at a full queue, takes the place of the oldest queued item for which it is false. */
  readonly outranks?: (item: T) => boolean;
  /** Told once when a burst starts dropping, and again with the count once the queue has drained. */
  readonly onDropped: (dropped: number, drained: boolean) => void;
  /** Told of every item dropped. */
  readonly onDrop?: (item: T) => void;
}

/**
 * Writes queued items one at a time, in order, off the caller's path: like client-go's event
 * broadcaster, a burst of events (1,000 AWSSecrets created at once) waits behind the reconciles
 * instead of competing with them for the API server. Beyond `maxQueued` an item is dropped, unless
 * it outranks a queued one (a Warning arriving behind a burst of Normal events), which is dropped
 * instead.
 */
export function createSendQueue<T>(send: (item: T) => Promise<void>, options: SendQueueOptions<T>): (item: T) => void {
  const maxQueued = options.maxQueued ?? MAX_QUEUED_EVENTS;
  const queued: T[] = [];
  let sending = false;
  let dropped = 0;
  const pump = (): void => {
    const next = queued.shift();
    if (next === undefined) {
      sending = false;
      if (dropped > 0) options.onDropped(dropped, true);
      dropped = 0;
      return;
    }
    sending = true;
    // send() handles its own failures; a throw here must not stop the queue.
    send(next).catch(() => undefined).finally(pump);
  };
  const drop = (item: T): void => {
    dropped++;
    options.onDrop?.(item);
    if (dropped === 1) options.onDropped(1, false);
  };
  return (item) => {
    if (queued.length >= maxQueued) {
      const outranks = options.outranks;
      const victim = outranks?.(item) === true ? queued.findIndex((other) => !outranks(other)) : -1;
      if (victim === -1) {
        drop(item);
        return;
      }
      drop(queued.splice(victim, 1)[0] as T);
    }
    queued.push(item);
    if (!sending) pump();
  };
}

export interface EventRecorderOptions {
  /** An identical event for the same object within this window is dropped (default 5 minutes). */
  readonly dedupeMs?: number;
  /** Told of each event the full queue dropped (piggy_events_dropped_total). */
  readonly onDrop?: (type: EventType) => void;
}

/**
 * Records core/v1 Events through a send queue (an event that cannot be written is logged, never
 * retried), and drops an identical event for the same object within `dedupeMs`.
 */
export function createEventRecorder(kc: KubeConfig, component: string, log: Logger, options: EventRecorderOptions = {}): EventRecorder {
  const dedupeMs = options.dedupeMs ?? 300_000;
  const core = kc.makeApiClient(CoreV1Api);
  const recent = new Map<string, number>();
  const enqueue = createSendQueue<{ target: EventTarget; body: CoreV1Event }>(
    async ({ target, body }) => {
      await core.createNamespacedEvent({ namespace: target.namespace, body }).then(
        () => undefined,
        (error: unknown) => log.warn({ err: error, object: `${target.kind}/${target.namespace}/${target.name}`, reason: body.reason }, 'event not recorded'),
      );
    },
    {
      outranks: ({ body }) => body.type === 'Warning',
      onDrop: ({ body }) => options.onDrop?.(body.type === 'Warning' ? 'Warning' : 'Normal'),
      onDropped: (count, drained) =>
        drained
          ? log.warn({ dropped: count, maxQueued: MAX_QUEUED_EVENTS }, 'events dropped while the queue was full; it has drained')
          : log.warn({ maxQueued: MAX_QUEUED_EVENTS }, 'event queue full: events are dropped until it drains (a Warning takes the place of a queued Normal one)'),
    },
  );
  return {
    record(target, type, reason, message) {
      const now = Date.now();
      const dedupeKey = `${target.uid}\0${type}\0${reason}\0${message}`;
      const last = recent.get(dedupeKey);
      if (last !== undefined && now - last < dedupeMs) return;
      recent.set(dedupeKey, now);
      if (recent.size > 10_000) recent.clear();
      const time = new Date(now);
      enqueue({
        target,
        body: {
          metadata: { generateName: `${target.name}.`, namespace: target.namespace },
          involvedObject: { ...target },
          type,
          reason,
          message: message.slice(0, 1024),
          source: { component },
          reportingComponent: component,
          reportingInstance: component,
          firstTimestamp: time,
          lastTimestamp: time,
          count: 1,
        },
      });
    },
  };
}
