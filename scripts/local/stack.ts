// The local stack: etcd + kube-apiserver, moto (AWS) and distribution registries, each a detached
// process recorded in DIR/stack.json. Used by `npm run local` (cli.ts) and the test driver.
// Registry auth: a second registry with htpasswd basic auth starts unless `registryAuth: false`.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { ensureTools, freePort, htpasswdLine, httpGet, isRunning, run, runsBinary, spawnDetached, stopGroup, tail, waitUntil } from './procs.ts';
import type { HttpOptions, Tools } from './procs.ts';

export { ensureTools };
export type { Tools };

export interface ComponentInfo {
  name: string;
  pid: number;
  bin: string;
  args: string[];
  ports: number[];
  url: string;
  log: string;
  startedAt: string;
}

export interface RegistryAuth {
  host: string;
  username: string;
  password: string;
}

export interface StackInfo {
  dir: string;
  ready: boolean;
  startedAt: string;
  tools: Tools;
  components: ComponentInfo[];
  kubeconfig: string;
  apiserverUrl: string;
  awsEndpoint: string;
  awsEnvFile: string;
  registryHost: string;
  registryAuth: RegistryAuth | undefined;
}

export interface ComponentStatus {
  name: string;
  running: boolean;
  pid: number;
  address: string;
}

export interface StartOptions {
  registryAuth?: boolean;
  signal?: AbortSignal;
}

type StackRecord = Partial<StackInfo> & Pick<StackInfo, 'dir' | 'ready' | 'components'>;

const stackFile = (dir: string) => path.join(dir, 'stack.json');

async function readRecord(dir: string): Promise<StackRecord | undefined> {
  try {
    return JSON.parse(await readFile(stackFile(dir), 'utf8')) as StackRecord;
  } catch {
    return undefined;
  }
}

function writeRecord(rec: StackRecord): void {
  writeFileSync(`${stackFile(rec.dir)}.tmp`, `${JSON.stringify(rec, null, 2)}\n`);
  renameSync(`${stackFile(rec.dir)}.tmp`, stackFile(rec.dir));
}

/** The stack recorded in DIR/stack.json once it finished starting, else undefined. */
export async function readStack(dir: string): Promise<StackInfo | undefined> {
  const rec = await readRecord(path.resolve(dir));
  return rec?.ready ? (rec as StackInfo) : undefined;
}

interface Ctx {
  rec: StackRecord;
  tools: Tools;
  signal: AbortSignal;
}

interface Launch {
  name: string;
  bin: string;
  ports: number;
  args: (ports: number[]) => string[];
  url: (ports: number[]) => string;
  ready: (url: string) => Promise<boolean>;
  timeoutMs: number;
  prepare?: (ports: number[]) => void;
  env?: NodeJS.ProcessEnv;
}

async function pickPorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < n) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  return ports;
}

/** Starts one component and waits for it, retrying on a port collision. */
async function launch(ctx: Ctx, spec: Launch): Promise<ComponentInfo> {
  const log = path.join(ctx.rec.dir, 'logs', `${spec.name}.log`);
  for (let attempt = 1; ; attempt++) {
    ctx.signal.throwIfAborted();
    const ports = await pickPorts(spec.ports);
    spec.prepare?.(ports);
    writeFileSync(log, '');
    const args = spec.args(ports);
    const proc = spawnDetached(spec.bin, args, log, spec.env);
    const info = { name: spec.name, pid: proc.pid, bin: spec.bin, args, ports, url: spec.url(ports), log, startedAt: new Date().toISOString() };
    ctx.rec.components.push(info);
    writeRecord(ctx.rec);
    try {
      await waitUntil(spec.name, () => spec.ready(info.url), { timeoutMs: spec.timeoutMs, proc, signal: ctx.signal });
      return info;
    } catch (err) {
      await stopGroup(proc.pid, 3_000);
      if (ctx.signal.aborted) throw err;
      const lines = await tail(log);
      if (attempt < 3 && /address already in use/i.test(lines)) continue;
      const msg = err instanceof Error ? err.message : String(err);
      throw new Error(`${spec.name} failed: ${msg}\n--- last lines of ${log} ---\n${lines}`, { cause: err });
    }
  }
}

const ok = (status: number) => async (url: string, opts?: HttpOptions) => (await httpGet(url, opts)).status === status;

