// One watch per collection of the bench namespace (pods, secrets), recording when each object was
// first seen in a state, on this process's clock: a pod scheduled, its app container running, a
// failure, its deletion; a Secret's creation. Restarted from the last resourceVersion when the
// client or the server ends it, so no event is lost between two watches.
import { Watch, type KubeConfig, type V1ContainerStatus, type V1Pod, type V1Secret } from '@kubernetes/client-node';
import { sleep } from '../../scripts/local/procs.ts';

export interface PodSeen {
  scheduledAt?: number;
  /** The app container's state.running first seen: the kubelet reported the container started. */
  runningAt?: number;
  /** The first init container first seen running (the injected pod's install-piggy-env). */
  initRunningAt?: number;
  /** Every init container first seen terminated (the injected pod's install-piggy-env copy done). */
  initDoneAt?: number;
  node?: string;
  failure?: string;
  goneAt?: number;
}

const FATAL_WAITING = new Set(['ErrImagePull', 'ImagePullBackOff', 'CrashLoopBackOff', 'CreateContainerError', 'RunContainerError', 'InvalidImageName']);

/** Why POD cannot start (a container that failed or cannot be created), or undefined while it may. */
export function failureOf(pod: V1Pod): string | undefined {
  const statuses: V1ContainerStatus[] = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  for (const status of statuses) {
    const waiting = status.state?.waiting;
    if (waiting?.reason !== undefined && FATAL_WAITING.has(waiting.reason)) return `container ${status.name}: ${waiting.reason} ${waiting.message ?? ''}`.trim();
    const done = status.state?.terminated ?? status.lastState?.terminated;
    if (done !== undefined && done.exitCode !== 0) return `container ${status.name} exited ${done.exitCode} (${done.reason ?? ''})`;
  }
  if (pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded') return `pod ${pod.status.phase}`;
  return undefined;
}

type Handler<T> = (type: string, object: T, now: number) => void;

/** Watches PATH until stop(); restarts from the last resourceVersion (from scratch after 410 Gone). */
function watchCollection<T extends { metadata?: { resourceVersion?: string } }>(kc: KubeConfig, path: string, handle: Handler<T>): () => void {
  let stopped = false;
  let abort: AbortController | undefined;
  let resourceVersion: string | undefined;
  const start = (): void => {
    if (stopped) return;
    const restart = (error: unknown) => {
      if ((error as { code?: number } | undefined)?.code === 410 || String(error).includes('410')) resourceVersion = undefined;
      if (!stopped) setTimeout(start, 50).unref();
    };
    new Watch(kc)
      .watch(path, { allowWatchBookmarks: true, ...(resourceVersion === undefined ? {} : { resourceVersion }) }, (type: string, object: T) => {
        resourceVersion = object.metadata?.resourceVersion ?? resourceVersion;
        if (type !== 'BOOKMARK') handle(type, object, Date.now());
      }, restart)
      .then((controller) => {
        abort = controller;
        if (stopped) controller.abort();
      }, restart);
  };
  start();
  return () => {
    stopped = true;
    abort?.abort();
  };
}

export interface Tracker {
  pod(name: string): PodSeen | undefined;
  secretAt(name: string): number | undefined;
  /** Resolves when PREDICATE holds for every name (polled every 25 ms); throws after TIMEOUTMS, or at once when a pod failed unless IGNOREFAILURES. */
  waitAll(names: readonly string[], predicate: (seen: PodSeen | undefined) => boolean, what: string, timeoutMs: number, ignoreFailures?: boolean): Promise<void>;
  stop(): void;
}

export function startTracker(kc: KubeConfig, namespace: string): Tracker {
  const pods = new Map<string, PodSeen>();
  const secrets = new Map<string, number>();
  const stopPods = watchCollection<V1Pod>(kc, `/api/v1/namespaces/${namespace}/pods`, (type, pod, now) => {
    const name = pod.metadata?.name ?? '';
    const seen = pods.get(name) ?? {};
    pods.set(name, seen);
    if (type === 'DELETED') {
      seen.goneAt ??= now;
      return;
    }
    if (pod.spec?.nodeName !== undefined) {
      seen.node ??= pod.spec.nodeName;
      seen.scheduledAt ??= now;
    }
    if (pod.status?.containerStatuses?.find((status) => status.name === 'app')?.state?.running !== undefined) seen.runningAt ??= now;
    const inits = pod.status?.initContainerStatuses ?? [];
    if (inits[0]?.state?.running !== undefined || inits[0]?.state?.terminated !== undefined) seen.initRunningAt ??= now;
    if (inits.length > 0 && inits.every((status) => status.state?.terminated !== undefined)) seen.initDoneAt ??= now;
    seen.failure ??= failureOf(pod);
  });
  const stopSecrets = watchCollection<V1Secret>(kc, `/api/v1/namespaces/${namespace}/secrets`, (type, secret, now) => {
    const name = secret.metadata?.name ?? '';
    if (type === 'ADDED' && !secrets.has(name)) secrets.set(name, now);
    if (type === 'DELETED') secrets.delete(name);
  });
  return {
    pod: (name) => pods.get(name),
    secretAt: (name) => secrets.get(name),
    async waitAll(names, predicate, what, timeoutMs, ignoreFailures = false) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const failed = ignoreFailures ? undefined : names.find((name) => pods.get(name)?.failure !== undefined);
        if (failed !== undefined) throw new Error(`pod ${failed} cannot start: ${pods.get(failed)?.failure ?? ''}`);
        const waiting = names.filter((name) => !predicate(pods.get(name)));
        if (waiting.length === 0) return;
        if (Date.now() > deadline) throw new Error(`${waiting.length} pods not ${what} after ${timeoutMs / 1000} s: ${waiting.slice(0, 5).join(', ')}`);
        await sleep(25);
      }
    },
    stop() {
      stopPods();
      stopSecrets();
    },
  };
}
