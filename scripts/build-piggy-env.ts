// Builds piggy-env as one self-contained Linux executable (x86-64, and arm64 cross-built) that needs
// neither Node.js nor a libc in the app image:
//   1. esbuild bundles src/env/cli.ts into one CommonJS file (node: built-ins only; a package in the
//      bundle fails the build);
//   2. Node's single executable application: a SEA blob (code cache on, NODE_OPTIONS ignored) is
//      injected with postject into a stripped copy of the Node binary. The blob is written by that
//      same Node (under qemu-user for arm64: the code cache is architecture-specific) with
//      `--random-seed=1`: V8 seeds its string hashes from a per-process random seed and the code cache
//      carries them, so without it every blob differs; the seed is left out of V8's flag hash, so the
//      launcher (random seed of its own) still accepts the cache (`--hash-seed` would not be), and
//      the blob records the main script's path, so it is given relative to the build folder;
//   3. patchelf — after postject: LIEF rewrites the dynamic section and breaks an earlier patchelf —
//      points PT_INTERP at the glibc loader shipped in lib/ beside it (padded to 255 bytes so
//      `install <dir>` can rewrite it in place) and sets DT_RPATH `$ORIGIN/lib` (RPATH, not RUNPATH:
//      it is also searched for dlopen and wins over the app's LD_LIBRARY_PATH);
//   4. the loader and the libraries Node needs are copied into lib/.
// The Node binary and the libraries are npm's official node-linux-<arch> and Debian bookworm's
// packages for both architectures (scripts/images/piggy-env-target.ts), not this machine's.
// Output, dist/piggy-env/ (amd64) and dist/piggy-env-arm64/ (git-ignored): image/ is the piggy-env
// image's root filesystem (ENTRYPOINT /piggy/piggy-env, see the Dockerfile beside it;
// `npm run build:images` makes the image). The launcher's PT_INTERP is /piggy/lib/<loader>, the
// path app containers see it at, so the image mounted as an image volume (subPath piggy at /piggy)
// runs as it is, and `piggy-env install /piggy-volume --mount-path /piggy` fills the init
// container's emptyDir. Cached by a hash of every input; safe to run concurrently.
//
//   npx tsx scripts/build-piggy-env.ts [--arch amd64|arm64|all]   build (or reuse) and print a summary
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import esbuild from 'esbuild';
import { installLauncher, LAUNCHER_FILE_NAME, RUNTIME_DIR_NAME } from '../src/env/install.ts';
import { acquireFolderLock } from './local/procs.ts';
import { IMAGE_LAUNCHER_SUBPATH } from '../src/shared/injection-contract.ts';
import { launcherTarget, withScratch, type LauncherTarget } from './images/piggy-env-target.ts';
import { ALL_ARCHES, type Arch } from './images/platform.ts';

const run = promisify(execFile);
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Bump when the build steps change in a way the other inputs do not show. */
const BUILD_FORMAT = 'piggy-env-build/3';
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const INTERP_BYTES = 255;

/** The amd64 build (what the tests and the demo run). */
export const PIGGY_ENV_DIST = join(repoRoot, 'dist', 'piggy-env');
/**
 * Where the launcher lives in the piggy-env image: the path the app containers see it at, whether
 * the image is mounted as an image volume (subPath piggy at /piggy) or the init container copies it.
 */
export const IMAGE_LAUNCHER_DIR = `/${IMAGE_LAUNCHER_SUBPATH}`;

/** dist/piggy-env (amd64) or dist/piggy-env-<arch>. */
export function piggyEnvDist(arch: Arch): string {
  return arch === 'amd64' ? PIGGY_ENV_DIST : `${PIGGY_ENV_DIST}-${arch}`;
}

export interface PiggyEnvBuild {
  readonly buildId: string;
  readonly arch: Arch;
  readonly dir: string;
  /** The image's root filesystem. */
  readonly imageRoot: string;
  /** Host path of the launcher inside imageRoot (its loader path only exists inside that root). */
  readonly executable: string;
  readonly bundleBytes: number;
  readonly executableBytes: number;
  readonly runtimeBytes: number;
  readonly runtimeFiles: readonly string[];
  /** Debian packages the runtime came from, as name=version. */
  readonly packages: readonly string[];
  readonly reused: boolean;
}

type Log = (line: string) => void;