async function startEtcd(ctx: Ctx): Promise<ComponentInfo> {
  const data = path.join(ctx.rec.dir, 'etcd');
  return launch(ctx, {
    name: 'etcd',
    bin: ctx.tools.etcd,
    ports: 2,
    prepare: () => rmSync(data, { recursive: true, force: true }),
    args: ([client, peer]) => {
      const [c, p] = [`http://127.0.0.1:${client}`, `http://127.0.0.1:${peer}`];
      return ['--name=default', `--data-dir=${data}`, `--listen-client-urls=${c}`, `--advertise-client-urls=${c}`,
        `--listen-peer-urls=${p}`, `--initial-advertise-peer-urls=${p}`, `--initial-cluster=default=${p}`, '--unsafe-no-fsync'];
    },
    url: ([client]) => `http://127.0.0.1:${client}`,
    ready: async (url) => (JSON.parse((await httpGet(`${url}/health`)).body) as { health?: string }).health === 'true',
    timeoutMs: 30_000,
  });
}

function apiserverFiles(dir: string): { token: string; tokenFile: string; pub: string; key: string } {
  const certs = path.join(dir, 'apiserver');
  rmSync(certs, { recursive: true, force: true });
  mkdirSync(certs, { recursive: true, mode: 0o700 });
  const token = randomBytes(24).toString('hex');
  const tokenFile = path.join(certs, 'tokens.csv');
  writeFileSync(tokenFile, `${token},piggy-admin,piggy-admin,"system:masters"\n`, { mode: 0o600 });
  const pair = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const [pub, key] = [path.join(certs, 'sa.pub'), path.join(certs, 'sa.key')];
  writeFileSync(pub, pair.publicKey);
  writeFileSync(key, pair.privateKey, { mode: 0o600 });
  return { token, tokenFile, pub, key };
}

function writeKubeconfig(file: string, server: string, ca: string, token: string): void {
  const cluster = { server, 'certificate-authority-data': Buffer.from(ca).toString('base64') };
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'piggy-local', cluster }],
    users: [{ name: 'piggy-admin', user: { token } }],
    contexts: [{ name: 'piggy-local', context: { cluster: 'piggy-local', user: 'piggy-admin', namespace: 'default' } }],
    'current-context': 'piggy-local',
  };
  writeFileSync(file, stringify(config), { mode: 0o600 });
}

async function startApiserver(ctx: Ctx, etcd: ComponentInfo): Promise<void> {
  const { dir } = ctx.rec;
  const files = apiserverFiles(dir);
  const crt = path.join(dir, 'apiserver', 'apiserver.crt');
  const issuer = 'https://kubernetes.default.svc.cluster.local';
  const info = await launch(ctx, {
    name: 'kube-apiserver',
    bin: ctx.tools.kubeApiserver,
    ports: 1,
    args: ([port]) => [`--etcd-servers=${etcd.url}`, '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1',
      `--secure-port=${port}`, `--cert-dir=${path.dirname(crt)}`, '--service-cluster-ip-range=10.0.0.0/24',
      '--authorization-mode=RBAC', `--token-auth-file=${files.tokenFile}`, `--service-account-key-file=${files.pub}`,
      `--service-account-signing-key-file=${files.key}`, `--service-account-issuer=${issuer}`, `--api-audiences=${issuer}`,
      '--disable-admission-plugins=ServiceAccount', '--enable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook',
      '--allow-privileged=true', '--endpoint-reconciler-type=none'],
    url: ([port]) => `https://127.0.0.1:${port}`,
    ready: async (url) => ok(200)(`${url}/readyz`, { token: files.token, ca: await readFile(crt, 'utf8') }),
    timeoutMs: 90_000,
  });
  const kubeconfig = path.join(dir, 'kubeconfig');
  writeKubeconfig(kubeconfig, info.url, await readFile(crt, 'utf8'), files.token);
  if (ctx.tools.kubectl) {
    const res = await run(ctx.tools.kubectl, ['--kubeconfig', kubeconfig, 'get', 'ns']);
    if (res.code !== 0) throw new Error(`kubectl get ns failed: ${res.stderr.trim()}`);
  }
  Object.assign(ctx.rec, { kubeconfig, apiserverUrl: info.url });
}

async function startMoto(ctx: Ctx): Promise<void> {
  const info = await launch(ctx, {
    name: 'moto',
    bin: ctx.tools.motoPython,
    ports: 1,
    args: ([port]) => ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)],
    url: ([port]) => `http://127.0.0.1:${port}`,
    ready: (url) => ok(200)(`${url}/moto-api/`),
    timeoutMs: 60_000,
  });
  const awsEnvFile = path.join(ctx.rec.dir, 'aws.env');
  const env = { AWS_ENDPOINT_URL: info.url, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_DEFAULT_REGION: 'us-east-1' };
  writeFileSync(awsEnvFile, Object.entries(env).map(([k, v]) => `export ${k}=${v}\n`).join(''));
  Object.assign(ctx.rec, { awsEndpoint: info.url, awsEnvFile });
}

