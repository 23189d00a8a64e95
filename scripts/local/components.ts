// The local stack's components, one launch spec each (etcd, kube-apiserver, moto, registry), and the
// launcher that starts a spec and waits for it. Shared by stack.ts (the stack in a folder) and
// instance.ts (private, restartable copies for one test).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { freePort, httpGet, spawnDetached, stopGroup, tail, waitUntil } from './procs.ts';
import type { HttpOptions, Tools } from './procs.ts';

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

/** How to start one component: its binary, how many ports, its argv, URL and readiness check. */
export interface LaunchSpec {
  name: string;
  bin: string;
  ports: number;
  args: (ports: number[]) => string[];
  url: (ports: number[]) => string;
  ready: (url: string) => Promise<boolean>;
  timeoutMs: number;
  /** Runs before every start attempt (also before a restart). */
  prepare?: (ports: number[]) => void;
  env?: NodeJS.ProcessEnv;
  /** The program the process runs once started, when `bin` execs into it (nsenter, unshare). */
  execs?: string;
}

export interface LaunchOptions {
  /** The log goes to LOGDIR/<name>.log. */
  logDir: string;
  signal?: AbortSignal | undefined;
  /** Fixed ports (a restart); by default free ones are picked, and picked again on a collision. */
  ports?: number[] | undefined;
  /** Appends to the log instead of starting it afresh. */
  keepLog?: boolean | undefined;
  /** Called right after the spawn, before the wait: record the pid so a crash can be cleaned up. */
  onSpawn?: ((info: ComponentInfo) => void) | undefined;
}

async function pickPorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < n) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  return ports;
}

/** Starts one component and waits for it, retrying on a port collision; stops it when it fails. */
export async function launchComponent(spec: LaunchSpec, opts: LaunchOptions): Promise<ComponentInfo> {
  const log = path.join(opts.logDir, `${spec.name}.log`);
  for (let attempt = 1; ; attempt++) {
    opts.signal?.throwIfAborted();
    const ports = opts.ports ?? (await pickPorts(spec.ports));
    spec.prepare?.(ports);
    if (opts.keepLog) writeFileSync(log, `--- start ${new Date().toISOString()} ---\n`, { flag: 'a' });
    else writeFileSync(log, '');
    const args = spec.args(ports);
    const proc = spawnDetached(spec.bin, args, log, spec.env);
    const info = { name: spec.name, pid: proc.pid, bin: spec.execs ?? spec.bin, args, ports, url: spec.url(ports), log, startedAt: new Date().toISOString() };
    opts.onSpawn?.(info);
    try {
      await waitUntil(spec.name, () => spec.ready(info.url), { timeoutMs: spec.timeoutMs, proc, ...(opts.signal ? { signal: opts.signal } : {}) });
      return info;
    } catch (err) {
      await stopGroup(proc.pid, 3_000);
      if (opts.signal?.aborted) throw err;
      const lines = await tail(log);
      if (attempt < 3 && /address already in use/i.test(lines)) continue;
      const msg = err instanceof Error ? err.message : String(err);
      throw new Error(`${spec.name} failed: ${msg}\n--- last lines of ${log} ---\n${lines}`, { cause: err });
    }
  }
}

const ok = (status: number) => async (url: string, opts?: HttpOptions) => (await httpGet(url, opts)).status === status;

/** etcd with its data in DIR/etcd, wiped before each start. */
export function etcdSpec(tools: Tools, dir: string): LaunchSpec {
  const data = path.join(dir, 'etcd');
  return {
    name: 'etcd',
    bin: tools.etcd,
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
  };
}

/**
 * The local nodes' names. An IP-shaped hostname becomes the node's InternalIP without the loopback
 * check (real-node.md, pitfall 4), so hostNetwork pods on node N get podIP 127.0.0.N: two controller
 * replicas on two nodes listen on $(POD_IP) without colliding.
 */
export const NODE_NAMES = ['127.0.0.1', '127.0.0.2'] as const;

/** The kube-apiserver's own files: its cert dir, admin token and service-account key pair. */
export interface ApiserverFiles {
  certDir: string;
  /** The self-signed serving certificate the apiserver writes into certDir on its first start. */
  crt: string;
  token: string;
  /** Each real node's kubelet: user system:node:<name> in group system:nodes. */
  nodeTokens: Record<string, string>;
  tokenFile: string;
  pub: string;
  key: string;
}

