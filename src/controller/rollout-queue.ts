import type { WorkloadRef } from '../kube/workloads.ts';
import type { Changes, RolloutRequest } from './rollout-plan.ts';

/** A patch the caller should make now: read the workload, diff, patch, then call `patched`. */
export interface RolloutStart {
  readonly key: string;
  readonly ref: WorkloadRef;
  readonly changes: Changes;
}

/** A workload holding a slot whose rollout is being watched (`since`: when its patch landed). */
export interface RollingWorkload {
  readonly key: string;
  readonly ref: WorkloadRef;
  readonly since: number;
}

interface Slot {
  readonly ref: WorkloadRef;
  /** A patch of this workload is in flight. */
  patching: boolean;
  /** When the last patch that changed the template landed; undefined while nothing is rolling. */
  rollingSince: number | undefined;
  /** Changes that arrived while a patch was in flight: sent right after it. */
  next: Changes | undefined;
}

/**
 * The cap on concurrent rollouts, as a pure state machine (no I/O, time passed in). A workload
 * holds a slot from the moment its patch starts until its rollout is reported done, it times out,
 * or the patch turned out unnecessary or failed. Requests beyond the cap wait FIFO, one entry per
 * workload: a newer request for a waiting workload updates its pending values in place. A request
 * for a workload that already holds a slot is applied at once (it supersedes the rollout in
 * progress, e.g. a revert, and takes no second slot).
 */
export class RolloutQueue {
  readonly #limit: number;
  readonly #waiting = new Map<string, RolloutRequest>();
  readonly #slots = new Map<string, Slot>();

  constructor(limit: number) {
    this.#limit = Math.max(1, Math.floor(limit));
  }

  get waiting(): number {
    return this.#waiting.size;
  }

  /** Workloads holding a slot (patching or rolling). */
  get active(): number {
    return this.#slots.size;
  }

  /** Whether the workload waits for a slot or holds one. */
  has(key: string): boolean {
    return this.#waiting.has(key) || this.#slots.has(key);
  }

  offer(request: RolloutRequest): RolloutStart[] {
    const slot = this.#slots.get(request.key);
    if (slot !== undefined) {
      if (slot.patching) {
        slot.next = { ...slot.next, ...request.changes };
        return [];
      }
      slot.patching = true;
      return [{ key: request.key, ref: slot.ref, changes: request.changes }];
    }
    const waiting = this.#waiting.get(request.key);
    this.#waiting.set(request.key, waiting === undefined ? request : { ...waiting, changes: { ...waiting.changes, ...request.changes } });
    return this.#fill();
  }

  /** A patch finished: `rolled` when it changed the template (a rollout started at `now`). */
  patched(key: string, rolled: boolean, now: number): RolloutStart[] {
    const slot = this.#slots.get(key);
    if (slot === undefined) return this.#fill();
    if (rolled) slot.rollingSince = now;
    if (slot.next !== undefined) {
      const changes = slot.next;
      slot.next = undefined;
      return [{ key, ref: slot.ref, changes }];
    }
    slot.patching = false;
    if (slot.rollingSince !== undefined) return [];
    this.#slots.delete(key);
    return this.#fill();
  }

  /** The rollouts to poll: slots whose patch landed and that have no patch in flight. */
  rolling(): RollingWorkload[] {
    const rolling: RollingWorkload[] = [];
    for (const [key, slot] of this.#slots) {
      if (!slot.patching && slot.rollingSince !== undefined) rolling.push({ key, ref: slot.ref, since: slot.rollingSince });
    }
    return rolling;
  }

  /**
   * The rollout observed at `since` is over (done, stalled or the workload gone). Ignored when a
   * newer patch landed or is in flight since the poll began: that rollout is still to be watched.
   */
  finished(key: string, since: number): RolloutStart[] {
    const slot = this.#slots.get(key);
    if (slot === undefined || slot.patching || slot.rollingSince !== since) return [];
    this.#slots.delete(key);
    return this.#fill();
  }

  /** Frees the slots of rollouts running for `timeoutMs` or longer. */
  expire(now: number, timeoutMs: number): { expired: RollingWorkload[]; starts: RolloutStart[] } {
    const expired = this.rolling().filter((entry) => now - entry.since >= timeoutMs);
    for (const entry of expired) this.#slots.delete(entry.key);
    return { expired, starts: expired.length === 0 ? [] : this.#fill() };
  }

  clear(): void {
    this.#waiting.clear();
    this.#slots.clear();
  }

  #fill(): RolloutStart[] {
    const starts: RolloutStart[] = [];
    for (const [key, request] of this.#waiting) {
      if (this.#slots.size >= this.#limit) break;
      this.#waiting.delete(key);
      this.#slots.set(key, { ref: request.ref, patching: true, rollingSince: undefined, next: undefined });
      starts.push({ key, ref: request.ref, changes: request.changes });
    }
    return starts;
  }
}
