/**
 * Bounds the /secret requests being served: at most `maxInFlight` at once, up to `maxQueued` more
 * waiting in arrival order for at most `maxWaitMs`; beyond that (or after the wait) the caller is told
 * to come back (429). A burst of pods starting together is smoothed instead of refused, and the API
 * server never sees more than `maxInFlight` TokenReviews from this process at once.
 */
export type Release = () => void;

export interface Limiter {
  /** A release function once a slot is free; undefined when the queue is full or the wait timed out. */
  acquire(): Promise<Release | undefined>;
  inFlight(): number;
  queued(): number;
}

export interface LimiterOptions {
  readonly maxInFlight: number;
  readonly maxQueued: number;
  readonly maxWaitMs: number;
}

interface Waiter {
  readonly grant: (release: Release | undefined) => void;
  timer: NodeJS.Timeout | undefined;
}

export function createLimiter(options: LimiterOptions): Limiter {
  let active = 0;
  const waiting: Waiter[] = [];

  const release = (): Release => {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = waiting.shift();
      if (next === undefined) {
        active -= 1;
        return;
      }
      clearTimeout(next.timer);
      next.grant(release()); // the slot passes straight to the next waiter
    };
  };

  return {
    acquire() {
      if (active < options.maxInFlight) {
        active += 1;
        return Promise.resolve(release());
      }
      if (waiting.length >= options.maxQueued) return Promise.resolve(undefined);
      return new Promise((resolve) => {
        const waiter: Waiter = { grant: resolve, timer: undefined };
        waiter.timer = setTimeout(() => {
          const index = waiting.indexOf(waiter);
          if (index !== -1) waiting.splice(index, 1);
          resolve(undefined);
        }, options.maxWaitMs);
        waiting.push(waiter);
      });
    },
    inFlight: () => active,
    queued: () => waiting.length,
  };
}
