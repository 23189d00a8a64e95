import type { Clock } from './clock.ts';

/**
 * A small time-to-live map for answers that can change (stage → version mappings, SSM parameters).
 * Expired entries are never returned; they are swept when entries are added, so keys nobody asks
 * for again do not pile up.
 */
export class TtlCache<V> {
  readonly #entries = new Map<string, { readonly value: V; readonly expiresAt: number }>();
  readonly #clock: Clock;
  readonly #ttlMs: number;
  #nextSweepAt = 0;

  constructor(clock: Clock, ttlMs: number) {
    if (!Number.isFinite(ttlMs) || ttlMs < 0) throw new RangeError(`ttlMs must be a finite number >= 0, got ${ttlMs}`);
    this.#clock = clock;
    this.#ttlMs = ttlMs;
  }

  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (this.#clock.now() >= entry.expiresAt) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Stores the value for ttlMs from now; a ttl of 0 stores nothing. */
  set(key: string, value: V): void {
    if (this.#ttlMs === 0) return;
    const now = this.#clock.now();
    this.#sweep(now);
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAt: now + this.#ttlMs });
  }

  delete(key: string): boolean {
    return this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }

  #sweep(now: number): void {
    if (now < this.#nextSweepAt) return;
    this.#nextSweepAt = now + this.#ttlMs;
    for (const [key, entry] of this.#entries) {
      if (now >= entry.expiresAt) this.#entries.delete(key);
    }
  }
}
