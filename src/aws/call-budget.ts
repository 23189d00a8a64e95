import type { Logger } from '../shared/logger.ts';
import { systemClock, type Clock } from './clock.ts';

/**
 * One AWS call budget for the whole process: a token bucket that every AWS request (every SDK
 * attempt) takes a token from, whose rate adapts to throttling AIMD-style. A throttled answer halves
 * the effective rate (at most once per cooldown, down to a floor) and empties the bucket; each
 * success then adds a small constant back until the configured rate is reached again. The bucket's
 * capacity shrinks with the rate, so a lowered rate cannot be bypassed by a saved-up burst.
 */

export interface BudgetLimits {
  /** The configured (ceiling) rate in calls per second. */
  readonly maxRate: number;
  /** The floor the rate never drops below when AWS throttles. */
  readonly minRate: number;
  /** Bucket capacity at the full rate (calls that may go at once after a quiet period). */
  readonly burst: number;
  /** Multiplier applied to the rate on throttling (0 < factor < 1). */
  readonly decreaseFactor: number;
  /** Calls per second added back after each successful call. */
  readonly increasePerSuccess: number;
  /** Throttles within this time after a decrease do not decrease again (they were already in flight). */
  readonly decreaseCooldownMs: number;
}

export interface BudgetState {
  readonly tokens: number;
  readonly rate: number;
  readonly refilledAt: number;
  readonly decreasedAt: number | undefined;
}

const EPSILON = 1e-9;

/** Capacity at the current rate: the burst scaled by rate/maxRate, never below one call. */
export function buildCapacity(state: BudgetState, limits: BudgetLimits): number {
  return Math.max(1, (limits.burst * state.rate) / limits.maxRate);
}

export function planRefill(state: BudgetState, limits: BudgetLimits, now: number): BudgetState {
  const elapsed = Math.max(0, now - state.refilledAt);
  const tokens = Math.min(buildCapacity(state, limits), state.tokens + (elapsed * state.rate) / 1000);
  return { ...state, tokens, refilledAt: Math.max(now, state.refilledAt) };
}

/** Milliseconds until one token is available (0 when one is). */
export function planWaitMs(state: BudgetState): number {
  if (state.tokens >= 1 - EPSILON) return 0;
  return Math.max(1, Math.ceil(((1 - state.tokens) * 1000) / state.rate));
}

export function planThrottle(state: BudgetState, limits: BudgetLimits, now: number): BudgetState {
  const cooling = state.decreasedAt !== undefined && now - state.decreasedAt < limits.decreaseCooldownMs;
  if (cooling) return { ...state, tokens: Math.min(state.tokens, 0) };
  const rate = Math.max(limits.minRate, state.rate * limits.decreaseFactor);
  return { ...state, rate, tokens: Math.min(state.tokens, 0), decreasedAt: now };
}

export function planSuccess(state: BudgetState, limits: BudgetLimits): BudgetState {
  if (state.rate >= limits.maxRate) return state;
  return { ...state, rate: Math.min(limits.maxRate, state.rate + limits.increasePerSuccess) };
}

export interface CallBudgetOptions {
  readonly ratePerSecond: number;
  readonly burst: number;
  /** Default: a twentieth of ratePerSecond, at least 0.1 and at most ratePerSecond. */
  readonly minRatePerSecond?: number;
  /** Default 0.5. */
  readonly decreaseFactor?: number;
  /** Default: a hundredth of ratePerSecond (about 50 successes from half back to full). */
  readonly increasePerSuccess?: number;
  /** Default 1000 ms. */
  readonly decreaseCooldownMs?: number;
  readonly clock?: Clock;
  /** Rate changes are logged here (warn when lowered, info when fully restored). */
  readonly log?: Logger;
}

export interface CallBudget {
  /** Waits for a token; rejects with the signal's reason if it aborts first. Callers are served FIFO. */
  acquire(signal?: AbortSignal): Promise<void>;
  /** AWS throttled a call: lower the rate (AIMD decrease). */
  recordThrottle(): void;
  /** A call succeeded: raise the rate a little (AIMD increase). */
  recordSuccess(): void;
  /** The current effective rate in calls per second. */
  rate(): number;
  readonly limits: BudgetLimits;
  snapshot(): { readonly rate: number; readonly tokens: number; readonly waiting: number };
}

export function buildBudgetLimits(options: CallBudgetOptions): BudgetLimits {
  const positive = (name: string, value: number): number => {
    if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number, got ${value}`);
    return value;
  };
  const maxRate = positive('ratePerSecond', options.ratePerSecond);
  const limits: BudgetLimits = {
    maxRate,
    minRate: Math.min(maxRate, positive('minRatePerSecond', options.minRatePerSecond ?? Math.max(0.1, maxRate / 20))),
    burst: Math.max(1, positive('burst', options.burst)),
    decreaseFactor: positive('decreaseFactor', options.decreaseFactor ?? 0.5),
    increasePerSuccess: positive('increasePerSuccess', options.increasePerSuccess ?? maxRate / 100),
    decreaseCooldownMs: options.decreaseCooldownMs ?? 1000,
  };
  if (limits.decreaseFactor >= 1) throw new RangeError(`decreaseFactor must be below 1, got ${limits.decreaseFactor}`);
  return limits;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
}

export function createCallBudget(options: CallBudgetOptions): CallBudget {
  const limits = buildBudgetLimits(options);
  const clock = options.clock ?? systemClock;
  const log = options.log;
  let state: BudgetState = { tokens: limits.burst, rate: limits.maxRate, refilledAt: clock.now(), decreasedAt: undefined };
  const waiters: Waiter[] = [];
  let pumping = false;

  function takeNow(): boolean {
    state = planRefill(state, limits, clock.now());
    if (state.tokens < 1 - EPSILON) return false;
    state = { ...state, tokens: Math.max(0, state.tokens - 1) };
    return true;
  }

  function settle(waiter: Waiter): void {
    waiter.signal?.removeEventListener('abort', waiter.onAbort);
    waiter.resolve();
  }

  async function pump(): Promise<void> {
    if (pumping) return;
    pumping = true;
    try {
      while (waiters.length > 0) {
        if (takeNow()) {
          const next = waiters.shift();
          if (next !== undefined) settle(next);
          continue;
        }
        await clock.sleep(planWaitMs(state));
      }
    } catch (error) {
      for (const waiter of waiters.splice(0)) waiter.reject(error);
    } finally {
      pumping = false;
    }
  }

  return {
    limits,
    acquire(signal) {
      if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
      if (waiters.length === 0 && takeNow()) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const waiter: Waiter = {
          resolve,
          reject,
          signal,
          onAbort: () => {
            const index = waiters.indexOf(waiter);
            if (index >= 0) waiters.splice(index, 1);
            reject(signal?.reason as Error);
          },
        };
        signal?.addEventListener('abort', waiter.onAbort, { once: true });
        waiters.push(waiter);
        void pump();
      });
    },
    recordThrottle() {
      const previousRate = state.rate;
      const now = clock.now();
      state = planThrottle(planRefill(state, limits, now), limits, now);
      if (state.rate < previousRate) log?.warn({ rate: state.rate, previousRate }, 'aws call rate lowered');
    },
    recordSuccess() {
      const previousRate = state.rate;
      state = planSuccess(planRefill(state, limits, clock.now()), limits);
      if (state.rate >= limits.maxRate && previousRate < limits.maxRate) log?.info({ rate: state.rate }, 'aws call rate restored');
    },
    rate: () => state.rate,
    snapshot: () => ({ rate: state.rate, tokens: planRefill(state, limits, clock.now()).tokens, waiting: waiters.length }),
  };
}
