import type { KubeConfig } from '@kubernetes/client-node';
import PQueue from 'p-queue';
import type { EventRecorder } from '../kube/events.ts';
import { buildWorkloadClient, type WorkloadClient, type WorkloadObject } from '../kube/workloads.ts';
import { isAppError, isTransient } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import { API_VERSION, KIND, type AWSSecret } from './awssecret.ts';
import type { OperatorMetrics } from './operator-metrics.ts';
import {
  buildAnnotationValues,
  diffTemplateAnnotations,
  planRolloutProgress,
  planRolloutRequests,
  type Changes,
  type ChangeSource,
  type RolloutProgress,
  type VersionChange,
} from './rollout-plan.ts';
import { RolloutQueue, type RollingWorkload, type RolloutStart } from './rollout-queue.ts';

export interface RolloutSettings {
  /** Rollouts in progress at once; further patches wait FIFO. */
  readonly concurrency: number;
  /** A rollout not done after this long frees its slot with a warning. */
  readonly timeoutMs: number;
  /** How often the status of rollouts in progress is read (GET). */
  readonly pollIntervalMs: number;
}

export const DEFAULT_ROLLOUT_SETTINGS: RolloutSettings = { concurrency: 5, timeoutMs: 600_000, pollIntervalMs: 5_000 };

export type RolloutResult = 'triggered' | 'unchanged' | 'completed' | 'timed_out' | 'failed';

export interface RolloutDeps {
  readonly workloads: WorkloadClient;
  /** Records an event on the AWSSecret a change came from. */
  readonly recordEvent: (source: ChangeSource & { readonly namespace: string }, reason: string, message: string) => void;
  readonly log: Logger;
  readonly metrics?: Pick<OperatorMetrics, 'rollouts'>;
  readonly settings: RolloutSettings;
  /** Milliseconds since the epoch; injected for tests. */
  readonly now?: () => number;
  /** Tries of a workload list that fails transiently before the versions are given up (default 5). */
  readonly listAttempts?: number;
}

const LIST_CONCURRENCY = 4;

/**
 * Version-pinned rollouts: when an AWSSecret's synced version changes, the opted-in workloads of
 * its namespace get the version in a pod-template annotation, so they roll out; at most
 * `concurrency` rollouts run at once. Never throws into the reconciler: failures are logged and
 * counted, and one workload's failure never holds up another.
 */
export class Rollouts {
  readonly #deps: RolloutDeps;
  readonly #queue: RolloutQueue;
  readonly #now: () => number;
  readonly #lists = new PQueue({ concurrency: LIST_CONCURRENCY });
  /** Versions waiting for their namespace's next workload list, latest per AWSSecret name. */
  readonly #pending = new Map<string, Map<string, VersionChange>>();
  readonly #draining = new Set<string>();
  readonly #inflight = new Set<Promise<void>>();
  readonly #sleeps = new Set<() => void>();
  readonly #timer: NodeJS.Timeout;
  #polling = false;
  #stopped = false;

  constructor(deps: RolloutDeps) {
    this.#deps = deps;
    this.#queue = new RolloutQueue(deps.settings.concurrency);
    this.#now = deps.now ?? Date.now;
    this.#timer = setInterval(() => this.#track(this.poll()), deps.settings.pollIntervalMs);
    this.#timer.unref();
  }

  /** The reconciler's hook: the AWSSecret now holds `versionIds`. Returns at once. */
  notify(awsSecret: AWSSecret, versionIds: string): void {
    const { namespace, name, uid } = awsSecret.metadata;
    this.#collect(namespace, [{ name, uid, versionIds }]);
  }

  /**
   * After gaining the lease: re-applies each AWSSecret's synced version to workloads that carry an
   * older piggy annotation for it (a patch lost with the previous leader, or made while none ran).
   * Workloads without the annotation are left as they are (see README: no rollout of new workloads).
   */
  resync(awsSecrets: readonly AWSSecret[]): void {
    const byNamespace = new Map<string, VersionChange[]>();
    for (const awsSecret of awsSecrets) {
      const versionIds = awsSecret.status?.versionId;
      if (versionIds === undefined || awsSecret.metadata.deletionTimestamp !== undefined) continue;
      const { namespace, name, uid } = awsSecret.metadata;
      byNamespace.set(namespace, [...(byNamespace.get(namespace) ?? []), { name, uid, versionIds, catchUp: true }]);
    }
    for (const [namespace, versions] of byNamespace) this.#collect(namespace, versions);
  }

