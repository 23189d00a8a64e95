// The local stack's real nodes: per node, containerd + runc and the kubelet in a private mount
// namespace; kube-scheduler and kube-controller-manager on the host; a locally built pause image.
// Nodes `127.0.0.1` and `127.0.0.2`, Ready a few seconds after the start; only hostNetwork pods (no
// CNI plugin). stopNodes leaves nothing behind: no process, mount, cgroup or file outside DIR.
// The facts behind every setting: ../shared/real-node.md.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { launchComponent } from '../components.ts';
import type { ApiserverFiles, ComponentInfo, LaunchSpec } from '../components.ts';
import { httpGet, isRunning, run, runsBinary, sleep, stopGroup } from '../procs.ts';
import type { NodeTools } from '../procs.ts';
import { createCgroupRoot, processesInCgroupRoot, removeCgroupRoot } from './cgroups.ts';
import { buildCniConfig, buildContainerdConfig, buildKubeletConfig, buildNodeLayout, buildRegistryHosts, buildTokenKubeconfig, pickCaCertificate } from './files.ts';
import type { NodeLayout } from './files.ts';
import { processesInNamespace, requiredTool, startHolder } from './namespace.ts';
import { pushPauseImage } from './pause-image.ts';

/** What stopNodes needs of one node, recorded in stack.json. */
export interface NodeRecord {
  readonly name: string;
  readonly dir: string;
  readonly cgroupRoot: string;
  readonly mountNamespace: string;
  readonly holderPid: number;
  readonly containerdSocket: string;
  readonly shim: string;
  /** argv[0] of every process of ours that may live in the namespace (holder, containerd, shims, kubelet, runc). */
  readonly binaries: readonly string[];
  readonly pauseImage: string;
  readonly kubeletPort: number;
}

export interface NodeStartOptions {
  /** The stack folder: node N lives in DIR/node-N, logs in DIR/logs. */
  readonly dir: string;
  readonly tools: NodeTools;
  readonly crane: string;
  readonly kubectl: string;
  readonly apiserverUrl: string;
  readonly apiserverFiles: ApiserverFiles;
  readonly kubeconfig: string;
  /** host:port of every registry the nodes pull from (plain HTTP on loopback); the first gets the pause image. */
  readonly registries: readonly string[];
  readonly signal?: AbortSignal | undefined;
  /** Record each process as soon as it is spawned (so a failed start is cleaned up). */
  readonly onSpawn: (info: ComponentInfo) => void;
  readonly onRecord: (nodes: readonly NodeRecord[]) => void;
}

/** Node 127.0.0.N's short name N: its folder, component and cgroup names. */
const suffixOf = (name: string): string => name.split('.').pop() ?? name;

/** The cgroup root of node NAME of stack DIR: one per node and stack, so two never share one. */
export const cgroupRootFor = (dir: string, name: string): string =>
  `/piggy-node-${createHash('sha256').update(path.resolve(dir)).digest('hex').slice(0, 10)}-${suffixOf(name)}`;

