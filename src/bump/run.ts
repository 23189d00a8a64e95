import { createAwsClients, type AwsClients } from '../aws/clients.ts';
import { AppError, isAppError, messageOf } from '../shared/errors.ts';
import { buildDescribeSource, fetchCurrentVersions, type CurrentVersionSource, type LookupResult } from './current-versions.ts';
import { displayName, parseBumpTargets, type DocumentProblem, type VersionRef } from './documents.ts';
import { applyEdits, checkRewrite } from './edit.ts';
import { collectYamlFiles, readTextFile, writeFileAtomically } from './files.ts';
import { planBumps, regionOf, versionKey, type BumpPlan } from './plan.ts';
import { BUMP_USAGE, formatChange, formatProblem, formatSummary, parseBumpArgs } from './report.ts';

export interface BumpIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}

export interface BumpDeps {
  /** Where AWSCURRENT versions come from; default DescribeSecret through createAwsClients. */
  readonly currentVersion?: CurrentVersionSource;
}

interface ScannedFile {
  readonly path: string;
  readonly text: string;
  readonly refs: readonly VersionRef[];
  readonly awsSecrets: number;
  readonly problems: readonly DocumentProblem[];
}

/** The outcome for one file: its plan, or why it is left alone. */
type FileOutcome =
  | { readonly kind: 'planned'; readonly file: ScannedFile; readonly plan: BumpPlan }
  | { readonly kind: 'failed'; readonly file: ScannedFile; readonly problems: readonly DocumentProblem[] };

/** Decides each file's outcome from its parse and the version lookups. Pure. */
export function planFiles(files: readonly ScannedFile[], lookups: LookupResult, defaultRegion: string | undefined): FileOutcome[] {
  return files.map((file) => {
    const problems: DocumentProblem[] = [...file.problems];
    for (const ref of file.refs) {
      const failure = lookups.failures.get(versionKey(regionOf(ref, defaultRegion), ref.secretId));
      if (failure !== undefined) {
        problems.push({ code: failure.code, message: `AWSSecret ${displayName(ref.namespace, ref.name)} ${ref.field}: ${failure.message}` });
      }
    }
    if (problems.length > 0) return { kind: 'failed', file, problems };
    return { kind: 'planned', file, plan: planBumps(file.refs, lookups.versions, defaultRegion) };
  });
}

async function scanFiles(paths: readonly string[], io: BumpIo): Promise<{ scanned: ScannedFile[]; errors: number; files: number }> {
  const { files, problems } = await collectYamlFiles(paths);
  for (const problem of problems) io.stderr.write(`${formatProblem(problem.path, problem.error)}\n`);
  let errors = problems.length;
  const scanned: ScannedFile[] = [];
  for (const path of files) {
    let text: string;
    try {
      text = await readTextFile(path);
    } catch (error) {
      io.stderr.write(`${formatProblem(path, asAppError(error))}\n`);
      errors++;
      continue;
    }
    // Files that cannot hold an AWSSecret (Helm templates, other tools' YAML) are not parsed at all.
    if (!text.includes('AWSSecret')) continue;
    scanned.push({ path, text, ...parseBumpTargets(text) });
  }
  return { scanned, errors, files: files.length };
}

function asAppError(error: unknown): AppError {
  return isAppError(error) ? error : new AppError('ERR_BUMP_INTERNAL', messageOf(error), { cause: error });
}

/** Looks up the AWSCURRENT version of every (region, secretId) the clean files name, once each. */
async function lookUp(scanned: readonly ScannedFile[], defaultRegion: string | undefined, deps: BumpDeps): Promise<LookupResult> {
  const targets = scanned
    .filter((file) => file.problems.length === 0)
    .flatMap((file) => file.refs.map((ref) => ({ region: regionOf(ref, defaultRegion), secretId: ref.secretId })));
  let aws: AwsClients | undefined;
  const source = deps.currentVersion ?? buildDescribeSource((aws = createAwsClients(defaultRegion)));
  try {
    return await fetchCurrentVersions(source, targets);
  } finally {
    aws?.destroy();
  }
}

/** Rewrites one file when the plan changes it; returns an error instead of throwing. */
async function writePlanned(file: ScannedFile, plan: BumpPlan): Promise<AppError | undefined> {
  const after = applyEdits(file.text, plan.edits);
  const reason = checkRewrite(file.text, after, plan.changes);
  if (reason !== undefined) {
    return new AppError('ERR_BUMP_REWRITE_FAILED', `the rewritten file did not check out (${reason}); the file was not changed`);
  }
  if (after === file.text) return undefined;
  try {
    await writeFileAtomically(file.path, after);
    return undefined;
  } catch (error) {
    return asAppError(error);
  }
}

/**
 * `piggy bump [--check] [files or dirs…]`. `env` is the process environment handed over by the
 * entry point (AWS_REGION is the default region; the AWS SDK reads its own variables). Returns the
 * exit code: 0 up to date or updated, 1 stale under --check, 2 any error (usage, read, YAML, AWS,
 * write). Files with an error are never written; other files still are.
 */
export async function runBump(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: BumpIo,
  deps: BumpDeps = {},
): Promise<number> {
  try {
    return await bump(argv, env, io, deps);
  } catch (error) {
    // Never a stack trace: the code and the message, on one line.
    io.stderr.write(`${formatProblem('piggy bump', asAppError(error))}\n`);
    return 2;
  }
}

async function bump(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: BumpIo, deps: BumpDeps): Promise<number> {
  const args = parseBumpArgs(argv);
  if (!args.ok) {
    io.stderr.write(`piggy bump: ${args.error}\n${BUMP_USAGE}`);
    return 2;
  }
  if (args.help) {
    io.stdout.write(BUMP_USAGE);
    return 0;
  }
  const region = env.AWS_REGION?.trim();
  const defaultRegion = region === undefined || region === '' ? undefined : region;

  const { scanned, errors: readErrors, files } = await scanFiles(args.paths, io);
  const lookups = await lookUp(scanned, defaultRegion, deps);
  let errors = readErrors;
  let stale = 0;
  let staleFiles = 0;
  let written = 0;
  for (const outcome of planFiles(scanned, lookups, defaultRegion)) {
    const { path } = outcome.file;
    if (outcome.kind === 'failed') {
      for (const problem of outcome.problems) io.stderr.write(`${formatProblem(path, problem, problem.line)}\n`);
      errors += outcome.problems.length;
      continue;
    }
    const { changes } = outcome.plan;
    if (changes.length === 0) continue;
    if (!args.check) {
      const failure = await writePlanned(outcome.file, outcome.plan);
      if (failure !== undefined) {
        io.stderr.write(`${formatProblem(path, failure)}\n`);
        errors++;
        continue;
      }
      written++;
    }
    for (const change of changes) io.stdout.write(`${formatChange(path, change)}\n`);
    stale += changes.length;
    staleFiles++;
  }

  const refs = scanned.reduce((sum, file) => sum + file.refs.length, 0);
  const awsSecrets = scanned.reduce((sum, file) => sum + file.awsSecrets, 0);
  io.stdout.write(`${formatSummary({ check: args.check, files, awsSecrets, refs, stale, staleFiles, written, errors })}\n`);
  if (errors > 0) return 2;
  return args.check && stale > 0 ? 1 : 0;
}
