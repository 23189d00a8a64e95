// One batch of bench:pods: create N pods of one case at once (for `awssecret-sync`, each pod's
// AWSSecret just before it, as `kubectl apply -f` of a file holding both), wait until each app
// printed its marker, read the times, then delete the pods (and AWSSecrets) and wait until they are
// gone, so the next batch starts on idle nodes.
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../src/controller/awssecret.ts';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LAUNCHER_VOLUME_NAME } from '../../src/shared/injection-contract.ts';
import { sleep } from '../../scripts/local/procs.ts';
import { parseLogTimes, type PodSample } from './measure.ts';
import { buildAWSSecret, buildCasePod, EXPECTED_DELIVERY, isInjected, MARKER, PRESYNCED, type CaseName } from './pods.ts';
import type { Tracker } from './watch.ts';

export interface BatchContext {
  readonly kc: KubeConfig;
  readonly namespace: string;
  readonly tracker: Tracker;
  readonly appImage: string;
  /** The Secrets Manager secret the injected pods and the AWSSecrets read, and its version. */
  readonly secretId: string;
  readonly versionId: string;
  /** Node name → its folder (the kubelet's pods are under run/kubelet/pods/<uid>). */
  readonly nodeDirs: Readonly<Record<string, string>>;
}

export const LABELS = { 'app.kubernetes.io/part-of': 'piggy-bench-pods' } as const;
const START_TIMEOUT_MS = 180_000;

/** How the webhook delivered the launcher: an image volume, or the install-piggy-env init container's copy. */
export function launcherDelivery(pod: V1Pod): string | undefined {
  if ((pod.spec?.volumes ?? []).some((volume) => volume.image !== undefined)) return 'image volume';
  if ((pod.spec?.initContainers ?? []).some((c) => c.name === 'install-piggy-env')) return 'init container copy';
  return undefined;
}

/** Bytes in the pod's launcher emptyDir on its node (the init container's copy); 0 when the pod has none (an image volume). */
async function launcherVolumeBytes(ctx: BatchContext, node: string, uid: string | undefined): Promise<number> {
  const nodeDir = ctx.nodeDirs[node];
  if (nodeDir === undefined || uid === undefined) throw new Error(`no folder for node ${node} or no pod uid`);
  const podDir = join(nodeDir, 'run', 'kubelet', 'pods', uid);
  await stat(podDir); // the kubelet's folder of the running pod must be visible here, or a 0 below would mean nothing
  return folderBytes(join(podDir, 'volumes', 'kubernetes.io~empty-dir', LAUNCHER_VOLUME_NAME));
}

async function folderBytes(dir: string): Promise<number> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((error: unknown) => {
    if ((error as { code?: string }).code === 'ENOENT') return [];
    throw error;
  });
  let total = 0;
  for (const entry of entries) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? await folderBytes(path) : (await stat(path)).size;
  }
  return total;
}

async function readLogUntilMarker(core: CoreV1Api, namespace: string, name: string): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const text = await core.readNamespacedPodLog({ namespace, name, container: 'app', timestamps: true });
    if (text.split('\n').some((line) => line.endsWith(` ${MARKER}`))) return text;
    if (Date.now() > deadline) throw new Error(`pod ${name} runs but did not print its marker within 60 s`);
    await sleep(100);
  }
}

async function startOne(ctx: BatchContext, kind: CaseName, name: string, nodeName: string | undefined): Promise<{ applyAt: number; pod: V1Pod }> {
  const core = ctx.kc.makeApiClient(CoreV1Api);
  const secret = isInjected(kind) ? ctx.secretId : kind === 'awssecret' ? PRESYNCED : name;
  const body = buildCasePod(kind, { name, namespace: ctx.namespace, image: ctx.appImage, labels: LABELS, nodeName }, secret);
  const applyAt = Date.now();
  if (kind === 'awssecret-sync') {
    await ctx.kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace: ctx.namespace, body: buildAWSSecret(ctx.namespace, name, ctx.secretId, ctx.versionId) });
  }
  const pod = await core.createNamespacedPod({ namespace: ctx.namespace, body });
  const expected = EXPECTED_DELIVERY[kind];
  if (expected !== undefined && launcherDelivery(pod) !== expected) throw new Error(`pod ${name} was not wrapped by the webhook with the ${expected} (${launcherDelivery(pod) ?? 'not wrapped'})`);
  return { applyAt, pod };
}

async function measureOne(ctx: BatchContext, kind: CaseName, name: string, applyAt: number, uid: string | undefined): Promise<PodSample> {
  await ctx.tracker.waitAll([name], (seen) => seen?.runningAt !== undefined, 'running', START_TIMEOUT_MS);
  const times = parseLogTimes(await readLogUntilMarker(ctx.kc.makeApiClient(CoreV1Api), ctx.namespace, name), MARKER);
  const seen = ctx.tracker.pod(name);
  if (times.appAt === undefined || seen?.runningAt === undefined || seen.node === undefined) throw new Error(`pod ${name}: no marker time`);
  const launcherBytes = isInjected(kind) ? await launcherVolumeBytes(ctx, seen.node, uid) : undefined;
  return {
    name,
    node: seen.node,
    applyAt,
    runningAt: seen.runningAt,
    initRunningAt: seen.initRunningAt,
    initDoneAt: seen.initDoneAt,
    appAt: times.appAt,
    launcherExecAt: times.launcherExecAt,
    launcherMs: times.launcherMs,
    secretAt: kind === 'awssecret-sync' ? ctx.tracker.secretAt(name) : undefined,
    launcherBytes,
  };
}

/** Deletes the batch's pods (their grace period: the app exits on SIGTERM) and AWSSecrets; waits until the pods are gone. */
async function cleanUp(ctx: BatchContext, kind: CaseName, names: readonly string[]): Promise<void> {
  const core = ctx.kc.makeApiClient(CoreV1Api);
  const custom = ctx.kc.makeApiClient(CustomObjectsApi);
  const ignoreNotFound = (error: unknown) => {
    if ((error as { code?: number }).code !== 404) throw error;
  };
  await Promise.all(names.map(async (name) => {
    await core.deleteNamespacedPod({ namespace: ctx.namespace, name }).catch(ignoreNotFound);
    if (kind === 'awssecret-sync') await custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace: ctx.namespace, name }).catch(ignoreNotFound);
  }));
  await ctx.tracker.waitAll(names, (seen) => seen?.goneAt !== undefined, 'gone', 120_000, true);
}

export interface BatchResult {
  readonly samples: PodSample[];
}

/** Runs one batch; NODES pins pod i to NODES[i] (the warm-up), else the scheduler places them. */
export async function runBatch(ctx: BatchContext, kind: CaseName, names: readonly string[], nodes?: readonly string[]): Promise<BatchResult> {
  const settled = await Promise.allSettled(names.map((name, i) => startOne(ctx, kind, name, nodes?.[i])));
  const created = names.filter((_, i) => settled[i]?.status === 'fulfilled');
  try {
    const refused = settled.find((result) => result.status === 'rejected');
    if (refused !== undefined) throw refused.reason;
    const started = settled.map((result) => (result as PromiseFulfilledResult<{ applyAt: number; pod: V1Pod }>).value);
    const samples = await Promise.all(names.map((name, i) => measureOne(ctx, kind, name, started[i]?.applyAt ?? Number.NaN, started[i]?.pod.metadata?.uid)));
    return { samples };
  } finally {
    await cleanUp(ctx, kind, created);
  }
}