  /** One round of status reads for the rollouts in progress, then timeouts. Also run by a timer. */
  async poll(): Promise<void> {
    if (this.#polling || this.#stopped) return;
    this.#polling = true;
    try {
      await Promise.all(this.#queue.rolling().map((entry) => this.#check(entry)));
      const { expired, starts } = this.#queue.expire(this.#now(), this.#deps.settings.timeoutMs);
      for (const entry of expired) {
        this.#count('timed_out');
        this.#deps.log.warn({ workload: entry.key, timeoutMs: this.#deps.settings.timeoutMs }, 'rollout timed out, slot freed');
      }
      this.#start(starts);
    } finally {
      this.#polling = false;
    }
  }

  /** Resolves once no list, patch or poll is in flight (tests; shutdown). */
  async idle(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  get inProgress(): number {
    return this.#queue.active;
  }

  get waiting(): number {
    return this.#queue.waiting;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    for (const wake of this.#sleeps) wake();
    this.#pending.clear();
    this.#queue.clear();
    await this.idle();
  }

  #collect(namespace: string, versions: readonly VersionChange[]): void {
    if (this.#stopped) return;
    const batch = this.#pending.get(namespace) ?? new Map<string, VersionChange>();
    for (const version of versions) {
      // A catch-up never replaces a real change still waiting for the list.
      if (version.catchUp === true && batch.has(version.name)) continue;
      batch.set(version.name, version);
    }
    this.#pending.set(namespace, batch);
    if (this.#draining.has(namespace)) return;
    this.#draining.add(namespace);
    this.#track(this.#drain(namespace));
  }

  /** One namespace at a time, in order: versions that arrive during a list share the next one. */
  async #drain(namespace: string): Promise<void> {
    try {
      for (;;) {
        const batch = this.#pending.get(namespace);
        if (batch === undefined || this.#stopped) return;
        this.#pending.delete(namespace);
        await this.#plan(namespace, [...batch.values()]);
      }
    } finally {
      this.#draining.delete(namespace);
    }
  }

  async #plan(namespace: string, versions: readonly VersionChange[]): Promise<void> {
    const workloads = await this.#listWorkloads(namespace, versions);
    if (workloads === undefined || this.#stopped) return;
    const { requests, unchanged } = planRolloutRequests(workloads, versions, (key) => this.#queue.has(key));
    if (unchanged > 0) this.#deps.metrics?.rollouts.inc({ result: 'unchanged' }, unchanged);
    for (const request of requests) this.#start(this.#queue.offer(request));
  }

  async #listWorkloads(namespace: string, versions: readonly VersionChange[]): Promise<WorkloadObject[] | undefined> {
    const attempts = this.#deps.listAttempts ?? 5;
    for (let attempt = 1; !this.#stopped; attempt += 1) {
      try {
        return await this.#lists.add(() => (this.#stopped ? Promise.resolve([]) : this.#deps.workloads.listWorkloads(namespace)));
      } catch (error) {
        const fields = { namespace, awsSecrets: versions.map((version) => version.name), attempt, code: codeOf(error), err: error };
        if (!isTransient(error) || attempt >= attempts) {
          this.#count('failed');
          this.#deps.log.warn(fields, 'rollout workload list failed, versions not rolled out');
          return undefined;
        }
        this.#deps.log.debug(fields, 'rollout workload list failed, retrying');
        await this.#sleep(this.#deps.settings.pollIntervalMs * attempt);
      }
    }
    return undefined;
  }

  #start(starts: readonly RolloutStart[]): void {
    for (const start of starts) this.#track(this.#apply(start));
  }

  /** Reads the workload fresh, patches only the annotations that differ, reports to the queue. */
  async #apply(start: RolloutStart): Promise<void> {
    let rolled = false;
    try {
      const live = await this.#deps.workloads.readWorkload(start.ref);
      if (live === undefined) {
        this.#count('failed');
        this.#deps.log.warn({ workload: start.key }, 'rollout target gone');
        return;
      }
      const changes = diffTemplateAnnotations(live, start.changes);
      if (Object.keys(changes).length === 0) {
        this.#count('unchanged');
        this.#deps.log.debug({ workload: start.key }, 'rollout not needed, versions already set');
        return;
      }
      await this.#deps.workloads.patchTemplateAnnotations(start.ref, buildAnnotationValues(changes));
      rolled = true;
      this.#count('triggered');
      this.#deps.log.info({ workload: start.key, annotations: buildAnnotationValues(changes) }, 'rollout triggered');
      this.#recordTriggered(start, changes);
    } catch (error) {
      this.#count('failed');
      this.#deps.log.warn({ workload: start.key, code: codeOf(error), err: error }, 'rollout patch failed');
    } finally {
      if (!this.#stopped) this.#start(this.#queue.patched(start.key, rolled, this.#now()));
    }
  }

  #recordTriggered(start: RolloutStart, changes: Changes): void {
    for (const [annotation, change] of Object.entries(changes)) {
      const message = `rollout of ${start.ref.kind} ${start.ref.name} triggered: pod template annotation ${annotation}=${change.value}`;
      this.#deps.recordEvent({ ...change.source, namespace: start.ref.namespace }, 'RolloutTriggered', message);
    }
  }

  async #check(entry: RollingWorkload): Promise<void> {
    let progress: RolloutProgress | 'gone';
    try {
      const live = await this.#deps.workloads.readWorkload(entry.ref);
      progress = live === undefined ? 'gone' : planRolloutProgress(live);
    } catch (error) {
      this.#deps.log.debug({ workload: entry.key, code: codeOf(error), err: error }, 'rollout status read failed');
      return;
    }
    if (progress === 'progressing') return;
    const durationMs = this.#now() - entry.since;
    if (progress === 'complete') {
      this.#count('completed');
      this.#deps.log.info({ workload: entry.key, durationMs }, 'rollout completed');
    } else {
      this.#count('failed');
      this.#deps.log.warn({ workload: entry.key, durationMs, progress }, progress === 'gone' ? 'rolled-out workload gone' : 'rollout stalled');
    }
    this.#start(this.#queue.finished(entry.key, entry.since));
  }

  #count(result: RolloutResult): void {
    this.#deps.metrics?.rollouts.inc({ result });
  }

