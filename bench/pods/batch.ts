// One batch of bench:pods: create N pods of one case at once (for `awssecret-sync`, each pod's
// AWSSecret just before it, as `kubectl apply -f` of a file holding both), wait until each app
// printed its marker, read the times, then delete the pods (and AWSSecrets) and wait until they are
// gone, so the next batch starts on idle nodes.
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../src/controller/awssecret.ts';
import { sleep } from '../../scripts/local/procs.ts';
import { parseLogTimes, type PodSample } from './measure.ts';
import { buildAWSSecret, buildCasePod, MARKER, PRESYNCED, type CaseName } from './pods.ts';
import type { Tracker } from './watch.ts';

export interface BatchContext {
  readonly kc: KubeConfig;
  readonly namespace: string;
  readonly tracker: Tracker;
  readonly appImage: string;
  /** The Secrets Manager secret the injected pods and the AWSSecrets read, and its version. */
  readonly secretId: string;
  readonly versionId: string;
}

export const LABELS = { 'app.kubernetes.io/part-of': 'piggy-bench-pods' } as const;
const START_TIMEOUT_MS = 180_000;

/** How the webhook delivered the launcher: an image volume, or the install-piggy-env init container's copy. */
export function launcherDelivery(pod: V1Pod): string | undefined {
  if ((pod.spec?.volumes ?? []).some((volume) => volume.image !== undefined)) return 'image volume';
  if ((pod.spec?.initContainers ?? []).some((c) => c.name === 'install-piggy-env')) return 'init container copy';
  return undefined;
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
  const secret = kind === 'injected' ? ctx.secretId : kind === 'awssecret' ? PRESYNCED : name;
  const body = buildCasePod(kind, { name, namespace: ctx.namespace, image: ctx.appImage, labels: LABELS, nodeName }, secret);
  const applyAt = Date.now();
  if (kind === 'awssecret-sync') {
    await ctx.kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace: ctx.namespace, body: buildAWSSecret(ctx.namespace, name, ctx.secretId, ctx.versionId) });
  }
  const pod = await core.createNamespacedPod({ namespace: ctx.namespace, body });
  if (kind === 'injected' && launcherDelivery(pod) === undefined) throw new Error(`pod ${name} was not wrapped by the webhook`);
  return { applyAt, pod };
}

async function measureOne(ctx: BatchContext, kind: CaseName, name: string, applyAt: number): Promise<PodSample> {
  await ctx.tracker.waitAll([name], (seen) => seen?.runningAt !== undefined, 'running', START_TIMEOUT_MS);
  const times = parseLogTimes(await readLogUntilMarker(ctx.kc.makeApiClient(CoreV1Api), ctx.namespace, name), MARKER);
  const seen = ctx.tracker.pod(name);
  if (times.appAt === undefined || seen?.runningAt === undefined || seen.node === undefined) throw new Error(`pod ${name}: no marker time`);
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
  readonly delivery?: string | undefined;
}

/** Runs one batch; NODES pins pod i to NODES[i] (the warm-up), else the scheduler places them. */
export async function runBatch(ctx: BatchContext, kind: CaseName, names: readonly string[], nodes?: readonly string[]): Promise<BatchResult> {
  const settled = await Promise.allSettled(names.map((name, i) => startOne(ctx, kind, name, nodes?.[i])));
  const created = names.filter((_, i) => settled[i]?.status === 'fulfilled');
  try {
    const refused = settled.find((result) => result.status === 'rejected');
    if (refused !== undefined) throw refused.reason;
    const started = settled.map((result) => (result as PromiseFulfilledResult<{ applyAt: number; pod: V1Pod }>).value);
    const samples = await Promise.all(names.map((name, i) => measureOne(ctx, kind, name, started[i]?.applyAt ?? Number.NaN)));
    return { samples, delivery: started[0] === undefined ? undefined : launcherDelivery(started[0].pod) };
  } finally {
    await cleanUp(ctx, kind, created);
  }
}