/** The kubelets' identity is the apiserver's static node token; RBAC gives group system:nodes the node role. */
const NODE_RBAC = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: piggy-local-nodes}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: 'system:node'}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: 'system:nodes'}
`;

function writeFiles(layout: NodeLayout, opts: NodeStartOptions, name: string, pauseImage: string): void {
  for (const d of [layout.containerdRoot, layout.containerdState, layout.cniBinDir, layout.cniConfDir, layout.cdiDir, layout.runcRoot, layout.kubeletRoot, layout.kubeletCertDir, layout.podLogs, layout.volumePluginDir, layout.flexVolumeDir, path.join(layout.dir, 'tmp')]) {
    mkdirSync(d, { recursive: true });
  }
  mkdirSync(path.dirname(layout.containerdConfig), { recursive: true });
  writeFileSync(layout.containerdConfig, buildContainerdConfig(layout, { runc: opts.tools.runc, pauseImage, platform: 'linux/amd64' }));
  for (const host of opts.registries) {
    mkdirSync(path.join(layout.certsDir, host), { recursive: true });
    writeFileSync(path.join(layout.certsDir, host, 'hosts.toml'), buildRegistryHosts(host));
  }
  writeFileSync(path.join(layout.cniConfDir, '10-loopback.conflist'), buildCniConfig());
  const ca = readFileSync(opts.apiserverFiles.crt, 'utf8');
  const token = opts.apiserverFiles.nodeTokens[name];
  if (token === undefined) throw new Error(`the apiserver has no token for node ${name}`);
  writeFileSync(layout.kubeletKubeconfig, buildTokenKubeconfig(opts.apiserverUrl, ca, `system:node:${name}`, token), { mode: 0o600 });
}

function nodeEnv(layout: NodeLayout, tools: NodeTools): NodeJS.ProcessEnv {
  // TMPDIR: containerd's temporary mounts and the kubelet's scratch files stay in the node folder.
  return { PATH: `${path.dirname(tools.containerd)}:${process.env.PATH ?? '/usr/bin:/bin'}`, TMPDIR: path.join(layout.dir, 'tmp'), HOME: process.env.HOME ?? '/root' };
}

interface NodeJson {
  metadata?: { name?: string };
  spec?: { taints?: { key: string }[] };
  status?: { conditions?: { type: string; status: string }[] };
}

/** The names of the nodes that are Ready and carry no node.kubernetes.io/* taint. */
async function readyNodes(kubectl: string, kubeconfig: string): Promise<string[]> {
  const res = await run(kubectl, ['--kubeconfig', kubeconfig, 'get', 'nodes', '-o', 'json']);
  if (res.code !== 0) return [];
  return ((JSON.parse(res.stdout) as { items: NodeJson[] }).items)
    .filter((node) => (node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false) && !(node.spec?.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/')))
    .map((node) => node.metadata?.name ?? '');
}

type Launch = (spec: LaunchSpec) => Promise<ComponentInfo>;

/** One node's containerd and kubelet in its own mount namespace (the kubelet's hard-coded paths collide otherwise). */
async function startRuntime(opts: NodeStartOptions, name: string, pauseImage: string, launch: Launch, record: (node: NodeRecord) => void): Promise<NodeRecord> {
  const suffix = suffixOf(name);
  const layout = buildNodeLayout(path.join(path.resolve(opts.dir), `node-${suffix}`));
  rmSync(layout.dir, { recursive: true, force: true });
  writeFiles(layout, opts, name, pauseImage);
  const cgroupRoot = cgroupRootFor(opts.dir, name);
  await removeCgroupRoot(cgroupRoot); // a node of this stack that was not stopped cleanly
  createCgroupRoot(cgroupRoot);
  const holder = await startHolder(layout.dir, layout.sysctlDir, path.join(opts.dir, 'logs', `node-${suffix}-namespace.log`));
  let node: NodeRecord = {
    name, dir: layout.dir, cgroupRoot, mountNamespace: holder.mountNamespace, holderPid: holder.pid,
    containerdSocket: layout.containerdSocket, shim: opts.tools.containerdShim, pauseImage, kubeletPort: 0,
    binaries: [holder.bin, opts.tools.containerd, opts.tools.containerdShim, opts.tools.kubelet, opts.tools.runc],
  };
  record(node);
  const nsenter = await requiredTool('nsenter');
  const env = nodeEnv(layout, opts.tools);
  const joined = (bin: string, args: string[]) => ['-t', String(holder.pid), '-m', '--', bin, ...args];
  await launch({
    name: `containerd-${suffix}`, bin: nsenter, execs: opts.tools.containerd, ports: 0, env,
    args: () => joined(opts.tools.containerd, ['--config', layout.containerdConfig]),
    url: () => `unix://${layout.containerdSocket}`,
    ready: async () => (await run(opts.tools.ctr, ['--address', layout.containerdSocket, 'version'])).code === 0,
    timeoutMs: 30_000,
  });
  let healthz = 0; // the port of the current start attempt (a collision picks new ones)
  const kubelet = await launch({
    name: `kubelet-${suffix}`, bin: nsenter, execs: opts.tools.kubelet, ports: 2, env,
    prepare: ([port = 0, healthzPort = 0]) => {
      healthz = healthzPort;
      writeFileSync(layout.kubeletConfig, buildKubeletConfig(layout, { cgroupRoot, address: name, port, healthzPort }));
    },
    args: () => joined(opts.tools.kubelet, [`--config=${layout.kubeletConfig}`, `--kubeconfig=${layout.kubeletKubeconfig}`, `--hostname-override=${name}`,
      `--root-dir=${layout.kubeletRoot}`, `--cert-dir=${layout.kubeletCertDir}`, '--v=1']),
    url: ([port = 0]) => `https://${name}:${port}`,
    ready: async () => (await httpGet(`http://${name}:${healthz}/healthz`)).status === 200,
    timeoutMs: 60_000,
  });
  node = { ...node, kubeletPort: kubelet.ports[0] ?? 0 };
  record(node);
  return node;
}

