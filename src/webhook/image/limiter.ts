/** A counting semaphore: at most `max` tasks run at once, the rest wait in FIFO order. */
export class Limiter {
  readonly #max: number;
  #active = 0;
  readonly #waiting: { start: () => void; cancel: () => void }[] = [];

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError('the limiter needs a positive integer maximum');
    this.#max = max;
  }

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** Runs `task` when a slot is free; an abort while waiting rejects with the signal's reason. */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.#acquire(signal);
    try {
      return await task();
    } finally {
      this.#release();
    }
  }

  #acquire(signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    if (this.#active < this.#max) {
      this.#active += 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.#waiting.indexOf(waiter);
        if (index !== -1) this.#waiting.splice(index, 1);
        reject(signal?.reason as Error);
      };
      const waiter = {
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          this.#active += 1;
          resolve();
        },
        cancel: onAbort,
      };
      this.#waiting.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #release(): void {
    this.#active -= 1;
    this.#waiting.shift()?.start();
  }
}
