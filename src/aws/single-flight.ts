/**
 * Concurrent calls with the same key share one in-flight promise: 1,000 callers asking for the same
 * thing while it is being fetched cost one fetch. Nothing is remembered once the promise settles, so
 * a failure is never cached: the next call after it starts a new fetch.
 */
export class SingleFlight<K, V> {
  readonly #flights = new Map<K, Promise<V>>();

  /** Runs `fn` unless a call for `key` is already in flight, in which case its promise is shared. */
  run(key: K, fn: () => Promise<V>): Promise<V> {
    const current = this.#flights.get(key);
    if (current !== undefined) return current;
    // fn starts on the next microtask, after the flight is registered, so even a synchronous throw
    // settles a registered flight that is then removed.
    const flight: Promise<V> = Promise.resolve()
      .then(fn)
      .finally(() => {
        if (this.#flights.get(key) === flight) this.#flights.delete(key);
      });
    this.#flights.set(key, flight);
    return flight;
  }

  /** Whether a call for `key` is in flight now. */
  has(key: K): boolean {
    return this.#flights.has(key);
  }

  /** Number of keys in flight. */
  get size(): number {
    return this.#flights.size;
  }
}
