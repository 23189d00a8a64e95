import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
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
 * Records core/v1 Events, fire-and-forget (an event that cannot be written is logged, never
 * retried), and drops an identical event for the same object within `dedupeMs`.
 */
export function createEventRecorder(kc: KubeConfig, component: string, log: Logger, dedupeMs = 300_000): EventRecorder {
  const core = kc.makeApiClient(CoreV1Api);
  const recent = new Map<string, number>();
  return {
    record(target, type, reason, message) {
      const now = Date.now();
      const dedupeKey = `${target.uid}\0${type}\0${reason}\0${message}`;
      const last = recent.get(dedupeKey);
      if (last !== undefined && now - last < dedupeMs) return;
      recent.set(dedupeKey, now);
      if (recent.size > 10_000) recent.clear();
      const time = new Date(now);
      void core
        .createNamespacedEvent({
          namespace: target.namespace,
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
        })
        .catch((error: unknown) => log.warn({ err: error, object: `${target.kind}/${target.namespace}/${target.name}`, reason }, 'event not recorded'));
    },
  };
}
