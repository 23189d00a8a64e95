// Pure measurement helpers: the container log's timestamps (`kubectl logs --timestamps`: containerd
// stamps each line when it reads it from the container's stdout/stderr, nanosecond RFC 3339), the
// app's marker line and the launcher's `starting the app` line in it, and nearest-rank percentiles.

/** Milliseconds since the epoch (fractional) of an RFC 3339 timestamp with up to 9 fraction digits. */
export function parseTimestamp(text: string): number | undefined {
  const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(text);
  if (match === null) return undefined;
  const whole = Date.parse(`${match[1] ?? ''}${match[3] ?? ''}`);
  if (Number.isNaN(whole)) return undefined;
  return whole + Number(`0.${match[2] ?? '0'}`) * 1000;
}

export interface LogTimes {
  /** When the app printed MARKER. */
  readonly appAt?: number;
  /** When the launcher logged `starting the app` (just before its execve), and its own `ms` (process start → execve). */
  readonly launcherExecAt?: number;
  readonly launcherMs?: number;
}

/** The times of the lines that matter in a `--timestamps` log; lines this bench does not know are ignored. */
export function parseLogTimes(log: string, marker: string): LogTimes {
  let appAt: number | undefined;
  let launcherExecAt: number | undefined;
  let launcherMs: number | undefined;
  for (const line of log.split('\n')) {
    const space = line.indexOf(' ');
    if (space < 0) continue;
    const at = parseTimestamp(line.slice(0, space));
    const text = line.slice(space + 1);
    if (at === undefined) continue;
    if (text === marker) appAt ??= at;
    else if (text.startsWith('{')) {
      try {
        const entry = JSON.parse(text) as { msg?: unknown; ms?: unknown };
        if (entry.msg === 'starting the app') {
          launcherExecAt ??= at;
          if (typeof entry.ms === 'number') launcherMs ??= entry.ms;
        }
      } catch {
        // not the launcher's JSON
      }
    }
  }
  return { ...(appAt === undefined ? {} : { appAt }), ...(launcherExecAt === undefined ? {} : { launcherExecAt }), ...(launcherMs === undefined ? {} : { launcherMs }) };
}

/** The nearest-rank P-th percentile of VALUES (p99 of 100 values is the 99th smallest); NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}

/** One measured pod; every time is ms on this machine's clock, `applyAt` the moment before the first create request. */
export interface PodSample {
  readonly name: string;
  readonly node: string;
  readonly applyAt: number;
  /** The watch first saw the app container running. */
  readonly runningAt: number;
  /** The watch first saw the first init container running (or already done). */
  readonly initRunningAt?: number | undefined;
  /** The watch first saw every init container terminated (injected: the launcher copied). */
  readonly initDoneAt?: number | undefined;
  /** The app's marker line. */
  readonly appAt: number;
  readonly launcherExecAt?: number | undefined;
  readonly launcherMs?: number | undefined;
  /** `awssecret-sync`: the watch first saw the generated Secret. */
  readonly secretAt?: number | undefined;
  /** Injected: bytes in the pod's launcher emptyDir on its node while it ran (0 with an image volume). */
  readonly launcherBytes?: number | undefined;
}

export interface Stat {
  readonly p50: number;
  readonly p99: number;
}

export const statOf = (values: readonly number[]): Stat => ({ p50: percentile(values, 50), p99: percentile(values, 99) });

export interface CaseStats {
  readonly count: number;
  readonly byNode: Readonly<Record<string, number>>;
  /** apply → the app's marker line. */
  readonly app: Stat;
  /** apply → the app container running (as the watch saw the kubelet's status). */
  readonly running: Stat;
  /** apply → the init container running (injected). */
  readonly initRunning?: Stat;
  /** apply → the init container done (injected). */
  readonly initDone?: Stat;
  /** apply → the launcher's execve (injected). */
  readonly launcherExec?: Stat;
  /** The launcher's own start → execve figure (injected). */
  readonly launcherMs?: Stat;
  /** apply → the generated Secret (awssecret-sync). */
  readonly secret?: Stat;
  /** Injected: the launcher bytes written per pod, fewest and most (0 with an image volume). */
  readonly launcherBytes?: { readonly min: number; readonly max: number };
}

function optional(samples: readonly PodSample[], pick: (s: PodSample) => number | undefined): Stat | undefined {
  const values = samples.map(pick).filter((v): v is number => v !== undefined);
  return values.length === samples.length && values.length > 0 ? statOf(values) : undefined;
}

export function summarise(samples: readonly PodSample[]): CaseStats {
  const byNode: Record<string, number> = {};
  for (const s of samples) byNode[s.node] = (byNode[s.node] ?? 0) + 1;
  const initRunning = optional(samples, (s) => (s.initRunningAt === undefined ? undefined : s.initRunningAt - s.applyAt));
  const initDone = optional(samples, (s) => (s.initDoneAt === undefined ? undefined : s.initDoneAt - s.applyAt));
  const launcherExec = optional(samples, (s) => (s.launcherExecAt === undefined ? undefined : s.launcherExecAt - s.applyAt));
  const launcherMs = optional(samples, (s) => s.launcherMs);
  const secret = optional(samples, (s) => (s.secretAt === undefined ? undefined : s.secretAt - s.applyAt));
  const bytes = samples.map((s) => s.launcherBytes).filter((v): v is number => v !== undefined);
  return {
    count: samples.length,
    byNode,
    app: statOf(samples.map((s) => s.appAt - s.applyAt)),
    running: statOf(samples.map((s) => s.runningAt - s.applyAt)),
    ...(initRunning === undefined ? {} : { initRunning }),
    ...(initDone === undefined ? {} : { initDone }),
    ...(launcherExec === undefined ? {} : { launcherExec }),
    ...(launcherMs === undefined ? {} : { launcherMs }),
    ...(secret === undefined ? {} : { secret }),
    ...(bytes.length === 0 ? {} : { launcherBytes: { min: Math.min(...bytes), max: Math.max(...bytes) } }),
  };
}