async function bundleLauncher(): Promise<string> {
  const result = await esbuild.build({
    absWorkingDir: repoRoot,
    entryPoints: ['src/env/cli.ts'],
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    minify: true,
    legalComments: 'none',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const packages = Object.keys(result.metafile.inputs).filter((input) => input.includes('node_modules'));
  if (packages.length > 0) throw new Error(`src/env must only use node: built-ins; the bundle pulls in ${packages.join(', ')}`);
  const output = result.outputFiles[0];
  if (output === undefined) throw new Error('esbuild produced no output');
  return output.text;
}

async function toolVersion(command: string, args: string[]): Promise<string | undefined> {
  try {
    return (await run(command, args)).stdout.trim();
  } catch {
    return undefined;
  }
}

function postjectCli(): string {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('postject/package.json')), 'dist', 'cli.js');
  } catch {
    throw new Error('postject is missing: it is a devDependency (npm ci), or `npm install --no-save postject@1.0.0-alpha.6`');
  }
}

async function readBuild(dir: string, reused: boolean): Promise<PiggyEnvBuild | undefined> {
  try {
    return { ...(JSON.parse(await readFile(join(dir, 'build.json'), 'utf8')) as PiggyEnvBuild), dir, reused };
  } catch {
    return undefined;
  }
}

/** Installs the launcher into a scratch folder as the init container would, and runs it. */
async function smokeTest(executable: string, target: LauncherTarget): Promise<void> {
  await withScratch('piggy-env-smoke-', async (scratch) => {
    const installed = await installLauncher(executable, scratch);
    await target.runLauncher(installed.path, ['--', existsSync('/bin/true') ? '/bin/true' : '/usr/bin/true']);
  });
}

/**
 * The SEA blob, written by the target's own Node (see the header). Paths are relative to `work`:
 * the blob records the main script's name, and the build folder's random name would make it differ.
 */
async function writeSeaBlob(work: string, target: LauncherTarget): Promise<string> {
  const seaConfig = {
    main: 'piggy-env.cjs',
    output: 'sea.blob',
    disableExperimentalSEAWarning: true,
    useCodeCache: true,
    execArgvExtension: 'none',
  };
  await writeFile(join(work, 'sea-config.json'), JSON.stringify(seaConfig, null, 2));
  const [command, ...args] = [...target.runner, target.node, '--random-seed=1', '--experimental-sea-config', 'sea-config.json'];
  await run(command, args, { cwd: work });
  await rm(join(work, 'sea-config.json'));
  return join(work, seaConfig.output);
}

async function buildInto(work: string, bundle: string, buildId: string, target: LauncherTarget, dist: string, log: Log): Promise<void> {
  const launcherDir = join(work, 'image', IMAGE_LAUNCHER_DIR.slice(1));
  const runtimeDir = join(launcherDir, RUNTIME_DIR_NAME);
  await mkdir(runtimeDir, { recursive: true });
  await writeFile(join(work, 'piggy-env.cjs'), bundle);
  const blob = await writeSeaBlob(work, target);
  const executable = join(work, 'launcher.tmp');
  await copyFile(target.node, executable);
  await chmod(executable, 0o755);
  if ((await toolVersion(target.strip, ['--version'])) !== undefined) await run(target.strip, ['--strip-all', executable]);
  log(`piggy-env: injecting the ${target.arch} SEA blob (postject)`);
  await run(process.execPath, [postjectCli(), executable, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], { maxBuffer: 16 * 1024 * 1024 });
  await rm(blob);
  const runtime = await target.listRuntime();
  for (const [name, file] of runtime) {
    await copyFile(file, join(runtimeDir, name));
    await chmod(join(runtimeDir, name), 0o755);
  }
  const loader = runtime.find(([name]) => name.startsWith('ld-linux'))?.[0] ?? '';
  const head = `${IMAGE_LAUNCHER_DIR}/${RUNTIME_DIR_NAME}`;
  const interpreter = `${head}${'/'.repeat(INTERP_BYTES - head.length - loader.length)}${loader}`;
  await run('patchelf', ['--set-interpreter', interpreter, '--force-rpath', '--set-rpath', `$ORIGIN/${RUNTIME_DIR_NAME}`, executable]);
  await rename(executable, join(launcherDir, LAUNCHER_FILE_NAME));
  await writeFile(
    join(work, 'Dockerfile'),
    [`# The piggy-env image (linux/${target.arch}): npm run build:images builds it without Docker; or \`docker build -t <registry>/piggy-env:<tag> ${dist}\``, 'FROM scratch', 'COPY image/ /', 'USER 65532:65532', `ENTRYPOINT ["${IMAGE_LAUNCHER_DIR}/${LAUNCHER_FILE_NAME}"]`, ''].join('\n'),
  );
  const final = join(launcherDir, LAUNCHER_FILE_NAME);
  await smokeTest(final, target);
  const sizes = await Promise.all(runtime.map(async ([name]) => (await stat(join(runtimeDir, name))).size));
  const build = {
    buildId,
    arch: target.arch,
    imageRoot: join(dist, 'image'),
    executable: join(dist, 'image', IMAGE_LAUNCHER_DIR.slice(1), LAUNCHER_FILE_NAME),
    bundleBytes: Buffer.byteLength(bundle),
    executableBytes: (await stat(final)).size,
    runtimeBytes: sizes.reduce((sum, size) => sum + size, 0),
    runtimeFiles: runtime.map(([name]) => name),
    packages: target.packages.map((p) => `${p.name}=${p.version}`),
  };
  await writeFile(join(work, 'build.json'), `${JSON.stringify(build, null, 2)}\n`);
}

