// Command-line options of `npm run bench:operator`.

export interface BenchOptions {
  /** How many AWSSecrets per case (one namespace and one controller process per case). */
  readonly counts: readonly number[];
  /** Distinct Secrets Manager versions the AWSSecrets pin (round robin). */
  readonly versions: number;
  /** Versions per Secrets Manager secret (the last one is AWSCURRENT). */
  readonly versionsPerSecret: number;
  /** Client requests in flight, for the AWSSecrets and for the direct Secrets alike. */
  readonly concurrency: number;
  /** RECONCILE_CONCURRENCY of the controller; undefined = the controller's default. */
  readonly reconcileConcurrency: number | undefined;
  /** Where the results table is appended; undefined = do not write. */
  readonly resultsFile: string | undefined;
  /** The controller runs with --cpu-prof into this folder (a .cpuprofile per case, for Chrome DevTools). */
  readonly cpuProfileDir?: string | undefined;
}

export const BENCH_USAGE = `usage: npm run bench:operator -- [options]
  --counts 1000,10000          AWSSecrets per case (default 1000,10000)
  --versions 100               distinct Secrets Manager versions they pin (default 100)
  --versions-per-secret 10     versions per secret (default 10)
  --concurrency 32             client requests in flight (default 32)
  --reconcile-concurrency N    the controller's RECONCILE_CONCURRENCY (default: its own default)
  --cpu-prof DIR               run the controller with node --cpu-prof, profiles into DIR
                               (and the API server's pprof CPU profile of the phase's first seconds)
  --no-write                   print the table only, do not append to bench/operator/results.md
`;

export type Parsed = { ok: true; options: BenchOptions } | { ok: false; error: string } | { ok: true; help: true };

function positiveInteger(flag: string, text: string | undefined, max: number): number | string {
  const value = Number(text);
  if (text === undefined || !/^\d+$/.test(text) || value < 1 || value > max) return `${flag} expects a whole number from 1 to ${max}`;
  return value;
}

/** Parses argv; `defaultResultsFile` is where results go unless --no-write. */
export function parseBenchArgs(argv: readonly string[], defaultResultsFile: string): Parsed {
  let counts: number[] = [1_000, 10_000];
  let versions = 100;
  let versionsPerSecret = 10;
  let concurrency = 32;
  let reconcileConcurrency: number | undefined;
  let resultsFile: string | undefined = defaultResultsFile;
  let cpuProfileDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] ?? '';
    if (flag === '--help' || flag === '-h') return { ok: true, help: true };
    if (flag === '--cpu-prof') {
      cpuProfileDir = argv[++i];
      if (cpuProfileDir === undefined || cpuProfileDir === '') return { ok: false, error: '--cpu-prof expects a folder' };
      continue;
    }
    if (flag === '--no-write') {
      resultsFile = undefined;
      continue;
    }
    const value = argv[++i];
    let parsed: number | string;
    switch (flag) {
      case '--counts': {
        const parts = (value ?? '').split(',').map((part) => positiveInteger('--counts', part.trim(), 1_000_000));
        const problem = parts.find((part) => typeof part === 'string');
        if (problem !== undefined || parts.length === 0) return { ok: false, error: problem ?? '--counts expects numbers' };
        counts = parts as number[];
        continue;
      }
      case '--versions':
        parsed = positiveInteger(flag, value, 100_000);
        if (typeof parsed === 'number') versions = parsed;
        break;
      case '--versions-per-secret':
        parsed = positiveInteger(flag, value, 100);
        if (typeof parsed === 'number') versionsPerSecret = parsed;
        break;
      case '--concurrency':
        parsed = positiveInteger(flag, value, 1_000);
        if (typeof parsed === 'number') concurrency = parsed;
        break;
      case '--reconcile-concurrency':
        parsed = positiveInteger(flag, value, 1_000);
        if (typeof parsed === 'number') reconcileConcurrency = parsed;
        break;
      default:
        return { ok: false, error: `unknown option ${flag}` };
    }
    if (typeof parsed === 'string') return { ok: false, error: parsed };
  }
  return { ok: true, options: { counts, versions, versionsPerSecret, concurrency, reconcileConcurrency, resultsFile, cpuProfileDir } };
}
