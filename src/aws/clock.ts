import { setTimeout as delay } from 'node:timers/promises';

/**
 * Time as the AWS access layer sees it: milliseconds and a sleep. Passed in so that unit tests drive
 * the call budget and the TTL caches with a fake clock instead of waiting.
 */
export interface Clock {
  /** Milliseconds on a monotonic-enough scale (only differences matter). */
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  sleep: (ms, signal) => delay(Math.max(0, ms), undefined, signal === undefined ? undefined : { signal }),
};
