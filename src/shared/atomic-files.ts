/**
 * Writes a set of files so that a reader never sees a mix of old and new ones, the way the kubelet
 * updates Secret volumes: the files go into a fresh hidden folder, the `..data` symlink is swapped to
 * it with one rename, and each visible name is a symlink through `..data`. A reader that opens
 * `tls.crt` and `tls.key` during the swap may still get one of each; the HTTPS listener's reload
 * (src/server/certificate-files.ts) rejects such a pair and reads again on the next change.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';

export interface AtomicFile {
  readonly content: string;
  readonly mode: number;
}

const DATA_LINK = '..data';
const VERSION_PREFIX = '..piggy_';

async function linkTarget(path: string): Promise<string | undefined> {
  try {
    return (await lstat(path)).isSymbolicLink() ? await readlink(path) : undefined;
  } catch {
    return undefined;
  }
}

/** Creates or replaces the symlink `path` → `target` atomically (temp link + rename). */
async function swapSymlink(target: string, path: string): Promise<void> {
  const temp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  await symlink(target, temp);
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/**
 * Replaces the files of `dir` (created 0700 when missing) with `files` in one atomic step, then
 * removes the previous version folders. Names are plain file names, no folders.
 */
export async function writeFilesAtomically(dir: string, files: Readonly<Record<string, AtomicFile>>): Promise<void> {
  for (const name of Object.keys(files)) if (basename(name) !== name || name.startsWith('..')) throw new Error(`not a plain file name: ${name}`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const version = await mkdtemp(join(dir, VERSION_PREFIX));
  for (const [name, file] of Object.entries(files)) {
    await writeFile(join(version, name), file.content, { mode: file.mode, flag: 'wx' });
  }
  await swapSymlink(basename(version), join(dir, DATA_LINK));
  for (const name of Object.keys(files)) {
    const wanted = join(DATA_LINK, name);
    if ((await linkTarget(join(dir, name))) !== wanted) await swapSymlink(wanted, join(dir, name));
  }
  for (const entry of await readdir(dir)) {
    if (entry.startsWith(VERSION_PREFIX) && entry !== basename(version)) await rm(join(dir, entry), { recursive: true, force: true });
  }
}
