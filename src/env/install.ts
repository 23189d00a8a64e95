/**
 * `piggy-env install <dir> [--mount-path <path>]` (the `install-piggy-env` init container): copies
 * the launcher and its runtime (the `lib/` folder beside it: the glibc loader and the shared
 * libraries Node links against) into `<dir>`, so it runs in any Linux x86-64 image. The executable's
 * PT_INTERP names the loader by absolute path; the build reserves room in it, and install rewrites
 * it to `<mount path>/lib/<loader>`, where the containers that run it see the folder (`<dir>` unless
 * told: the init container mounts the volume at /piggy-volume, the apps at /piggy), so any folder
 * works (the libraries are found through RPATH `$ORIGIN/lib`). Libraries go first,
 * the executable last, each by temp name + rename: `<dir>/piggy-env` appears complete or not at all.
 */
import { basename, dirname, join, resolve } from 'node:path';
import { AppError, messageOf } from '../shared/errors.ts';
import { LAUNCHER_INSTALL_MODE } from '../shared/injection-contract.ts';
import { builtins } from './builtins.ts';
import { ENV_ERRORS } from './error-codes.ts';
import { buildInterpreterBytes, readElfHead, readInterpreterPath } from './elf.ts';

export const LAUNCHER_FILE_NAME = 'piggy-env';
export const RUNTIME_DIR_NAME = 'lib';

const tempName = (name: string) => `.${name}.piggy-${builtins.crypto().randomBytes(6).toString('hex')}`;

async function readAt(path: string, offset: number, length: number): Promise<Buffer> {
  const handle = await builtins.fs().open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, offset);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

async function listRuntime(dir: string): Promise<string[]> {
  try {
    return (await builtins.fs().readdir(dir, { withFileTypes: true })).filter((entry) => entry.isFile()).map((entry) => entry.name);
  } catch {
    return [];
  }
}

/**
 * Points the executable at `<targetDir>/lib/<loader>` when its loader is one we ship (its name is
 * among `shipped`). Returns the loader path written, or undefined when nothing had to change.
 */
export async function relocateInterpreter(executable: string, targetDir: string, shipped: readonly string[]): Promise<string | undefined> {
  let elf = readElfHead(await readAt(executable, 0, 4096));
  if (elf.kind === 'short') elf = readElfHead(await readAt(executable, 0, elf.needed));
  if (elf.kind !== 'elf' || elf.interpreter === undefined) return undefined;
  const { offset, size } = elf.interpreter;
  const current = readInterpreterPath(await readAt(executable, offset, size));
  if (!shipped.includes(basename(current))) return undefined;
  const wanted = join(targetDir, RUNTIME_DIR_NAME, basename(current));
  if (wanted === current) return undefined;
  const bytes = buildInterpreterBytes(wanted, size);
  if (bytes === undefined) throw new AppError(ENV_ERRORS.install, `install folder path too long: ${wanted} must be shorter than ${size} bytes`);
  const handle = await builtins.fs().open(executable, 'r+');
  try {
    await handle.write(bytes, 0, bytes.length, offset);
  } finally {
    await handle.close();
  }
  return wanted;
}

async function installRuntime(sourceDir: string, targetDir: string, files: readonly string[]): Promise<void> {
  const { chmod, copyFile, mkdir, rename, rm } = builtins.fs();
  const staged = join(targetDir, tempName(RUNTIME_DIR_NAME));
  await mkdir(staged, { mode: 0o755 });
  for (const file of files) {
    await copyFile(join(sourceDir, file), join(staged, file));
    await chmod(join(staged, file), 0o755);
  }
  await chmod(staged, 0o755);
  const final = join(targetDir, RUNTIME_DIR_NAME);
  const old = join(targetDir, tempName(`${RUNTIME_DIR_NAME}-old`));
  await rename(final, old).catch(() => undefined);
  await rename(staged, final);
  await rm(old, { recursive: true, force: true });
}

export interface InstallResult {
  readonly path: string;
  readonly runtimeFiles: number;
  readonly interpreter: string | undefined;
}

/**
 * Installs the running executable (`executable`, with its `lib/` beside it) into `targetDir`, for
 * containers that see that folder at `mountPath` (default: `targetDir`).
 */
export async function installLauncher(executable: string, targetDir: string, mountPath = targetDir): Promise<InstallResult> {
  const target = resolve(targetDir);
  const seenAt = resolve(mountPath);
  const destination = join(target, LAUNCHER_FILE_NAME);
  const { chmod, copyFile, mkdir, realpath, rename, rm } = builtins.fs();
  try {
    const sourceDir = dirname(executable);
    const runtimeDir = join(sourceDir, RUNTIME_DIR_NAME);
    const files = await listRuntime(runtimeDir);
    await mkdir(target, { recursive: true, mode: 0o755 });
    if (seenAt === target && (await realpath(sourceDir)) === (await realpath(target))) return { path: destination, runtimeFiles: files.length, interpreter: undefined };
    if (files.length > 0) await installRuntime(runtimeDir, target, files);
    const staged = join(target, tempName(LAUNCHER_FILE_NAME));
    try {
      await copyFile(executable, staged);
      const interpreter = await relocateInterpreter(staged, seenAt, files);
      await chmod(staged, LAUNCHER_INSTALL_MODE);
      await rename(staged, destination);
      return { path: destination, runtimeFiles: files.length, interpreter };
    } catch (error) {
      await rm(staged, { force: true });
      throw error;
    }
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new AppError(ENV_ERRORS.install, `cannot install into ${target}: ${(error as { code?: string }).code ?? messageOf(error)}`, { cause: error });
  }
}
