// The `piggy` (controller) image's root filesystems, one folder per layer, for one architecture:
//   runtime/  glibc from Debian bookworm (the loader at Node's PT_INTERP path and the libraries Node
//             needs in /lib/<triplet>/, their copyright files) and /etc/passwd, /etc/group with the
//             65532 "nonroot" user the image runs as;
//   node/     the official Node.js binary (npm's node-linux-<arch>, stripped) as /usr/local/bin/node;
//   app/      the controller as one esbuild bundle, /usr/lib/piggy/piggy.mjs (production code only:
//             dev dependencies are never reachable from src/cli.ts) and the bundled packages' notices.
// The layers change at different rates (app ≫ node > runtime), so a new build mostly re-pulls app/.
// No shell, no package manager; nothing is written at run time (readOnlyRootFilesystem works).
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import esbuild from 'esbuild';
import type { DebianRuntime } from './debian.ts';
import { resolveRuntimeLibraries } from './elf-deps.ts';
import type { NodeDist } from './node-dist.ts';
import { ARCHES } from './platform.ts';

const execFileAsync = promisify(execFile);

export const APP_DIR = '/usr/lib/piggy';
export const APP_BUNDLE = `${APP_DIR}/piggy.mjs`;
export const NODE_PATH = '/usr/local/bin/node';
export const RUN_AS = '65532:65532';
/**
 * Node flags of the image's entrypoint (before the bundle). A young generation of 2 MiB semi-spaces
 * instead of V8's up-to-16 MiB: bench/memory measures the RSS saved and bench:memory's /secret rate.
 */
export const CONTROLLER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];
/**
 * Environment of the image. glibc serves allocations >= 32 KiB with mmap, so the parser zones V8
 * frees after compiling the 4.6 MB bundle (~30 MiB at peak, 32 KiB segments) go back to the system
 * instead of staying in the brk heap (bench/memory: [heap] 32 MiB → 3 MiB idle).
 */
export const CONTROLLER_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '32768' };

/** The controller bundle (ESM: src/cli.ts awaits at top level; `require` for bundled CommonJS). */
export async function bundleController(repoRoot: string): Promise<{ code: string; legal: string }> {
  const result = await esbuild.build({
    absWorkingDir: repoRoot,
    entryPoints: ['src/cli.ts'],
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'esm',
    minify: true,
    legalComments: 'external',
    outfile: 'piggy.mjs',
    write: false,
    logLevel: 'silent',
    banner: { js: "import { createRequire as __piggyRequire } from 'node:module'; const require = __piggyRequire(import.meta.url);" },
  });
  const code = result.outputFiles.find((file) => file.path.endsWith('.mjs'))?.text;
  if (code === undefined) throw new Error('esbuild produced no controller bundle');
  return { code, legal: result.outputFiles.find((file) => file.path.endsWith('.LEGAL.txt'))?.text ?? '' };
}

async function place(source: string, root: string, path: string, mode: number): Promise<void> {
  const target = join(root, path.slice(1));
  await mkdir(dirname(target), { recursive: true });
  await copyFile(source, target);
  await chmod(target, mode);
}

async function writeRuntimeLayer(root: string, runtime: DebianRuntime, node: string): Promise<string[]> {
  const names = ARCHES[runtime.arch];
  const libraries = await resolveRuntimeLibraries(node, runtime.sysroot, runtime.arch);
  for (const [name, file] of libraries) {
    await place(file, root, name === names.loader ? names.loaderPath : `/lib/${names.triplet}/${name}`, 0o755);
  }
  for (const pkg of runtime.packages) {
    await place(join(runtime.sysroot, 'usr/share/doc', pkg.name, 'copyright'), root, `/usr/share/doc/${pkg.name}/copyright`, 0o644);
  }
  const [uid, gid] = RUN_AS.split(':');
  await mkdir(join(root, 'etc'), { recursive: true });
  await writeFile(join(root, 'etc/passwd'), `root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:${uid}:${gid}:nonroot:/home/nonroot:/sbin/nologin\n`);
  await writeFile(join(root, 'etc/group'), `root:x:0:\nnonroot:x:${gid}:\n`);
  return libraries.map(([name]) => name);
}

async function writeNodeLayer(root: string, dist: NodeDist): Promise<void> {
  await place(dist.node, root, NODE_PATH, 0o755);
  await execFileAsync(ARCHES[dist.arch].strip, ['--strip-all', join(root, NODE_PATH.slice(1))]);
  await place(dist.license, root, '/usr/share/doc/nodejs/LICENSE', 0o644);
}

async function writeAppLayer(root: string, bundle: { code: string; legal: string }): Promise<void> {
  await mkdir(join(root, APP_DIR.slice(1)), { recursive: true });
  await writeFile(join(root, APP_BUNDLE.slice(1)), bundle.code);
  await mkdir(join(root, 'usr/share/doc/piggy'), { recursive: true });
  if (bundle.legal !== '') await writeFile(join(root, 'usr/share/doc/piggy/THIRD-PARTY-NOTICES.txt'), bundle.legal);
}

export interface ControllerRoots {
  /** Layer folders, bottom first. */
  readonly layers: readonly string[];
  readonly libraries: readonly string[];
}

/** Fills `work/{runtime,node,app}` for one architecture. */
export async function writeControllerRoots(
  work: string,
  inputs: { readonly runtime: DebianRuntime; readonly node: NodeDist; readonly bundle: { code: string; legal: string } },
): Promise<ControllerRoots> {
  const layers = ['runtime', 'node', 'app'].map((name) => join(work, name));
  const [runtimeRoot = '', nodeRoot = '', appRoot = ''] = layers;
  const libraries = await writeRuntimeLayer(runtimeRoot, inputs.runtime, inputs.node.node);
  await writeNodeLayer(nodeRoot, inputs.node);
  await writeAppLayer(appRoot, inputs.bundle);
  return { layers, libraries };
}
