import type { AppError } from '../shared/errors.ts';
import { displayName } from './documents.ts';
import type { BumpChange } from './plan.ts';

export const BUMP_USAGE = `usage: piggy bump [--check] [file or directory ...]

Rewrites spec.{stringDataFrom,dataFrom}.secretsManagerSecretRef.versionId in AWSSecret manifests
(piggysec.com/* and mumoshu.github.io/*) to each secret's current AWSCURRENT version, changing
nothing else in the files. Directories are searched recursively for *.yaml and *.yml; with no
path, the current directory is.

  --check   change nothing; exit 1 when a versionId is stale

exit codes: 0 up to date (or updated), 1 stale (--check), 2 error
`;

export type BumpArgs =
  | { readonly ok: true; readonly help: boolean; readonly check: boolean; readonly paths: readonly string[] }
  | { readonly ok: false; readonly error: string };

/** `[--check] [--] [paths…]`; no path means the current directory. */
export function parseBumpArgs(argv: readonly string[]): BumpArgs {
  let check = false;
  let help = false;
  const paths: string[] = [];
  let options = true;
  for (const arg of argv) {
    if (options && arg === '--') options = false;
    else if (options && arg === '--check') check = true;
    else if (options && (arg === '--help' || arg === '-h')) help = true;
    else if (options && arg.startsWith('-') && arg !== '-') return { ok: false, error: `unknown option ${arg}` };
    else if (arg === '-') return { ok: false, error: 'reading standard input is not supported: name a file' };
    else paths.push(arg);
  }
  return { ok: true, help, check, paths: paths.length > 0 ? paths : ['.'] };
}

/** `path: AWSSecret ns/name field.secretsManagerSecretRef.versionId OLD -> NEW` */
export function formatChange(path: string, change: BumpChange): string {
  const from = change.from ?? '(none)';
  return `${path}: AWSSecret ${displayName(change.namespace, change.name)} ${change.field}.secretsManagerSecretRef.versionId ${from} -> ${change.to}`;
}

/** `path[:line]: CODE message` — one line, no stack trace. */
export function formatProblem(path: string, error: Pick<AppError, 'code' | 'message'>, line?: number): string {
  const message = error.message.replaceAll(/\s*\n\s*/g, ' ');
  return `${path}${line === undefined ? '' : `:${line}`}: ${error.code} ${message}`;
}

export interface BumpTotals {
  readonly check: boolean;
  readonly files: number;
  readonly awsSecrets: number;
  readonly refs: number;
  readonly stale: number;
  readonly staleFiles: number;
  readonly written: number;
  readonly errors: number;
}

const plural = (count: number, one: string, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;

export function formatSummary(totals: BumpTotals): string {
  const scope = `${plural(totals.refs, 'versionId')} of ${plural(totals.awsSecrets, 'AWSSecret')} in ${plural(totals.files, 'file')}`;
  const errors = totals.errors > 0 ? `; ${plural(totals.errors, 'error')} (files with errors were not changed)` : '';
  if (totals.stale === 0) return `piggy bump: ${scope}: all current${errors}`;
  if (totals.check) {
    return `piggy bump: ${scope}: ${plural(totals.stale, 'stale versionId')} in ${plural(totals.staleFiles, 'file')}; run piggy bump to update${errors}`;
  }
  return `piggy bump: ${scope}: updated ${plural(totals.stale, 'versionId')} in ${plural(totals.written, 'file')}${errors}`;
}
