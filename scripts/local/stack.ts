// The local stack: etcd + kube-apiserver, moto (AWS) and distribution registries, each a detached
// process recorded in DIR/stack.json. Used by `npm run local` (cli.ts) and the test driver.
// Registry auth: a second registry with htpasswd basic auth starts unless `registryAuth: false`.
// The components' launch specs live in components.ts; tests start private, restartable copies of
// them in DIR/private/<name>/ (instance.ts), which stopStack stops as well.
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { NODE_NAMES, answers, apiserverSpec, etcdSpec, launchComponent, motoSpec, registrySpec, writeApiserverFiles, writeAwsEnv, writeKubeconfig } from './components.ts';
import type { ComponentInfo, LaunchSpec } from './components.ts';
import { stopInstances } from './instance.ts';
import { startNodes, stopNodes } from './node/node.ts';
import type { NodeRecord } from './node/node.ts';
import { ensureNodeTools, ensureTools, htpasswdLine, isRunning, readVersions, run, runsBinary, stopGroup } from './procs.ts';
import type { Tools } from './procs.ts';

export { ensureTools };
export type { ComponentInfo, Tools };

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
  /** The real nodes (kubelet and containerd each; one scheduler and controller-manager), when started. */
  nodes?: NodeRecord[] | undefined;
}

export interface ComponentStatus {
  name: string;
  running: boolean;
  pid: number;
  address: string;
}

export interface StartOptions {
  registryAuth?: boolean;
  /** Start the real node too (default: PIGGY_LOCAL_NODE, else on). */
  node?: boolean;
  signal?: AbortSignal;
}

/** PIGGY_LOCAL_NODE=0 starts the stack without the real nodes (faster; pods then stay Pending). */
export const nodeWanted = (opts: StartOptions): boolean => opts.node ?? process.env.PIGGY_LOCAL_NODE !== '0';

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
  apiserverFiles?: ReturnType<typeof writeApiserverFiles>;
}

/** Starts one component, recording its pid in stack.json before waiting for it. */
function launch(ctx: Ctx, spec: LaunchSpec): Promise<ComponentInfo> {
  const onSpawn = (info: ComponentInfo) => {
    ctx.rec.components.push(info);
    writeRecord(ctx.rec);
  };
  return launchComponent(spec, { logDir: path.join(ctx.rec.dir, 'logs'), signal: ctx.signal, onSpawn });
}

async function startApiserver(ctx: Ctx, etcd: ComponentInfo, serviceAccountAdmission: boolean): Promise<void> {
  const { dir } = ctx.rec;
  const files = writeApiserverFiles(path.join(dir, 'apiserver'));
  ctx.apiserverFiles = files;
  const info = await launch(ctx, apiserverSpec(ctx.tools, { files, etcdUrl: etcd.url, serviceAccountAdmission }));
  const kubeconfig = path.join(dir, 'kubeconfig');
  writeKubeconfig(kubeconfig, info.url, await readFile(files.crt, 'utf8'), files.token);
  if (ctx.tools.kubectl) {
    const res = await run(ctx.tools.kubectl, ['--kubeconfig', kubeconfig, 'get', 'ns']);
    if (res.code !== 0) throw new Error(`kubectl get ns failed: ${res.stderr.trim()}`);
  }
  Object.assign(ctx.rec, { kubeconfig, apiserverUrl: info.url });
}

async function startMoto(ctx: Ctx): Promise<void> {
  const info = await launch(ctx, motoSpec(ctx.tools));
  const awsEnvFile = path.join(ctx.rec.dir, 'aws.env');
  writeAwsEnv(awsEnvFile, info.url);
  Object.assign(ctx.rec, { awsEndpoint: info.url, awsEnvFile });
}

