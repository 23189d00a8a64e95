// Builds piggy-env as one self-contained Linux x86-64 executable that needs neither Node.js nor a
// libc in the app image:
//   1. esbuild bundles src/env/cli.ts into one CommonJS file (node: built-ins only; a package in the
//      bundle fails the build);
//   2. Node's single executable application: a SEA blob (code cache on, NODE_OPTIONS ignored) is
//      injected with postject into a stripped copy of this Node binary;
//   3. patchelf — after postject: LIEF rewrites the dynamic section and breaks an earlier patchelf —
//      points PT_INTERP at the glibc loader shipped in lib/ beside it (padded to 255 bytes so
//      `install <dir>` can rewrite it in place) and sets DT_RPATH `$ORIGIN/lib` (RPATH, not RUNPATH:
//      it is also searched for dlopen and wins over the app's LD_LIBRARY_PATH);
//   4. the loader and the libraries `ldd` lists are copied into lib/.
// Output, dist/piggy-env/ (git-ignored): image/ is the piggy-env image's root filesystem
// (ENTRYPOINT /usr/lib/piggy-env/piggy-env, see the Dockerfile beside it); `piggy-env install /piggy`
// in that image fills the launcher volume. Cached by a hash of every input; safe to run concurrently.
//
//   npx tsx scripts/build-piggy-env.ts            build (or reuse) and print a summary
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import esbuild from 'esbuild';
import { installLauncher, LAUNCHER_FILE_NAME, RUNTIME_DIR_NAME } from '../src/env/install.ts';

const run = promisify(execFile);
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Bump when the build steps change in a way the other inputs do not show. */
const BUILD_FORMAT = 'piggy-env-build/1';
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const INTERP_BYTES = 255;

export const PIGGY_ENV_DIST = join(repoRoot, 'dist', 'piggy-env');
/** Where the launcher lives in the piggy-env image. */
export const IMAGE_LAUNCHER_DIR = '/usr/lib/piggy-env';

