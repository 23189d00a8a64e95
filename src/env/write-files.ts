/**
 * File mode, `piggy-env write-files` (the `piggy-secret-files` init container): every PIGGY_FILES
 * entry is read with the pod's own credentials in the entry's region (AWSCURRENT) and written
 * verbatim to its path with PIGGY_FILE_MODE, atomically (temp file + rename). All secrets are read
 * before any file is written; any failure exits non-zero, so the pod never starts without its files.
 */
import { basename, dirname, join } from 'node:path';
import { AppError, isAppError, messageOf } from '../shared/errors.ts';
import { FILE_MODE_GROUP, FILE_MODE_OWNER, FILE_MODE_POD, LAUNCHER_ENV, parseFileSpecs, type FileSecretSpec } from '../shared/injection-contract.ts';
import { readDefaultRegion } from './aws-call.ts';
import { fetchAwsCredentials, type CredentialDeps, type ResolvedCredentials } from './aws-credentials.ts';
import { DEFAULT_STAGE, fetchSecretPayload } from './aws-secrets.ts';
import { builtins } from './builtins.ts';
import { ENV_ERRORS, EXIT } from './error-codes.ts';
import { createEnvLogger } from './log.ts';
import { runWithRetries } from './retry.ts';
import { buildFileContent } from './secret-values.ts';
import { buildLauncherSettings } from './settings.ts';

export interface FileModes {
  readonly file: number;
  readonly dir: number;
}

/** PIGGY_FILE_MODE → file and parent-folder modes; undefined when it is not 0400, 0440 or 0444. */
export function parseFileModes(text: string | undefined): FileModes | undefined {
  const value = text?.trim() || FILE_MODE_OWNER;
  if (value === FILE_MODE_OWNER) return { file: 0o400, dir: 0o700 };
  if (value === FILE_MODE_GROUP) return { file: 0o440, dir: 0o750 };
  if (value === FILE_MODE_POD) return { file: 0o444, dir: 0o755 };
  return undefined;
}

export async function writeFileAtomically(path: string, content: Buffer, modes: FileModes): Promise<void> {
  const { mkdir, open, rename, rm } = builtins.fs();
  await mkdir(dirname(path), { recursive: true, mode: modes.dir });
  const temp = join(dirname(path), `.${basename(path)}.piggy-${builtins.crypto().randomBytes(6).toString('hex')}`);
  try {
    const handle = await open(temp, 'wx', modes.file);
    try {
      await handle.writeFile(content);
      await handle.chmod(modes.file);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw new AppError(ENV_ERRORS.writeFile, `cannot write ${path}: ${(error as { code?: string }).code ?? messageOf(error)}`, { cause: error });
  }
}

export interface WriteFilesDeps extends CredentialDeps {
  readonly random: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly elapsed: () => number;
  readonly writeLog?: (line: string) => void;
}

export async function runWriteFiles(deps: WriteFilesDeps): Promise<number> {
  const { settings, warnings } = buildLauncherSettings(deps.env, { standalone: true, retry: undefined, initialDelay: undefined });
  const log = createEnvLogger({ debug: settings.debug, ...(deps.writeLog === undefined ? {} : { write: deps.writeLog }) });
  for (const warning of warnings) log.warn('ignored setting', { error: warning });
  const specs = parseFileSpecs(deps.env[LAUNCHER_ENV.files]);
  const modes = parseFileModes(deps.env[LAUNCHER_ENV.fileMode]);
  if (specs === undefined || modes === undefined) {
    const error = specs === undefined ? `${LAUNCHER_ENV.files} must be a JSON array of {secretId, region, path}` : `${LAUNCHER_ENV.fileMode} must be 0400 or 0440`;
    log.error('bad file-mode configuration', { code: ENV_ERRORS.config, error });
    return EXIT.failure;
  }
  if (settings.initialDelayMs > 0) await deps.sleep(settings.initialDelayMs);
  let credentials: Promise<ResolvedCredentials> | undefined;
  const credentialsFor = (spec: FileSecretSpec) =>
    (credentials ??= fetchAwsCredentials(readDefaultRegion(deps.env) ?? spec.region, deps).catch((error: unknown) => {
      credentials = undefined;
      throw error;
    }));
  const read = (spec: FileSecretSpec) =>
    runWithRetries(
      settings.attempts,
      async () => {
        const { credentials: resolved } = await credentialsFor(spec);
        const payload = await fetchSecretPayload({ secretId: spec.secretId, version: { kind: 'stage', value: DEFAULT_STAGE }, region: spec.region, credentials: resolved }, deps);
        return buildFileContent(spec.secretId, payload);
      },
      {
        sleep: deps.sleep,
        random: deps.random,
        onRetry: (attempt, delayMs, error) => log.warn('attempt failed, retrying', { secretId: spec.secretId, attempt, delayMs, error: messageOf(error) }),
      },
    );
  const results = await Promise.allSettled(specs.map(read));
  const contents: Buffer[] = [];
  for (const [index, result] of results.entries()) {
    const spec = specs[index];
    if (result.status === 'fulfilled') contents.push(result.value);
    else log.error('could not read secret', { secretId: spec?.secretId, path: spec?.path, code: isAppError(result.reason) ? result.reason.code : undefined, error: messageOf(result.reason) });
  }
  if (contents.length !== specs.length) return EXIT.failure;
  try {
    for (const [index, spec] of specs.entries()) await writeFileAtomically(spec.path, contents[index] ?? Buffer.alloc(0), modes);
  } catch (error) {
    log.error('could not write secret file', { code: isAppError(error) ? error.code : undefined, error: messageOf(error) });
    return EXIT.failure;
  }
  log.info('wrote secret files', { files: specs.length, ms: Math.round(deps.elapsed()) });
  return 0;
}