async function startRegistries(ctx: Ctx, want: boolean | undefined): Promise<void> {
  const { dir } = ctx.rec;
  const open = await launch(ctx, registrySpec(ctx.tools, dir, 'registry'));
  const host = open.url.replace('http://', '');
  writeFileSync(path.join(dir, 'registry'), `${host}\n`);
  ctx.rec.registryHost = host;
  if (want === false) return;
  const username = 'piggy';
  const password = randomBytes(12).toString('hex');
  const line = htpasswdLine(username, password);
  const file = path.join(dir, 'registry-auth.htpasswd');
  writeFileSync(file, `${line}\n`, { mode: 0o600 });
  const info = await launch(ctx, registrySpec(ctx.tools, dir, 'registry-auth', file));
  if (!(await answers(`${info.url}/v2/`, 200, { basic: { username, password } }))) throw new Error('registry-auth rejects its own credentials');
  const registryAuth = { host: info.url.replace('http://', ''), username, password };
  writeFileSync(path.join(dir, 'registry-auth.json'), `${JSON.stringify(registryAuth, null, 2)}\n`, { mode: 0o600 });
  ctx.rec.registryAuth = registryAuth;
}

async function startRealNode(ctx: Ctx): Promise<void> {
  const { rec, tools } = ctx;
  if (!tools.kubectl || !ctx.apiserverFiles || !rec.kubeconfig || !rec.apiserverUrl || !rec.registryHost) throw new Error('the node needs kubectl, the apiserver and the registry');
  const nodeTools = await ensureNodeTools(readVersions(), ctx.signal);
  const registries = [rec.registryHost, ...(rec.registryAuth ? [rec.registryAuth.host] : [])];
  rec.nodes = await startNodes({
    dir: rec.dir, tools: nodeTools, crane: tools.crane, kubectl: tools.kubectl, apiserverUrl: rec.apiserverUrl, apiserverFiles: ctx.apiserverFiles,
    kubeconfig: rec.kubeconfig, registries, signal: ctx.signal,
    onSpawn: (info) => {
      rec.components.push(info);
      writeRecord(rec);
    },
    onRecord: (nodes) => {
      rec.nodes = [...nodes];
      writeRecord(rec);
    },
  }, NODE_NAMES);
  writeRecord(rec);
}

/** Where tests' private instances live (see instance.ts). */
export const privateDir = (dir: string): string => path.join(path.resolve(dir), 'private');

const generated = ['private', 'node-1', 'node-2', 'apiserver-ca.crt', 'controller-manager-flex', 'etcd', 'apiserver', 'registry-data', 'registry-auth-data', 'kubeconfig', 'aws.env', 'registry', 'registry-auth.json', 'registry-auth.htpasswd'];

/** Starts a fresh stack in DIR; on failure stops what it started and throws with the log tail. */
export async function startStack(dir: string, opts: StartOptions = {}, toolsIn?: Tools): Promise<StackInfo> {
  dir = path.resolve(dir);
  if ((await stackStatus(dir)).some((c) => c.running)) throw new Error(`a stack is already running in ${dir}`);
  const tools = toolsIn ?? (await ensureTools(opts.signal ? { signal: opts.signal } : {}));
  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  await stopInstances(privateDir(dir)); // orphans of a stack that was not stopped cleanly
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
    launch(ctx, etcdSpec(tools, dir)).then((etcd) => startApiserver(ctx, etcd, nodeWanted(opts))).catch(fail),
    startMoto(ctx).catch(fail),
    startRegistries(ctx, opts.registryAuth).catch(fail),
  ]);
  const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (errors.length === 0 && nodeWanted(opts)) await startRealNode(ctx).catch((err: unknown) => errors.push(err));
  if (errors.length > 0) {
    await stopStack(dir);
    throw first ?? errors[0];
  }
  rec.ready = true;
  writeRecord(rec);
  return rec as StackInfo;
}

/**
 * Stops the recorded processes (reverse start order) that still run their recorded binary, after
 * any private instance a test left behind in DIR/private.
 */
export async function stopStack(dir: string): Promise<void> {
  await stopInstances(privateDir(dir));
  const rec = await readRecord(path.resolve(dir));
  if (!rec) return;
  if (rec.nodes) await stopNodes(rec.nodes, rec.components);
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