export interface PiggyEnvBuild {
  readonly buildId: string;
  readonly dir: string;
  /** The image's root filesystem. */
  readonly imageRoot: string;
  /** Host path of the launcher inside imageRoot (its loader path only exists inside that root). */
  readonly executable: string;
  readonly bundleBytes: number;
  readonly executableBytes: number;
  readonly runtimeBytes: number;
  readonly runtimeFiles: readonly string[];
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

/** `ldd` of the Node binary: the loader and every library, as [name in lib/, real file]. */
async function listRuntime(node: string): Promise<[string, string][]> {
  const { stdout } = await run('ldd', [node]);
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

async function acquireLock(lock: string, log: Log): Promise<() => Promise<void>> {
  for (let waited = 0; ; waited += 250) {
    try {
      await mkdir(lock);
      return () => rm(lock, { recursive: true, force: true });
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw error;
      const age = Date.now() - (await stat(lock).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > 10 * 60_000) await rm(lock, { recursive: true, force: true });
      if (waited === 0) log('piggy-env: waiting for a concurrent build');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

async function readBuild(dir: string, reused: boolean): Promise<PiggyEnvBuild | undefined> {
  try {
    return { ...(JSON.parse(await readFile(join(dir, 'build.json'), 'utf8')) as PiggyEnvBuild), dir, reused };
  } catch {
    return undefined;
  }
}

async function smokeTest(executable: string): Promise<void> {
  const scratch = await mkdtemp(join(tmpdir(), 'piggy-env-smoke-'));
  try {
    const installed = await installLauncher(executable, scratch);
    const truePath = existsSync('/bin/true') ? '/bin/true' : '/usr/bin/true';
    await run(installed.path, ['--', truePath], { env: { PATH: '/usr/bin:/bin' } });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function buildInto(work: string, bundle: string, buildId: string, log: Log): Promise<void> {
  const node = process.execPath;
  const launcherDir = join(work, 'image', IMAGE_LAUNCHER_DIR.slice(1));
  const runtimeDir = join(launcherDir, RUNTIME_DIR_NAME);
  await mkdir(runtimeDir, { recursive: true });
  await writeFile(join(work, 'piggy-env.cjs'), bundle);
  const seaConfig = {
    main: join(work, 'piggy-env.cjs'),
    output: join(work, 'sea.blob'),
    disableExperimentalSEAWarning: true,
    useCodeCache: true,
    execArgvExtension: 'none',
  };
  await writeFile(join(work, 'sea-config.json'), JSON.stringify(seaConfig, null, 2));
  await run(node, ['--experimental-sea-config', join(work, 'sea-config.json')], { cwd: work });
  const executable = join(work, 'launcher.tmp');
  await copyFile(node, executable);
  await chmod(executable, 0o755);
  if ((await toolVersion('strip', ['--version'])) !== undefined) await run('strip', ['--strip-all', executable]);
  log('piggy-env: injecting the SEA blob (postject)');
  await run(node, [postjectCli(), executable, 'NODE_SEA_BLOB', join(work, 'sea.blob'), '--sentinel-fuse', SEA_FUSE], { maxBuffer: 16 * 1024 * 1024 });
  const runtime = await listRuntime(node);
  for (const [name, file] of runtime) {
    await copyFile(file, join(runtimeDir, name));
    await chmod(join(runtimeDir, name), 0o755);
  }
  const loader = runtime.find(([name]) => name.startsWith('ld-linux'))?.[0] ?? '';
  const head = `${IMAGE_LAUNCHER_DIR}/${RUNTIME_DIR_NAME}`;
  const interpreter = `${head}${'/'.repeat(INTERP_BYTES - head.length - loader.length)}${loader}`;
  await run('patchelf', ['--set-interpreter', interpreter, '--force-rpath', '--set-rpath', `$ORIGIN/${RUNTIME_DIR_NAME}`, executable]);
  await rename(executable, join(launcherDir, LAUNCHER_FILE_NAME));
  await rm(join(work, 'sea.blob'));
  await rm(join(work, 'sea-config.json'));
  await writeFile(
    join(work, 'Dockerfile'),
    ['# The piggy-env image: `docker build -t <registry>/piggy-env:<tag> dist/piggy-env`', 'FROM scratch', 'COPY image/ /', 'USER 65532:65532', `ENTRYPOINT ["${IMAGE_LAUNCHER_DIR}/${LAUNCHER_FILE_NAME}"]`, ''].join('\n'),
  );
  const final = join(launcherDir, LAUNCHER_FILE_NAME);
  await smokeTest(final);
  const sizes = await Promise.all(runtime.map(async ([name]) => (await stat(join(runtimeDir, name))).size));
  const build = {
    buildId,
    imageRoot: join(PIGGY_ENV_DIST, 'image'),
    executable: join(PIGGY_ENV_DIST, 'image', IMAGE_LAUNCHER_DIR.slice(1), LAUNCHER_FILE_NAME),
    bundleBytes: Buffer.byteLength(bundle),
    executableBytes: (await stat(final)).size,
    runtimeBytes: sizes.reduce((sum, size) => sum + size, 0),
    runtimeFiles: runtime.map(([name]) => name),
  };
  await writeFile(join(work, 'build.json'), `${JSON.stringify(build, null, 2)}\n`);
}

/** Builds dist/piggy-env unless a build of the same inputs is there; returns it. */
export async function ensurePiggyEnvBuild(options: { readonly log?: Log } = {}): Promise<PiggyEnvBuild> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error('piggy-env is built for linux/x64 only');
  const bundle = await bundleLauncher();
  const patchelf = await toolVersion('patchelf', ['--version']);
  if (patchelf === undefined) throw new Error('patchelf is missing (Debian: apt-get install -y patchelf)');
  const postject = JSON.parse(await readFile(join(dirname(postjectCli()), '..', 'package.json'), 'utf8')) as { version: string };
  const hash = createHash('sha256');
  for (const part of [BUILD_FORMAT, bundle, process.version, String((await stat(process.execPath)).size), postject.version, patchelf, (await toolVersion('strip', ['--version'])) ?? 'no strip', await readFile(fileURLToPath(import.meta.url), 'utf8')]) {
    hash.update(part).update('\0');
  }
  const buildId = hash.digest('hex').slice(0, 16);
  const current = await readBuild(PIGGY_ENV_DIST, true);
  if (current?.buildId === buildId) return current;
  await mkdir(dirname(PIGGY_ENV_DIST), { recursive: true });
  const release = await acquireLock(`${PIGGY_ENV_DIST}.lock`, log);
  try {
    const again = await readBuild(PIGGY_ENV_DIST, true);
    if (again?.buildId === buildId) return again;
    const started = Date.now();
    log(`piggy-env: building ${buildId} with Node ${process.version}`);
    const work = join(dirname(PIGGY_ENV_DIST), `.piggy-env-${randomBytes(4).toString('hex')}`);
    try {
      await buildInto(work, bundle, buildId, log);
      const old = join(dirname(PIGGY_ENV_DIST), `.piggy-env-old-${randomBytes(4).toString('hex')}`);
      await rename(PIGGY_ENV_DIST, old).catch(() => undefined);
      await rename(work, PIGGY_ENV_DIST);
      await rm(old, { recursive: true, force: true });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    log(`piggy-env: built in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    const built = await readBuild(PIGGY_ENV_DIST, false);
    if (built === undefined) throw new Error('the build left no build.json');
    return built;
  } finally {
    await release();
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === (await realpath(process.argv[1]).catch(() => process.argv[1]))) {
  const build = await ensurePiggyEnvBuild();
  const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  console.log(`piggy-env ${build.buildId}${build.reused ? ' (cached)' : ''}
  executable  ${build.executable}  ${mib(build.executableBytes)}
  runtime     ${build.runtimeFiles.length} files in lib/  ${mib(build.runtimeBytes)}  (${build.runtimeFiles.join(' ')})
  bundle      ${(build.bundleBytes / 1024).toFixed(0)} KiB of JavaScript
  image root  ${build.imageRoot}  (Dockerfile beside it)`);
}
