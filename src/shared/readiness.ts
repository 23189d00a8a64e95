/**
 * Named readiness checks that components flip as they start and stop. `/readyz` is ready only when
 * every registered check is ready and the process is not draining.
 */
export class Readiness {
  readonly #checks = new Map<string, boolean>();
  #draining = false;

  register(name: string): void {
    if (!this.#checks.has(name)) this.#checks.set(name, false);
  }

  set(name: string, ready: boolean): void {
    this.#checks.set(name, ready);
  }

  drain(): void {
    this.#draining = true;
  }

  get ready(): boolean {
    return !this.#draining && [...this.#checks.values()].every(Boolean);
  }

  snapshot(): { readonly ready: boolean; readonly draining: boolean; readonly checks: Record<string, boolean> } {
    return { ready: this.ready, draining: this.#draining, checks: Object.fromEntries(this.#checks) };
  }
}