function registrySpec(ctx: Ctx, name: string, htpasswd?: string): Launch {
  const config = path.join(ctx.rec.dir, `${name}.yml`);
  const data = path.join(ctx.rec.dir, `${name}-data`);
  const auth = htpasswd ? { htpasswd: { realm: 'piggy', path: htpasswd } } : undefined;
  return {
    name,
    bin: ctx.tools.registry,
    ports: 1,
    prepare: ([port]) => {
      rmSync(data, { recursive: true, force: true });
      const http = { addr: `127.0.0.1:${port}`, secret: randomBytes(16).toString('hex') };
      const cfg = { version: 0.1, log: { level: 'info' }, storage: { filesystem: { rootdirectory: data }, delete: { enabled: true } }, http, ...(auth ? { auth } : {}) };
      writeFileSync(config, stringify(cfg));
    },
    args: () => ['serve', config],
    env: { ...process.env, OTEL_TRACES_EXPORTER: 'none' },
    url: ([port]) => `http://127.0.0.1:${port}`,
    ready: (url) => ok(auth ? 401 : 200)(`${url}/v2/`),
    timeoutMs: 30_000,
  };
}

async function startRegistries(ctx: Ctx, want: boolean | undefined): Promise<void> {
  const open = await launch(ctx, registrySpec(ctx, 'registry'));
  const host = open.url.replace('http://', '');
  writeFileSync(path.join(ctx.rec.dir, 'registry'), `${host}\n`);
  ctx.rec.registryHost = host;
  if (want === false) return;
  const username = 'piggy';
  const password = randomBytes(12).toString('hex');
  const line = htpasswdLine(username, password);
  const file = path.join(ctx.rec.dir, 'registry-auth.htpasswd');
  writeFileSync(file, `${line}\n`, { mode: 0o600 });
  const info = await launch(ctx, registrySpec(ctx, 'registry-auth', file));
  if (!(await ok(200)(`${info.url}/v2/`, { basic: { username, password } }))) throw new Error('registry-auth rejects its own credentials');
  const registryAuth = { host: info.url.replace('http://', ''), username, password };
  writeFileSync(path.join(ctx.rec.dir, 'registry-auth.json'), `${JSON.stringify(registryAuth, null, 2)}\n`, { mode: 0o600 });
  ctx.rec.registryAuth = registryAuth;
}

const generated = ['etcd', 'apiserver', 'registry-data', 'registry-auth-data', 'kubeconfig', 'aws.env', 'registry', 'registry-auth.json', 'registry-auth.htpasswd'];

/** Starts a fresh stack in DIR; on failure stops what it started and throws with the log tail. */
export async function startStack(dir: string, opts: StartOptions = {}, toolsIn?: Tools): Promise<StackInfo> {
  dir = path.resolve(dir);
  if ((await stackStatus(dir)).some((c) => c.running)) throw new Error(`a stack is already running in ${dir}`);
  const tools = toolsIn ?? (await ensureTools(opts.signal ? { signal: opts.signal } : {}));
  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  for (const f of generated) rmSync(path.join(dir, f), { recursive: true, force: true });
  const rec: StackRecord = { dir, ready: false, startedAt: new Date().toISOString(), tools, components: [] };
  writeRecord(rec);
  const failed = new AbortController();
  const ctx: Ctx = { rec, tools, signal: opts.signal ? AbortSignal.any([opts.signal, failed.signal]) : failed.signal };
  let first: unknown;
  const fail = (err: unknown) => {
    first ??= err;
    failed.abort();
    throw err;
  };
  const results = await Promise.allSettled([
    startEtcd(ctx).then((etcd) => startApiserver(ctx, etcd)).catch(fail),
    startMoto(ctx).catch(fail),
    startRegistries(ctx, opts.registryAuth).catch(fail),
  ]);
  const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (errors.length > 0) {
    await stopStack(dir);
    throw first ?? errors[0];
  }
  rec.ready = true;
  writeRecord(rec);
  return rec as StackInfo;
}

/** Stops the recorded processes (reverse start order) that still run their recorded binary. */
export async function stopStack(dir: string): Promise<void> {
  const rec = await readRecord(path.resolve(dir));
  if (!rec) return;
  for (const c of [...rec.components].reverse()) {
    if (isRunning(c.pid) && runsBinary(c.pid, c.bin)) await stopGroup(c.pid);
  }
  rmSync(stackFile(rec.dir), { force: true });
}

export async function stackStatus(dir: string): Promise<ComponentStatus[]> {
  const rec = await readRecord(path.resolve(dir));
  return (rec?.components ?? []).map((c) => ({
    name: c.name,
    running: isRunning(c.pid) && runsBinary(c.pid, c.bin),
    pid: c.pid,
    address: c.url,
  }));
}
