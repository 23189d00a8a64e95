// Isolated roots for running the built piggy-env the way a Pod would, with no Node.js and no libc:
//   image root   the piggy-env image (dist/piggy-env/image, bind-mounted read-only) — runs `install`
//                and `write-files` as its ENTRYPOINT;
//   app root     an "app image" holding only a static busybox, plus the launcher volume mounted
//                read-only at /piggy and a service-account token at the kubelet's path;
//   volume       the emptyDir the two share.
// Each run is `unshare --mount` (a private mount namespace: proc and the bind mounts vanish with the
// process) → sh → env -u PWD → chroot --userspec → the program: every step execs, so the spawned
// child's PID is the launcher's and then the app's. Needs root, unshare, chroot and a static busybox.
// Used by bench/env/run.ts and test/integration/env-sandbox.test.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readElfHead } from '../../src/env/elf.ts';
import { INSTALL_ARGS, INSTALL_MOUNT_PATH, LAUNCHER_MOUNT_PATH, LAUNCHER_PATH } from '../../src/shared/injection-contract.ts';

export const BUSYBOX = '/bin/busybox';
export const TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';
export const INSTALL_USER = '65532:65532';
export const APP_USER = '1000:1000';

function findTool(name: string): string | undefined {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // next
    }
  }
  return undefined;
}

const TOOLS = { unshare: findTool('unshare'), chroot: findTool('chroot'), env: findTool('env'), sh: findTool('sh') };

/** What this machine lacks to run sandboxes (empty when it can). */
export function sandboxProblems(): string[] {
  const problems: string[] = [];
  if (process.getuid?.() !== 0) problems.push('root (mount namespaces, chroot)');
  for (const [name, path] of Object.entries(TOOLS)) if (path === undefined) problems.push(name);
  try {
    const head = readElfHead(readFileSync(BUSYBOX).subarray(0, 65536));
    if (head.kind !== 'elf' || head.interpreter !== undefined) problems.push(`a static ${BUSYBOX} (Debian: busybox-static)`);
  } catch {
    problems.push(`a static ${BUSYBOX} (Debian: busybox-static)`);
  }
  return problems;
}

export interface Sandbox {
  readonly base: string;
  readonly imageRoot: string;
  readonly appRoot: string;
  readonly volume: string;
  /** The build's launcher folder (dist/piggy-env/image/piggy). */
  readonly launcherDir: string;
  dispose(): Promise<void>;
}

/** Fresh roots; `launcherDir` is bind-mounted into the image root at /piggy (IMAGE_LAUNCHER_DIR). */
export async function createSandbox(launcherDir: string, token = 'sandbox-token'): Promise<Sandbox> {
  const base = await mkdtemp(join(tmpdir(), 'piggy-env-sandbox-'));
  await chmod(base, 0o755);
  const imageRoot = join(base, 'image');
  const appRoot = join(base, 'app');
  const volume = join(base, 'volume');
  for (const dir of ['proc', LAUNCHER_MOUNT_PATH.slice(1), INSTALL_MOUNT_PATH.slice(1), 'secrets']) await mkdir(join(imageRoot, dir), { recursive: true });
  for (const dir of ['proc', 'piggy', 'bin', 'tmp', 'var/run/secrets/kubernetes.io/serviceaccount']) await mkdir(join(appRoot, dir), { recursive: true });
  await chmod(join(appRoot, 'tmp'), 0o1777);
  await copyFile(BUSYBOX, join(appRoot, 'bin', 'busybox'));
  await chmod(join(appRoot, 'bin', 'busybox'), 0o755);
  await writeFile(join(appRoot, TOKEN_PATH.slice(1)), token, { mode: 0o644 });
  await mkdir(volume, { mode: 0o777 });
  await chmod(volume, 0o777);
  return { base, imageRoot, appRoot, volume, launcherDir, dispose: () => rm(base, { recursive: true, force: true }) };
}

export interface Bind {
  readonly source: string;
  /** Absolute path inside the root. */
  readonly target: string;
  readonly readOnly?: boolean;
}

export interface RootRun {
  readonly root: string;
  readonly binds: readonly Bind[];
  readonly argv: readonly string[];
  /** Exactly the environment the program gets. */
  readonly env: Readonly<Record<string, string>>;
  /** uid:gid */
  readonly user: string;
}

const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;

export function spawnInRoot(run: RootRun): ChildProcess {
  const { unshare, chroot, env, sh } = TOOLS;
  if (unshare === undefined || chroot === undefined || env === undefined || sh === undefined) throw new Error('unshare, chroot, env and sh are needed');
  // --no-mtab: libmount would otherwise create /run/mount/utab on the host (/run is not private).
  const mounts = [`mount --no-mtab -t proc proc ${quote(join(run.root, 'proc'))}`];
  for (const bind of run.binds) {
    const target = quote(join(run.root, bind.target));
    mounts.push(`mount --no-mtab --bind ${quote(bind.source)} ${target}`);
    if (bind.readOnly === true) mounts.push(`mount --no-mtab -o remount,bind,ro ${target}`);
  }
  const script = `set -e; ${mounts.join('; ')}; exec ${env} -u PWD ${chroot} --userspec=${run.user} ${quote(run.root)} "$@"`;
  return spawn(unshare, ['--mount', '--propagation', 'private', '--', sh, '-c', script, 'sh', ...run.argv], { env: { ...run.env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface RootResult {
  readonly pid: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunningRoot {
  readonly child: ChildProcess;
  readonly pid: number;
  stdout(): string;
  readonly done: Promise<RootResult>;
}

export function startInRoot(run: RootRun): RunningRoot {
  const child = spawnInRoot(run);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
  const pid = child.pid ?? -1;
  const done = new Promise<RootResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ pid, code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
  return { child, pid, stdout: () => Buffer.concat(out).toString('utf8'), done };
}

export function runInRoot(run: RootRun): Promise<RootResult> {
  return startInRoot(run).done;
}

/** The init container's install in the image root (as the restricted init container's user), filling the volume. */
export function runInstall(sandbox: Sandbox): Promise<RootResult> {
  return runInRoot({
    root: sandbox.imageRoot,
    binds: [
      { source: sandbox.launcherDir, target: LAUNCHER_MOUNT_PATH, readOnly: true },
      { source: sandbox.volume, target: INSTALL_MOUNT_PATH },
    ],
    argv: [LAUNCHER_PATH, ...INSTALL_ARGS],
    env: {},
    user: INSTALL_USER,
  });
}

/** The app root with the launcher volume mounted read-only at /piggy, as a wrapped container sees it. */
export function appRun(sandbox: Sandbox, argv: readonly string[], env: Readonly<Record<string, string>>, user = APP_USER): RootRun {
  return { root: sandbox.appRoot, binds: [{ source: sandbox.volume, target: '/piggy', readOnly: true }], argv, env, user };
}
