import PQueue from 'p-queue';

/** What processing a key asks for next (controller-runtime's reconcile contract). */
export type Outcome =
  | { readonly kind: 'done'; readonly requeueAfterMs?: number }
  /** A transient failure: retried with capped exponential backoff and jitter. */
  | { readonly kind: 'retry' }
  /** A terminal failure: not retried; a new event for the key (a spec change) brings it back. */
  | { readonly kind: 'terminal'; readonly requeueAfterMs?: number };

/** Time as the queue sees it: injected by tests (a fake clock); by default Date.now and unref'd timers. */
export interface QueueTimers {
  now(): number;
  /** Runs `run` after `delayMs`; returns a cancel function. */
  schedule(run: () => void, delayMs: number): () => void;
}

const realTimers: QueueTimers = {
  now: () => Date.now(),
  schedule(run, delayMs) {
    const timer = setTimeout(run, delayMs);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

export interface WorkQueueOptions {
  readonly concurrency: number;
  readonly process: (key: string) => Promise<Outcome>;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Injected for tests; defaults to Math.random. */
  readonly random?: () => number;
  /** Injected for tests; defaults to real time. */
  readonly timers?: QueueTimers;
  readonly onDepthChange?: (depth: number) => void;
  /** Start paused (keys collect) until start(): lets caches sync before the first reconcile. */
  readonly paused?: boolean;
}

/**
 * A keyed work queue: at most one in-flight item per key (an event during processing runs the key
 * once more afterwards), duplicates collapsed while waiting, global concurrency from p-queue.
 */
export class WorkQueue {
  readonly #options: WorkQueueOptions;
  readonly #queue: PQueue;
  readonly #waiting = new Set<string>();
  readonly #running = new Set<string>();
  readonly #dirty = new Set<string>();
  readonly #timers = new Map<string, { at: number; cancel: () => void }>();
  readonly #failures = new Map<string, number>();
  #stopped = false;

  constructor(options: WorkQueueOptions) {
    this.#options = options;
    this.#queue = new PQueue({ concurrency: options.concurrency, autoStart: options.paused !== true });
  }

  start(): void {
    if (!this.#stopped) this.#queue.start();
  }

  get depth(): number {
    return this.#waiting.size;
  }

  failuresOf(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  add(key: string): void {
    if (this.#stopped) return;
    if (this.#running.has(key)) {
      this.#dirty.add(key);
      return;
    }
    if (this.#waiting.has(key)) return;
    this.#waiting.add(key);
    this.#depthChanged();
    void this.#queue.add(() => this.#run(key));
  }

  /** Adds the key after a delay; an earlier pending delay for the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.#stopped) return;
    const timers = this.#options.timers ?? realTimers;
    const at = timers.now() + delayMs;
    const existing = this.#timers.get(key);
    if (existing !== undefined && existing.at <= at) return;
    existing?.cancel();
    const cancel = timers.schedule(() => {
      this.#timers.delete(key);
      this.add(key);
    }, delayMs);
    this.#timers.set(key, { at, cancel });
  }

  /** Drops a key's timers and failure count (the object is gone). */
  forget(key: string): void {
    const existing = this.#timers.get(key);
    existing?.cancel();
    this.#timers.delete(key);
    this.#failures.delete(key);
  }

  /** Stops taking work, cancels timers, and waits for in-flight items. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const { cancel } of this.#timers.values()) cancel();
    this.#timers.clear();
    this.#queue.clear();
    this.#waiting.clear();
    await this.#queue.onIdle();
  }

  /** Resolves when nothing waits or runs (timers not counted). */
  onIdle(): Promise<void> {
    return this.#queue.onIdle();
  }

  backoffDelay(failures: number): number {
    const exponential = Math.min(this.#options.maxDelayMs, this.#options.baseDelayMs * 2 ** Math.max(0, failures - 1));
    const random = this.#options.random ?? Math.random;
    return Math.round(exponential * (0.5 + random() / 2));
  }

  async #run(key: string): Promise<void> {
    if (!this.#waiting.delete(key)) return;
    this.#depthChanged();
    this.#running.add(key);
    try {
      const outcome = await this.#options.process(key).catch((): Outcome => ({ kind: 'retry' }));
      this.#settle(key, outcome);
    } finally {
      this.#running.delete(key);
      if (this.#dirty.delete(key)) this.add(key);
    }
  }

  #settle(key: string, outcome: Outcome): void {
    if (outcome.kind === 'retry') {
      const failures = (this.#failures.get(key) ?? 0) + 1;
      this.#failures.set(key, failures);
      this.addAfter(key, this.backoffDelay(failures));
      return;
    }
    this.#failures.delete(key);
    if (outcome.requeueAfterMs !== undefined) this.addAfter(key, outcome.requeueAfterMs);
  }

  #depthChanged(): void {
    this.#options.onDepthChange?.(this.#waiting.size);
  }
}
