import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../shared/logger.ts';

export interface InformerHandlers<T> {
  readonly onAdd?: (object: T) => void;
  readonly onUpdate?: (object: T, previous: T | undefined) => void;
  readonly onDelete?: (object: T) => void;
}

export interface Informer<T> {
  get(name: string, namespace: string): T | undefined;
  list(namespace?: string): readonly T[];
  /** Resolves after the first successful list. */
  readonly synced: Promise<void>;
  /** Starts listing and watching; the handlers see every change from the first list on. */
  start(handlers: InformerHandlers<T>): void;
  stop(): Promise<void>;
}

export interface InformerOptions<T extends KubernetesObject> {
  readonly kc: KubeConfig;
  /** The watch path, e.g. /api/v1/secrets or /apis/piggysec.com/v1alpha1/awssecrets. */
  readonly path: string;
  /** One list call, given the deadline it must answer within (a hung list is abandoned and retried). */
  readonly list: (timeoutMs: number) => Promise<KubernetesListObject<T>>;
  readonly listTimeoutMs: number;
  readonly labelSelector?: string;
  readonly log: Logger;
  readonly name: string;
}

/**
 * A list+watch cache that survives what a long-running watch meets: 410 Gone (relist, handled by
 * the client), client timeouts (re-watch), a list that never answers (abandoned after
 * `listTimeoutMs`), and dropped connections or API server restarts (restarted here with capped
 * exponential backoff). Created idle, so its readers can be wired before its handlers run.
 */
export function createInformer<T extends KubernetesObject>(options: InformerOptions<T>): Informer<T> {
  const previous = new Map<string, T>();
  const keyOf = (object: T): string => `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
  let markSynced!: () => void;
  const synced = new Promise<void>((resolve) => (markSynced = resolve));
  let stopped = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;

  const listFn = async (): Promise<KubernetesListObject<T>> => {
    const result = await options.list(options.listTimeoutMs);
    for (const item of result.items) slim(item);
    // A list that answers after stop() must not start a watch.
    if (stopped) throw new Error('informer stopped');
    failures = 0;
    markSynced();
    return result;
  };
  const informer = new ListWatch<T>(options.path, new Watch(options.kc), listFn, false, options.labelSelector);
  const begin = (): void => void informer.start().catch(restart);
  function restart(error: unknown): void {
    if (stopped) return;
    failures += 1;
    const delay = Math.min(30_000, 500 * 2 ** Math.min(failures - 1, 6));
    if (failures === 1 || failures % 10 === 0) options.log.warn({ err: error, informer: options.name, delayMs: delay }, 'watch failed, restarting');
    timer = setTimeout(begin, delay);
  }
  let started = false;
  return {
    get: (name, namespace) => informer.get(name, namespace),
    list: (namespace) => informer.list(namespace),
    synced,
    start: (handlers) => {
      if (started || stopped) return;
      started = true;
      informer.on('add', (object) => {
        slim(object);
        previous.set(keyOf(object), object);
        handlers.onAdd?.(object);
      });
      informer.on('update', (object) => {
        slim(object);
        const before = previous.get(keyOf(object));
        previous.set(keyOf(object), object);
        handlers.onUpdate?.(object, before);
      });
      informer.on('delete', (object) => {
        previous.delete(keyOf(object));
        handlers.onDelete?.(object);
      });
      informer.on('error', restart);
      begin();
    },
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await informer.stop();
    },
  };
}

/**
 * Drops what no reader of the cache uses before it is kept: `managedFields` (server-side apply's
 * bookkeeping, often the largest part of a small object's metadata). The cache holds the very object
 * the handlers see, so this runs before they do.
 */
function slim(object: KubernetesObject): void {
  if (object.metadata !== undefined) delete object.metadata.managedFields;
}