/** Starts the nodes NAMES, then kube-scheduler and kube-controller-manager; resolves when all are Ready. */
export async function startNodes(opts: NodeStartOptions, names: readonly string[]): Promise<NodeRecord[]> {
  const logDir = path.join(opts.dir, 'logs');
  const launch: Launch = (spec) => launchComponent(spec, { logDir, signal: opts.signal, onSpawn: opts.onSpawn });
  const [pauseImage] = await Promise.all([
    pushPauseImage(opts.crane, opts.registries[0] ?? ''),
    run(opts.kubectl, ['--kubeconfig', opts.kubeconfig, 'apply', '-f', '-'], { input: NODE_RBAC }).then((res) => {
      if (res.code !== 0) throw new Error(`node RBAC: ${res.stderr.trim()}`);
    }),
  ]);
  const nodes: NodeRecord[] = [];
  const record = (node: NodeRecord) => {
    const at = nodes.findIndex((n) => n.name === node.name);
    if (at >= 0) nodes[at] = node;
    else nodes.push(node);
    opts.onRecord([...nodes]);
  };
  const caFile = path.join(opts.dir, 'apiserver-ca.crt');
  writeFileSync(caFile, pickCaCertificate(readFileSync(opts.apiserverFiles.crt, 'utf8')));
  const flexDir = path.join(opts.dir, 'controller-manager-flex');
  mkdirSync(flexDir, { recursive: true });
  const admin = ['--kubeconfig', opts.kubeconfig, '--authentication-kubeconfig', opts.kubeconfig, '--authorization-kubeconfig', opts.kubeconfig, '--bind-address=127.0.0.1', '--leader-elect=false'];
  const healthy = async (url: string) => (await httpGet(`${url}/healthz`, { insecure: true })).status === 200;
  await Promise.all([
    ...names.map((name) => startRuntime(opts, name, pauseImage, launch, record)),
    launch({
      name: 'kube-scheduler', bin: opts.tools.kubeScheduler, ports: 1,
      args: ([port = 0]) => [...admin, `--secure-port=${port}`],
      url: ([port = 0]) => `https://127.0.0.1:${port}`, ready: healthy, timeoutMs: 60_000,
    }),
    launch({
      name: 'kube-controller-manager', bin: opts.tools.kubeControllerManager, ports: 1,
      args: ([port = 0]) => [...admin, `--secure-port=${port}`, '--use-service-account-credentials=false',
        `--service-account-private-key-file=${opts.apiserverFiles.key}`, `--root-ca-file=${caFile}`, `--flex-volume-plugin-dir=${flexDir}`],
      url: ([port = 0]) => `https://127.0.0.1:${port}`, ready: healthy, timeoutMs: 60_000,
    }),
  ]);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ready = await readyNodes(opts.kubectl, opts.kubeconfig);
    if (names.every((name) => ready.includes(name))) return nodes;
    opts.signal?.throwIfAborted();
    if (Date.now() > deadline) throw new Error(`nodes ${names.filter((n) => !ready.includes(n)).join(', ')} not Ready and untainted after 60 s (see ${logDir}/kubelet-*.log)`);
    await sleep(200);
  }
}

function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** Our processes still in the node's namespace (shims outlive containerd: not in its process group). */
function oursInNamespace(node: NodeRecord, binaries: readonly string[] = node.binaries): number[] {
  return processesInNamespace(node.mountNamespace).filter((pid) => {
    try {
      return binaries.includes(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '');
    } catch {
      return false;
    }
  });
}

/** Our processes of one node: its containerd and kubelet (by component name suffix). */
async function stopRuntime(node: NodeRecord, components: readonly ComponentInfo[]): Promise<void> {
  const suffix = suffixOf(node.name);
  await stopComponents(components, `kubelet-${suffix}`);
  killAll(processesInCgroupRoot(node.cgroupRoot)); // the pods' processes (pause included)
  await stopComponents(components, `containerd-${suffix}`);
  killAll(oursInNamespace(node, [node.shim]));
  // Then the holder: with it and every process of ours gone, the namespace and its mounts are gone.
  const deadline = Date.now() + 10_000;
  for (let left = oursInNamespace(node); left.length > 0 && Date.now() < deadline; left = oursInNamespace(node)) {
    killAll(left);
    await sleep(50);
  }
  await removeCgroupRoot(node.cgroupRoot);
  rmSync(node.dir, { recursive: true, force: true });
}

async function stopComponents(components: readonly ComponentInfo[], name: string): Promise<void> {
  for (const c of components.filter((x) => x.name === name)) if (isRunning(c.pid) && runsBinary(c.pid, c.bin)) await stopGroup(c.pid, 5_000);
}

/**
 * Stops the scheduler and controller-manager, then each node: kubelet, its containers, containerd,
 * the shims, the namespace (its mounts go with it), its cgroups and its folder.
 */
export async function stopNodes(nodes: readonly NodeRecord[], components: readonly ComponentInfo[]): Promise<void> {
  await Promise.all([stopComponents(components, 'kube-controller-manager'), stopComponents(components, 'kube-scheduler')]);
  await Promise.all(nodes.map((node) => stopRuntime(node, components)));
}