async function computeBuildId(bundle: string, target: LauncherTarget): Promise<string> {
  const patchelf = await toolVersion('patchelf', ['--version']);
  if (patchelf === undefined) throw new Error('patchelf is missing (Debian: apt-get install -y patchelf)');
  const postject = JSON.parse(await readFile(join(dirname(postjectCli()), '..', 'package.json'), 'utf8')) as { version: string };
  const hash = createHash('sha256');
  const parts = [BUILD_FORMAT, target.arch, target.fingerprint, bundle, process.version, String((await stat(target.node)).size), postject.version, patchelf];
  parts.push((await toolVersion(target.strip, ['--version'])) ?? 'no strip', await readFile(fileURLToPath(import.meta.url), 'utf8'));
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex').slice(0, 16);
}

/**
 * Builds dist/piggy-env (amd64, the default) or dist/piggy-env-arm64 unless a build of the same
 * inputs is there; `dist` puts it elsewhere (the reproducibility test compares two builds).
 */
export async function ensurePiggyEnvBuild(options: { readonly log?: Log; readonly arch?: Arch; readonly dist?: string } = {}): Promise<PiggyEnvBuild> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const target = await launcherTarget(options.arch ?? 'amd64', log);
  const dist = options.dist ?? piggyEnvDist(target.arch);
  const bundle = await bundleLauncher();
  const buildId = await computeBuildId(bundle, target);
  const current = await readBuild(dist, true);
  if (current?.buildId === buildId) return current;
  await mkdir(dirname(dist), { recursive: true });
  const release = await acquireFolderLock(`${dist}.lock`, () => log('piggy-env: waiting for a concurrent build'));
  try {
    const again = await readBuild(dist, true);
    if (again?.buildId === buildId) return again;
    const started = Date.now();
    log(`piggy-env: building ${target.arch} ${buildId} with Node ${process.version}`);
    const work = join(dirname(dist), `.piggy-env-${randomBytes(4).toString('hex')}`);
    try {
      await buildInto(work, bundle, buildId, target, dist, log);
      const old = join(dirname(dist), `.piggy-env-old-${randomBytes(4).toString('hex')}`);
      await rename(dist, old).catch(() => undefined);
      await rename(work, dist);
      await rm(old, { recursive: true, force: true });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    log(`piggy-env: built ${target.arch} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    const built = await readBuild(dist, false);
    if (built === undefined) throw new Error('the build left no build.json');
    return built;
  } finally {
    await release();
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === (await realpath(process.argv[1]).catch(() => process.argv[1]))) {
  const flag = process.argv.indexOf('--arch');
  const wanted = flag === -1 ? 'amd64' : (process.argv[flag + 1] ?? '');
  const arches = wanted === 'all' ? ALL_ARCHES : ALL_ARCHES.filter((arch) => arch === wanted);
  if (arches.length === 0) throw new Error(`--arch must be amd64, arm64 or all (got ${wanted})`);
  const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  for (const arch of arches) {
    const build = await ensurePiggyEnvBuild({ arch });
    console.log(`piggy-env ${build.arch} ${build.buildId}${build.reused ? ' (cached)' : ''}
  executable  ${build.executable}  ${mib(build.executableBytes)}
  runtime     ${build.runtimeFiles.length} files in lib/  ${mib(build.runtimeBytes)}  (${build.runtimeFiles.join(' ')})
  bundle      ${(build.bundleBytes / 1024).toFixed(0)} KiB of JavaScript${build.packages.length > 0 ? `\n  packages    ${build.packages.join(' ')}` : ''}
  image root  ${build.imageRoot}  (Dockerfile beside it)`);
  }
}
