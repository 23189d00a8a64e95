// Command-line options of `npm run bench:pods`.
import { CASES, type CaseName } from './pods.ts';

export interface PodsOptions {
  /** Measured pods per case. */
  readonly pods: number;
  /** Pods created at once (one batch); the batch is deleted and gone before the next starts. */
  readonly parallel: number;
  /** Unmeasured pods per case and node first (image pulls, the caches' first fill). */
  readonly warmup: number;
  readonly cases: readonly CaseName[];
  /** Where the results are appended; undefined = do not write. */
  readonly resultsFile: string | undefined;
}

export const PODS_USAGE = `usage: npm run bench:pods -- [options]
  --pods 100          measured pods per case (default 100)
  --parallel 5        pods started at once, one case per batch, cases taking turns (default 5)
  --warmup 1          unmeasured pods per case and node first (default 1)
  --cases ${CASES.join(',')}
                      the cases (default all; plain is always included: it is the baseline)
  --no-write          print the table only, do not append to bench/pods/results.md
`;

export type Parsed = { ok: true; options: PodsOptions } | { ok: false; error: string } | { ok: true; help: true };

function wholeNumber(flag: string, text: string | undefined, min: number, max: number): number | string {
  const value = Number(text);
  if (text === undefined || !/^\d+$/.test(text) || value < min || value > max) return `${flag} expects a whole number from ${min} to ${max}`;
  return value;
}

export function parsePodsArgs(argv: readonly string[], defaultResultsFile: string): Parsed {
  const numbers: Record<'--pods' | '--parallel' | '--warmup', number> = { '--pods': 100, '--parallel': 5, '--warmup': 1 };
  const limits: Record<keyof typeof numbers, [number, number]> = { '--pods': [1, 10_000], '--parallel': [1, 100], '--warmup': [0, 10] };
  let cases: CaseName[] = [...CASES];
  let resultsFile: string | undefined = defaultResultsFile;
  for (let i = 0; i < argv.length; i++) {
    const [flag = '', inline] = (argv[i] ?? '').split('=', 2);
    if (flag === '--help' || flag === '-h') return { ok: true, help: true };
    if (flag === '--no-write') {
      resultsFile = undefined;
      continue;
    }
    const value = inline ?? argv[++i];
    if (flag === '--cases') {
      const names = (value ?? '').split(',').map((name) => name.trim()).filter((name) => name !== '');
      const unknown = names.find((name) => !(CASES as readonly string[]).includes(name));
      if (unknown !== undefined || names.length === 0) return { ok: false, error: `--cases expects some of ${CASES.join(',')}` };
      cases = CASES.filter((name) => name === 'plain' || names.includes(name));
      continue;
    }
    if (!(flag in numbers)) return { ok: false, error: `unknown option ${flag}` };
    const key = flag as keyof typeof numbers;
    const parsed = wholeNumber(flag, value, ...limits[key]);
    if (typeof parsed === 'string') return { ok: false, error: parsed };
    numbers[key] = parsed;
  }
  return { ok: true, options: { pods: numbers['--pods'], parallel: numbers['--parallel'], warmup: numbers['--warmup'], cases, resultsFile } };
}
