/**
 * A size-bounded LRU map with per-entry expiry and single-flight loading: concurrent loads of one
 * key share one promise, so 100 admissions of one image cost one registry round. Failures are not
 * cached. Time comes from the `now` passed in.
 */
export type CacheOutcome = 'hit' | 'miss' | 'coalesced';

interface Entry<V> {
  readonly value: V;
  readonly expiresAt: number;
}

export class LoadingCache<V> {
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry<V>>();
  readonly #loading = new Map<string, Promise<V>>();

  constructor(maxEntries: number, now: () => number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('the cache needs a positive integer size');
    this.#maxEntries = maxEntries;
    this.#now = now;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The fresh value, marked as most recently used; undefined when missing or expired. */
  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined || entry.expiresAt <= this.#now()) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: V, ttlMs: number): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAt: this.#now() + ttlMs });
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
  }

  /**
   * The fresh value, or the result of the one in-flight load for the key, or a new load. The loader
   * receives the expired value (if still held) to revalidate cheaply. `ttlOf` sets each value's life.
   */
  async load(
    key: string,
    loader: (stale: V | undefined) => Promise<V>,
    ttlOf: (value: V) => number,
  ): Promise<{ value: V; outcome: CacheOutcome }> {
    const fresh = this.get(key);
    if (fresh !== undefined) return { value: fresh, outcome: 'hit' };
    const pending = this.#loading.get(key);
    if (pending !== undefined) return { value: await pending, outcome: 'coalesced' };
    const stale = this.#entries.get(key)?.value;
    const promise = (async () => {
      try {
        const value = await loader(stale);
        this.set(key, value, ttlOf(value));
        return value;
      } finally {
        this.#loading.delete(key);
      }
    })();
    this.#loading.set(key, promise);
    return { value: await promise, outcome: 'miss' };
  }
}
