/**
 * Named readiness checks that components flip as they start and stop, each with the reason it is
 * not ready. `/readyz` is ready only when every check is ready and the process is not draining.
 * A probe is a check computed when asked (for example a certificate's expiry).
 */
export interface ReadinessSnapshot {
  readonly ready: boolean;
  readonly draining: boolean;
  readonly checks: Record<string, boolean>;
  /** Why each check that is not ready is not (only those). */
  readonly reasons: Record<string, string>;
}

/** A computed check: undefined when ready, else the reason it is not. */
export type ReadinessProbe = () => string | undefined;

export class Readiness {
  readonly #checks = new Map<string, string | undefined>();
  readonly #probes = new Map<string, ReadinessProbe>();
  #draining = false;

  /** A check that starts not ready (with `reason`) until set. */
  register(name: string, reason = 'starting'): void {
    if (!this.#checks.has(name)) this.#checks.set(name, reason);
  }

  set(name: string, ready: boolean, reason?: string): void {
    this.#checks.set(name, ready ? undefined : (reason ?? 'not ready'));
  }

  probe(name: string, probe: ReadinessProbe): void {
    this.#probes.set(name, probe);
  }

  drain(): void {
    this.#draining = true;
  }

  get ready(): boolean {
    return this.snapshot().ready;
  }

  snapshot(): ReadinessSnapshot {
    const reasons: Record<string, string | undefined> = Object.fromEntries(this.#checks);
    for (const [name, probe] of this.#probes) reasons[name] = probe();
    const checks = Object.fromEntries(Object.entries(reasons).map(([name, reason]) => [name, reason === undefined]));
    const failing = Object.fromEntries(Object.entries(reasons).filter((entry): entry is [string, string] => entry[1] !== undefined));
    if (this.#draining) failing.shutdown = 'draining before shutdown';
    return { ready: Object.keys(failing).length === 0, draining: this.#draining, checks, reasons: failing };
  }
}
