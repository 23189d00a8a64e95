/**
 * Attempts with exponential backoff and jitter (PIGGY_NUMBER_OF_RETRY = total attempts). Transient
 * failures (network, timeouts, 429, 5xx, AWS throttling) are retried; terminal ones (refused,
 * not found, bad configuration) end the loop at once. No sleep after the last attempt.
 */
import { isTransient } from '../shared/errors.ts';

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_CAP_MS = 10_000;

/** Delay after the n-th failed attempt (1-based): half of 500 ms × 2^(n-1) (capped at 10 s) plus up to as much again at random. */
export function planBackoffDelay(failedAttempt: number, random: number): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, failedAttempt - 1));
  return Math.round(ceiling / 2 + (ceiling / 2) * Math.min(1, Math.max(0, random)));
}

export interface RetryDeps {
  readonly sleep: (ms: number) => Promise<void>;
  readonly random: () => number;
  /** Called before each wait with the failed attempt (1-based), the coming delay and the error. */
  readonly onRetry?: (attempt: number, delayMs: number, error: unknown) => void;
}

export async function runWithRetries<T>(attempts: number, fn: (attempt: number) => Promise<T>, deps: RetryDeps): Promise<T> {
  const total = Math.max(1, Math.floor(attempts));
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt >= total || !isTransient(error)) throw error;
      const delay = planBackoffDelay(attempt, deps.random());
      deps.onRetry?.(attempt, delay, error);
      await deps.sleep(delay);
    }
  }
}