  #track(work: Promise<void>): void {
    const tracked = work.catch((error: unknown) => this.#deps.log.error({ err: error }, 'rollout work failed unexpectedly'));
    this.#inflight.add(tracked);
    void tracked.finally(() => this.#inflight.delete(tracked));
  }

  #sleep(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#sleeps.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms); // stop() wakes it
      this.#sleeps.add(wake);
    });
  }
}

function codeOf(error: unknown): string | undefined {
  return isAppError(error) ? error.code : undefined;
}

export interface StartRolloutsOptions {
  readonly kc: KubeConfig;
  readonly events: EventRecorder;
  readonly log: Logger;
  readonly metrics?: Pick<OperatorMetrics, 'rollouts'>;
  /** Unset (undefined) fields take DEFAULT_ROLLOUT_SETTINGS. */
  readonly settings?: { readonly [K in keyof RolloutSettings]?: number | undefined };
}

/** The rollout component over the real API: apps/v1 list, get and patch only. */
export function startRollouts(options: StartRolloutsOptions): Rollouts {
  const given = options.settings ?? {};
  return new Rollouts({
    workloads: buildWorkloadClient(options.kc),
    recordEvent: (source, reason, message) =>
      options.events.record({ apiVersion: API_VERSION, kind: KIND, name: source.name, namespace: source.namespace, uid: source.uid }, 'Normal', reason, message),
    log: options.log,
    metrics: options.metrics,
    settings: {
      concurrency: given.concurrency ?? DEFAULT_ROLLOUT_SETTINGS.concurrency,
      timeoutMs: given.timeoutMs ?? DEFAULT_ROLLOUT_SETTINGS.timeoutMs,
      pollIntervalMs: given.pollIntervalMs ?? DEFAULT_ROLLOUT_SETTINGS.pollIntervalMs,
    },
  });
}