/** Creates CERTDIR afresh with a random admin token (system:masters) and a service-account key pair. */
export function writeApiserverFiles(certDir: string): ApiserverFiles {
  rmSync(certDir, { recursive: true, force: true });
  mkdirSync(certDir, { recursive: true, mode: 0o700 });
  const token = randomBytes(24).toString('hex');
  const nodeTokens = Object.fromEntries(NODE_NAMES.map((name) => [name, randomBytes(24).toString('hex')]));
  const tokenFile = path.join(certDir, 'tokens.csv');
  const nodeLines = Object.entries(nodeTokens).map(([name, t]) => `${t},system:node:${name},system:node:${name},"system:nodes"\n`);
  writeFileSync(tokenFile, [`${token},piggy-admin,piggy-admin,"system:masters"\n`, ...nodeLines].join(''), { mode: 0o600 });
  const pair = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const [pub, key] = [path.join(certDir, 'sa.pub'), path.join(certDir, 'sa.key')];
  writeFileSync(pub, pair.publicKey);
  writeFileSync(key, pair.privateKey, { mode: 0o600 });
  return { certDir, crt: path.join(certDir, 'apiserver.crt'), token, nodeTokens, tokenFile, pub, key };
}

export function writeKubeconfig(file: string, server: string, ca: string, token: string): void {
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

export interface ApiserverOptions {
  files: ApiserverFiles;
  etcdUrl: string;
  /** --etcd-prefix; the apiserver's default (/registry) when unset. */
  etcdPrefix?: string | undefined;
  /**
   * The ServiceAccount admission plugin (default SA, token automount): on where a controller-manager
   * creates the namespaces' default service accounts (the stack with its real nodes), else off.
   */
  serviceAccountAdmission?: boolean | undefined;
}

/**
 * kube-apiserver on etcd. A restart with the same files keeps the serving certificate (it is only
 * generated when certDir lacks one), the token and the service-account keys.
 */
export function apiserverSpec(tools: Tools, opts: ApiserverOptions): LaunchSpec {
  const { files } = opts;
  const issuer = 'https://kubernetes.default.svc.cluster.local';
  return {
    name: 'kube-apiserver',
    bin: tools.kubeApiserver,
    ports: 1,
    args: ([port]) => [`--etcd-servers=${opts.etcdUrl}`, ...(opts.etcdPrefix ? [`--etcd-prefix=${opts.etcdPrefix}`] : []),
      '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1',
      `--secure-port=${port}`, `--cert-dir=${files.certDir}`, '--service-cluster-ip-range=10.0.0.0/24',
      '--authorization-mode=RBAC', `--token-auth-file=${files.tokenFile}`, `--service-account-key-file=${files.pub}`,
      `--service-account-signing-key-file=${files.key}`, `--service-account-issuer=${issuer}`, `--api-audiences=${issuer}`,
      ...(opts.serviceAccountAdmission === true ? [] : ['--disable-admission-plugins=ServiceAccount']),
      `--enable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook${opts.serviceAccountAdmission === true ? ',ServiceAccount' : ''}`,
      '--allow-privileged=true', '--endpoint-reconciler-type=none'],
    url: ([port]) => `https://127.0.0.1:${port}`,
    ready: async (url) => ok(200)(`${url}/readyz`, { token: files.token, ca: await readFile(files.crt, 'utf8') }),
    timeoutMs: 90_000,
  };
}

/** moto's server mode: every AWS service on one port, state in memory only. */
export function motoSpec(tools: Tools): LaunchSpec {
  return {
    name: 'moto',
    bin: tools.motoPython,
    ports: 1,
    args: ([port]) => ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)],
    url: ([port]) => `http://127.0.0.1:${port}`,
    ready: (url) => ok(200)(`${url}/moto-api/`),
    timeoutMs: 60_000,
  };
}

/** The AWS_* variables that point the SDK's default chain at a moto endpoint. */
export function buildAwsEnv(endpoint: string): Record<string, string> {
  return { AWS_ENDPOINT_URL: endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_DEFAULT_REGION: 'us-east-1' };
}

/** Writes buildAwsEnv(endpoint) as `export K=V` lines (what `source` and the test driver read). */
export function writeAwsEnv(file: string, endpoint: string): void {
  writeFileSync(file, Object.entries(buildAwsEnv(endpoint)).map(([k, v]) => `export ${k}=${v}\n`).join(''));
}

/** A distribution registry named NAME with DIR/NAME.yml and DIR/NAME-data, htpasswd auth if given. */
export function registrySpec(tools: Tools, dir: string, name: string, htpasswd?: string): LaunchSpec {
  const config = path.join(dir, `${name}.yml`);
  const data = path.join(dir, `${name}-data`);
  const auth = htpasswd ? { htpasswd: { realm: 'piggy', path: htpasswd } } : undefined;
  return {
    name,
    bin: tools.registry,
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

/** True when GET URL answers STATUS (with the given token, basic credentials or CA). */
export const answers = (url: string, status: number, opts?: HttpOptions): Promise<boolean> => ok(status)(url, opts);
