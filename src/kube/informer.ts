import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../shared/logger.ts';

export interface InformerHandlers<T> {
  readonly onAdd?: (object: T) => void;
  readonly onUpdate?: (object: T, previous: T | undefined) => void;
  readonly onDelete?: (object: T) => void;
}

export interface RunningInformer<T> {
  get(name: string, namespace: string): T | undefined;
  list(namespace?: string): readonly T[];
  /** Resolves after the first successful list. */
  readonly synced: Promise<void>;
  stop(): Promise<void>;
}

export interface InformerOptions<T extends KubernetesObject> {
  readonly kc: KubeConfig;
  /** The watch path, e.g. /api/v1/secrets or /apis/piggysec.com/v1alpha1/awssecrets. */
  readonly path: string;
  readonly list: () => Promise<KubernetesListObject<T>>;
  readonly labelSelector?: string;
  readonly handlers: InformerHandlers<T>;
  readonly log: Logger;
  readonly name: string;
}

/**
 * A list+watch cache that survives what a long-running watch meets: 410 Gone (relist, handled by
 * the client), client timeouts (re-watch), and dropped connections or API server restarts
 * (restarted here with capped exponential backoff).
 */
export function startInformer<T extends KubernetesObject>(options: InformerOptions<T>): RunningInformer<T> {
  const previous = new Map<string, T>();
  const keyOf = (object: T): string => `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
  let markSynced!: () => void;
  const synced = new Promise<void>((resolve) => (markSynced = resolve));
  let stopped = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;

  const listFn = async (): Promise<KubernetesListObject<T>> => {
    const result = await options.list();
    failures = 0;
    markSynced();
    return result;
  };
  const informer = new ListWatch<T>(options.path, new Watch(options.kc), listFn, false, options.labelSelector);
  informer.on('add', (object) => {
    previous.set(keyOf(object), object);
    options.handlers.onAdd?.(object);
  });
  informer.on('update', (object) => {
    const before = previous.get(keyOf(object));
    previous.set(keyOf(object), object);
    options.handlers.onUpdate?.(object, before);
  });
  informer.on('delete', (object) => {
    previous.delete(keyOf(object));
    options.handlers.onDelete?.(object);
  });
  const begin = (): void => void informer.start().catch(restart);
  function restart(error: unknown): void {
    if (stopped) return;
    failures += 1;
    const delay = Math.min(30_000, 500 * 2 ** Math.min(failures - 1, 6));
    if (failures === 1 || failures % 10 === 0) options.log.warn({ err: error, informer: options.name, delayMs: delay }, 'watch failed, restarting');
    timer = setTimeout(begin, delay);
  }
  informer.on('error', restart);
  begin();
  return {
    get: (name, namespace) => informer.get(name, namespace),
    list: (namespace) => informer.list(namespace),
    synced,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await informer.stop();
    },
  };
}
