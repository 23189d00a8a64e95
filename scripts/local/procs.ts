// Tool provisioning, process, port and HTTP helpers for the local stack (scripts/local/stack.ts).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { constants, openSync, closeSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { access, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';

export const scriptsDir = import.meta.dirname;
export const repoRoot = path.resolve(scriptsDir, '..', '..');

export function cacheDir(): string {
  const env = process.env;
  return env.PIGGY_CACHE_DIR ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'piggy');
}

/** KEY=VALUE lines of scripts/local/versions.env. */
export function readVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(path.join(scriptsDir, 'versions.env'), 'utf8').split('\n')) {
    const m = /^\s*([A-Z0-9_]+)=["']?([^"'#\s]*)["']?\s*(#.*)?$/.exec(line);
    if (m?.[1] && m[2] !== undefined) out[m[1]] = m[2];
  }
  return out;
}

export async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export async function findOnPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && (await isExecutable(path.join(dir, name)))) return path.join(dir, name);
  }
  return undefined;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; stderr is passed through when `inheritStderr` is set. */
export function run(
  cmd: string,
  args: string[],
  opts: { input?: string; inheritStderr?: boolean; env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', opts.inheritStderr ? 'inherit' : 'pipe'],
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, sig) => resolve({ code: code ?? (sig ? 128 : 1), stdout, stderr }));
    // A program that exits without reading its input closes the pipe first: that EPIPE is not an
    // error of ours (its exit code tells), and unhandled it would crash the caller.
    child.stdin?.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') reject(error);
    });
    child.stdin?.end(opts.input ?? '');
  });
}

/** A port that was free on 127.0.0.1 a moment ago (the caller retries on a collision). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

export interface Spawned {
  child: ChildProcess;
  pid: number;
  exited: () => string | undefined;
}

/** Starts `bin` in its own process group with stdout+stderr appended to `logFile`; it outlives us. */
export function spawnDetached(bin: string, args: string[], logFile: string, env?: NodeJS.ProcessEnv): Spawned {
  const fd = openSync(logFile, 'a');
  let exit: string | undefined;
  try {
    const child = spawn(bin, args, { detached: true, stdio: ['ignore', fd, fd], env: env ?? process.env });
    child.on('exit', (code, sig) => (exit = sig ? `killed by ${sig}` : `exited with code ${code}`));
    child.on('error', (err) => (exit = `failed to start: ${err.message}`));
    child.unref();
    if (child.pid === undefined) throw new Error(`failed to start ${bin}`);
    return { child, pid: child.pid, exited: () => exit };
  } finally {
    closeSync(fd);
  }
}

/** True when pid exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** True when pid runs `bin` (its argv[0]), guarding against pid reuse. */
export function runsBinary(pid: number, bin: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] === bin;
  } catch {
    return false;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // the group is gone already
  }
}

/** SIGTERM to the process group of pid, SIGKILL after `graceMs`. */
export async function stopGroup(pid: number, graceMs = 10_000): Promise<void> {
  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isRunning(pid) && Date.now() < deadline) await sleep(100);
  if (isRunning(pid)) signalGroup(pid, 'SIGKILL');
  while (isRunning(pid) && Date.now() < deadline + 5_000) await sleep(50);
}

export async function tail(file: string, lines = 30): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export interface HttpResult {
  status: number;
  body: string;
}

export interface HttpOptions {
  token?: string;
  basic?: { username: string; password: string };
  ca?: string;
  /** Skips certificate verification: only for health checks of our own loopback processes. */
  insecure?: boolean;
  timeoutMs?: number;
}

