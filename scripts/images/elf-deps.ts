// An executable's shared libraries resolved against a sysroot instead of the running system (`ldd`
// runs the loader, which cannot work for another architecture): DT_NEEDED read with
// `patchelf --print-needed`, recursively, looked up in the sysroot's multiarch library folders.
import { execFile } from 'node:child_process';
import { lstat, readlink } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import { type Arch, ARCHES } from './platform.ts';

const execFileAsync = promisify(execFile);

/** A symlink chain followed inside `sysroot` (absolute targets are taken relative to it). */
async function resolveInside(sysroot: string, file: string): Promise<string> {
  let current = file;
  for (let hops = 0; hops < 40; hops++) {
    const info = await lstat(current);
    if (!info.isSymbolicLink()) return current;
    const target = await readlink(current);
    current = isAbsolute(target) ? join(sysroot, target) : join(dirname(current), target);
  }
  throw new Error(`symlink loop at ${file}`);
}

async function find(sysroot: string, arch: Arch, name: string): Promise<string | undefined> {
  const { triplet } = ARCHES[arch];
  for (const dir of [`lib/${triplet}`, `usr/lib/${triplet}`, 'lib', 'usr/lib', 'lib64']) {
    try {
      return await resolveInside(sysroot, join(sysroot, dir, name));
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

async function needed(file: string): Promise<string[]> {
  const { stdout } = await execFileAsync('patchelf', ['--print-needed', file]);
  return stdout.split('\n').map((line) => line.trim()).filter((line) => line !== '');
}

/**
 * The loader and every library `executable` needs, transitively, as [soname, real file in sysroot],
 * in a stable order (sorted by name).
 */
export async function resolveRuntimeLibraries(executable: string, sysroot: string, arch: Arch): Promise<[string, string][]> {
  const found = new Map<string, string>();
  const queue = [ARCHES[arch].loader, ...(await needed(executable))];
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    if (found.has(name)) continue;
    const file = await find(sysroot, arch, name);
    if (file === undefined) throw new Error(`${name} (needed by ${executable}) is not in ${sysroot}`);
    found.set(name, file);
    queue.push(...(await needed(file)));
  }
  return [...found.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
