import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, realpath, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { AppError } from '../shared/errors.ts';

export interface FileProblem {
  readonly path: string;
  readonly error: AppError;
}

const YAML_FILE = /\.ya?ml$/i;
/** Folders a recursive walk never enters: VCS metadata, hidden folders, dependencies. */
const SKIPPED_DIRS = /^(\..+|node_modules)$/;

function describeFsError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return typeof code === 'string' ? code : 'unreadable';
}

function readError(path: string, error: unknown): FileProblem {
  return { path, error: new AppError('ERR_BUMP_READ', `cannot read: ${describeFsError(error)}`, { cause: error, details: { path } }) };
}

async function walk(dir: string, files: string[], problems: FileProblem[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    problems.push(readError(dir, error));
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && !SKIPPED_DIRS.test(entry.name)) await walk(path, files, problems);
    else if (entry.isFile() && YAML_FILE.test(entry.name)) files.push(path);
    // Symbolic links are not followed in a walk (no loops, no writes outside the tree).
  }
}

/**
 * The files to look at: each path given, and every *.yaml / *.yml below each directory given
 * (recursively, sorted, skipping hidden folders and node_modules). A file named twice is read once.
 */
export async function collectYamlFiles(paths: readonly string[]): Promise<{ files: string[]; problems: FileProblem[] }> {
  const found: string[] = [];
  const problems: FileProblem[] = [];
  for (const path of paths) {
    try {
      const info = await stat(path);
      if (info.isDirectory()) await walk(path, found, problems);
      else found.push(path);
    } catch (error) {
      problems.push(readError(path, error));
    }
  }
  const seen = new Set<string>();
  const files: string[] = [];
  for (const file of found) {
    const real = await realpath(file).catch(() => file);
    if (seen.has(real)) continue;
    seen.add(real);
    files.push(file);
  }
  return { files, problems };
}

/** A file's text; refuses bytes that are not UTF-8, since rewriting them could not be byte-exact. */
export async function readTextFile(path: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw readError(path, error).error;
  }
  const text = bytes.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(bytes)) {
    throw new AppError('ERR_BUMP_READ', 'cannot read: not UTF-8 text', { details: { path } });
  }
  return text;
}

/**
 * Replaces a file's content atomically: a temporary file next to it (same mode) is written,
 * flushed and renamed over it, so readers see the old or the new file, never half of one. A
 * symbolic link stays a link: its target is replaced.
 */
export async function writeFileAtomically(path: string, text: string): Promise<void> {
  let temp: string | undefined;
  try {
    const target = await realpath(path);
    const { mode } = await stat(target);
    temp = join(dirname(target), `.${basename(target)}.piggy-bump-${randomBytes(6).toString('hex')}.tmp`);
    const handle = await open(temp, 'wx', mode & 0o7777);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.chmod(mode & 0o7777);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (error) {
    if (temp !== undefined) await unlink(temp).catch(() => undefined);
    throw new AppError('ERR_BUMP_WRITE', `cannot write: ${describeFsError(error)}`, { cause: error, details: { path } });
  }
}