export function httpGet(url: string, opts: HttpOptions = {}): Promise<HttpResult> {
  const u = new URL(url);
  const lib = u.protocol === 'https:' ? https : http;
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.basic) {
    headers.authorization = `Basic ${Buffer.from(`${opts.basic.username}:${opts.basic.password}`).toString('base64')}`;
  }
  return new Promise((resolve, reject) => {
    const tls = { ...(opts.ca ? { ca: opts.ca } : {}), ...(opts.insecure ? { rejectUnauthorized: false } : {}) };
    const req = lib.get(u, { headers, timeout: opts.timeoutMs ?? 3_000, ...tls }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Polls `check` until it returns true; fails early when the process died or the signal aborts. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  opts: { timeoutMs: number; proc?: Spawned; signal?: AbortSignal },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let last = 'not ready';
  for (;;) {
    opts.signal?.throwIfAborted();
    const exit = opts.proc?.exited();
    if (exit) throw new Error(`${what} ${exit}`);
    try {
      if (await check()) return;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${opts.timeoutMs} ms (${last})`);
    await sleep(200);
  }
}

/** An htpasswd line with a bcrypt hash (what distribution's htpasswd auth accepts). */
export function htpasswdLine(user: string, password: string): string {
  return `${user}:${bcrypt.hashSync(password, 10)}`;
}

export interface NodeTools {
  kubelet: string;
  kubeScheduler: string;
  kubeControllerManager: string;
  containerd: string;
  containerdShim: string;
  ctr: string;
  runc: string;
}

export interface Tools {
  kubeApiserver: string;
  etcd: string;
  kubectl: string | undefined;
  registry: string;
  motoPython: string;
  /** go-containerregistry's crane: image building and pushing without a Docker daemon. */
  crane: string;
  helm: string;
}

async function ensureBuilt(what: string, file: string, signal?: AbortSignal): Promise<string> {
  if (await isExecutable(file)) return file;
  const res = await run(path.join(scriptsDir, 'build-binaries.sh'), [what], { inheritStderr: true, ...(signal ? { signal } : {}) });
  if (res.code !== 0 || !(await isExecutable(file))) throw new Error(`build-binaries.sh ${what} failed (exit ${res.code})`);
  return file;
}

async function ensureMoto(version: string, signal?: AbortSignal): Promise<string> {
  const dir = path.join(cacheDir(), `moto-${version}`);
  const python = path.join(dir, 'bin', 'python');
  if (await isExecutable(python)) return python;
  console.error(`creating moto ${version} virtualenv`);
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  const opts = { inheritStderr: true, ...(signal ? { signal } : {}) };
  const steps: [string, string[]][] = [
    ['python3', ['-m', 'venv', tmp]],
    [path.join(tmp, 'bin', 'pip'), ['install', '--quiet', `moto[server]==${version}`]],
  ];
  for (const [cmd, args] of steps) {
    const res = await run(cmd, args, opts);
    if (res.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${res.code})\n${res.stdout}`);
  }
  renameSync(tmp, dir);
  return python;
}

/** Absolute paths of the stack's binaries, building or installing what is missing. */
export async function ensureTools(opts: { signal?: AbortSignal } = {}): Promise<Tools> {
  const v = readVersions();
  const missing = ['K8S_VERSION', 'ETCD_VERSION', 'MOTO_VERSION', 'DISTRIBUTION_VERSION', 'CONTAINERD_VERSION', 'RUNC_VERSION', 'CRANE_VERSION', 'HELM_VERSION'].filter((k) => !v[k]);
  if (missing.length > 0) throw new Error(`versions.env lacks ${missing.join(', ')}`);
  const cache = cacheDir();
  const k8s = path.join(cache, `k8s-${v.K8S_VERSION}`);
  const assets = process.env.KUBEBUILDER_ASSETS && path.resolve(process.env.KUBEBUILDER_ASSETS);
  const inAssets = async (name: string) => (assets && (await isExecutable(path.join(assets, name))) ? path.join(assets, name) : undefined);
  let kubeApiserver = await inAssets('kube-apiserver');
  let etcd = await inAssets('etcd');
  let kubectl = await inAssets('kubectl');
  if (!kubeApiserver || !etcd) {
    kubeApiserver = await ensureBuilt('k8s', path.join(k8s, 'kube-apiserver'), opts.signal);
    etcd = await ensureBuilt('etcd', path.join(cache, `etcd-${v.ETCD_VERSION}`, 'etcd'), opts.signal);
  }
  if (!kubectl) kubectl = (await isExecutable(path.join(k8s, 'kubectl'))) ? path.join(k8s, 'kubectl') : await findOnPath('kubectl');
  const registry = await ensureBuilt('registry', path.join(cache, `distribution-${v.DISTRIBUTION_VERSION}`, 'registry'), opts.signal);
  const motoPython = await ensureMoto(v.MOTO_VERSION ?? '', opts.signal);
  const crane = await ensureBuilt('crane', path.join(cache, `crane-${v.CRANE_VERSION}`, 'crane'), opts.signal);
  const helm = await ensureBuilt('helm', path.join(cache, `helm-${v.HELM_VERSION}`, 'helm'), opts.signal);
  return { kubeApiserver, etcd, kubectl, registry, motoPython, crane, helm };
}

/** The node's binaries, built (and cached by version) when missing. */
export async function ensureNodeTools(v: Record<string, string>, signal?: AbortSignal): Promise<NodeTools> {
  const cache = cacheDir();
  const k8s = path.join(cache, `k8s-node-${v.K8S_VERSION}`);
  const containerd = path.join(cache, `containerd-${v.CONTAINERD_VERSION}`);
  const runc = await ensureBuilt('runc', path.join(cache, `runc-${v.RUNC_VERSION}`, 'runc'), signal);
  await ensureBuilt('containerd', path.join(containerd, 'containerd'), signal);
  await ensureBuilt('k8s-node', path.join(k8s, 'kubelet'), signal);
  return {
    kubelet: path.join(k8s, 'kubelet'),
    kubeScheduler: path.join(k8s, 'kube-scheduler'),
    kubeControllerManager: path.join(k8s, 'kube-controller-manager'),
    containerd: path.join(containerd, 'containerd'),
    containerdShim: path.join(containerd, 'containerd-shim-runc-v2'),
    ctr: path.join(containerd, 'ctr'),
    runc,
  };
}

/**
 * A lock between processes on one machine: the folder `lock`, created by whoever holds it. Waits
 * (polling every 250 ms; `onWait` once) while another holds it; a lock older than 10 minutes is
 * taken as left by a process that died. Resolves with the release.
 */
export async function acquireFolderLock(lock: string, onWait: () => void = () => undefined): Promise<() => Promise<void>> {
  for (let waited = 0; ; waited += 250) {
    try {
      await mkdir(lock);
      return () => rm(lock, { recursive: true, force: true });
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw error;
      const age = Date.now() - (await stat(lock).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > 10 * 60_000) await rm(lock, { recursive: true, force: true });
      if (waited === 0) onWait();
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
