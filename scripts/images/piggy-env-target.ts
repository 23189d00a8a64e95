// The inputs of a piggy-env launcher build for one architecture, the same for both, so the result
// does not depend on the machine's Node or libc: npm's official node-linux-<x64|arm64> of this
// Node's version, Debian bookworm's libc6/libstdc++6/libgcc-s1 of that architecture (DT_NEEDED
// resolved in the unpacked sysroot), and that architecture's strip. The SEA blob (its code cache is
// architecture-specific) is written by that very Node: natively for amd64 (dist/piggy-env/), under
// qemu-aarch64-static -L <sysroot> for arm64 (dist/piggy-env-arm64/; qemu is called explicitly,
// binfmt_misc is never registered).
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cacheDir } from '../local/procs.ts';
import { ensureDebianRuntime, type DebianPackage } from './debian.ts';
import { resolveRuntimeLibraries } from './elf-deps.ts';
import { ensureNodeDist } from './node-dist.ts';
import { type Arch, ARCHES, hostArch } from './platform.ts';

const execFileAsync = promisify(execFile);
export const QEMU_AARCH64 = 'qemu-aarch64-static';

export interface LauncherTarget {
  readonly arch: Arch;
  /** The Node binary the launcher is made of. */
  readonly node: string;
  /** Runs `node` here: [] natively, or the qemu-user command line in front of it. */
  readonly runner: readonly string[];
  readonly strip: string;
  /** What identifies the inputs beyond the node binary (hashed into the build id). */
  readonly fingerprint: string;
  readonly packages: readonly DebianPackage[];
  /** The loader and libraries to ship in lib/, as [name in lib/, real file]. */
  listRuntime(): Promise<[string, string][]>;
  /** Runs an installed launcher (`-- /bin/true`, which it execve's natively). */
  runLauncher(executable: string, args: readonly string[]): Promise<void>;
}

async function toolVersion(command: string): Promise<string> {
  try {
    return (await execFileAsync(command, ['--version'])).stdout.split('\n')[0] ?? command;
  } catch {
    throw new Error(`${command} is missing (scripts/ensure-system.sh installs it)`);
  }
}

async function debianTarget(arch: Arch, log: (line: string) => void): Promise<LauncherTarget> {
  const cache = cacheDir();
  const version = process.version.slice(1);
  const [dist, runtime] = await Promise.all([ensureNodeDist(cache, arch, version, log), ensureDebianRuntime(cache, arch, { log })]);
  const native = arch === hostArch();
  const tools = await Promise.all([ARCHES[arch].strip, ...(native ? [] : [QEMU_AARCH64])].map(toolVersion));
  return {
    arch,
    node: dist.node,
    runner: native ? [] : [QEMU_AARCH64, '-L', runtime.sysroot],
    strip: ARCHES[arch].strip,
    fingerprint: [dist.integrity, ...runtime.packages.map((p) => `${p.name}=${p.version}:${p.sha256}`), ...tools].join('\n'),
    packages: runtime.packages,
    listRuntime: () => resolveRuntimeLibraries(dist.node, runtime.sysroot, arch),
    runLauncher: async (executable, args) => {
      // No -L for qemu: the installed launcher's PT_INTERP names its own loader by absolute host path.
      const [command, ...rest] = native ? [executable, ...args] : [QEMU_AARCH64, executable, ...args];
      await execFileAsync(command, rest, { env: { PATH: '/usr/bin:/bin' } });
    },
  };
}

/** The launcher target for `arch` (amd64 needs a linux/x64 machine; arm64 is cross-built). */
export async function launcherTarget(arch: Arch, log: (line: string) => void): Promise<LauncherTarget> {
  if (hostArch() !== 'amd64') throw new Error('piggy-env is built on linux/x64 only');
  return debianTarget(arch, log);
}

/** A scratch folder for `fn`, removed afterwards. */
export async function withScratch<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
