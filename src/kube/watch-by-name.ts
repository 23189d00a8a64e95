import { Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../shared/logger.ts';

export interface WatchByNameOptions {
  readonly kc: KubeConfig;
  /** The collection, e.g. /api/v1/namespaces/piggy-system/secrets. */
  readonly path: string;
  readonly name: string;
  readonly log: Logger;
  /** Called with each event's resourceVersion (including the current state after every (re)start). */
  readonly onEvent: (resourceVersion: string | undefined) => void;
}

/** The client ends a watch that was silent for 30 s; that, and a server-side close, are not failures. */
const isQuietEnd = (error: unknown): boolean => error === null || error === undefined || (error instanceof Error && error.name === 'TimeoutError');

/**
 * Watches ONE object by name (a field selector on metadata.name, which RBAC authorizes as a watch
 * of that name, so `resourceNames` can restrict it). Restarts forever: at once after a quiet end,
 * with capped backoff after an error. Returns a stop function.
 */
export function watchByName(options: WatchByNameOptions): () => void {
  let stopped = false;
  let controller: AbortController | undefined;
  let failures = 0;
  const restart = (error: unknown): void => {
    if (stopped) return;
    if (isQuietEnd(error)) failures = 0;
    else {
      failures += 1;
      if (failures % 10 === 1) options.log.warn({ err: error, failures, path: options.path, name: options.name }, 'watch failed, restarting');
    }
    setTimeout(start, failures === 0 ? 100 : Math.min(30_000, 500 * 2 ** Math.min(failures, 6))).unref();
  };
  const start = (): void => {
    if (stopped) return;
    new Watch(options.kc)
      .watch(
        options.path,
        { fieldSelector: `metadata.name=${options.name}` },
        (_type: string, object: KubernetesObject) => options.onEvent(object.metadata?.resourceVersion),
        restart,
      )
      .then((abort) => {
        controller = abort;
        if (stopped) abort.abort();
      })
      .catch(restart);
  };
  start();
  return () => {
    stopped = true;
    controller?.abort();
  };
}
