// The journeys' harness: piggy as its users run it. The images built by `npm run build:images` are
// pushed to the stack's registry, the chart is installed with helm onto the real nodes, and the
// apps are Deployments whose pods start there. Loopback only: the chart's hostNetwork values, the
// webhook by URL, in-cluster clients pointed at 127.0.0.1.
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { mkdirSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { motoSpec } from '../../scripts/local/components.ts';
import { startInstance, type Instance } from '../../scripts/local/instance.ts';
import { acquireFolderLock, freePort, repoRoot, run } from '../../scripts/local/procs.ts';
import { privateDir } from '../../scripts/local/stack.ts';
import { buildImages, type ImagesSummary } from '../../scripts/images/build.ts';
import { kube, waitForDefaultServiceAccount } from './kube.ts';
import { busyboxImage, inClusterEnv } from './real-node.ts';
import { eventually, kubeConfigPath, kubectl, registryHost, testStack, uniqueName } from './stack.ts';

export const CHART_DIR = path.join(repoRoot, 'charts', 'piggy');

let images: Promise<ImagesSummary> | undefined;

/**
 * piggy and piggy-env built from this checkout and pushed to the stack's registry, once per test
 * run: ava runs each journey file in its own worker process, so the workers take turns under one
 * folder lock, and the first builds while the others then read its summary (two builds into one
 * folder race). A failed build is recorded, so the others fail with its reason instead of building again.
 */
export function pushedImages(): Promise<ImagesSummary> {
  images ??= buildOncePerRun(path.join(testStack().dir, 'tmp', `images-${process.env.PIGGY_TEST_RUN ?? `pid-${process.pid}`}`));
  return images;
}

async function buildOncePerRun(outDir: string): Promise<ImagesSummary> {
  const [summaryFile, failedFile] = [`${outDir}.json`, `${outDir}.failed`];
  await mkdir(path.dirname(outDir), { recursive: true });
  const release = await acquireFolderLock(`${outDir}.lock`);
  try {
    const summary = await readFile(summaryFile, 'utf8').catch(() => undefined);
    if (summary !== undefined) return JSON.parse(summary) as ImagesSummary;
    const failed = await readFile(failedFile, 'utf8').catch(() => undefined);
    if (failed !== undefined) throw new Error(`the images build of another journey worker failed: ${failed}`);
    try {
      const built = await buildImages({ outDir, push: `${registryHost()}/piggy`, log: () => undefined });
      await writeFile(summaryFile, JSON.stringify(built));
      return built;
    } catch (err) {
      await writeFile(failedFile, String(err instanceof Error ? err.message : err));
      throw err;
    }
  } finally {
    await release();
  }
}

/**
 * What every journey app prints, for the env variables named in $SHOW and the files in
 * $SHOW_FILES: a masked prefix and a sha256 (never a value), the count of PIGGY_* variables, then
 * `ready`; then it sleeps. No `$(` (the kubelet and the launcher would expand it).
 */
const APP_SCRIPT = [
  'for n in $SHOW; do v=`env | grep "^$n=" | cut -d= -f2-`; echo "env $n=`printf %s "$v" | cut -c1-2`*** sha256=`printf %s "$v" | sha256sum | cut -d" " -f1`"; done',
  'for f in $SHOW_FILES; do echo "file $f sha256=`sha256sum < $f | cut -d" " -f1` mode=`stat -c %a $f`"; done',
  'echo "piggy-vars=`env | grep -c ^PIGGY_`"',
  'echo uid=`id -u`',
  'echo ready',
  'exec sleep 3600',
].join('\n');

let app: Promise<string> | undefined;

/** crane's list flags are CSV: one field, quoted. */
const csvField = (text: string): string => `"${text.replaceAll('"', '""')}"`;

/** An app image without a command in the pod spec: ENTRYPOINT sh -c, CMD the script above. */
export function appImage(): Promise<string> {
  app ??= (async () => {
    const base = await busyboxImage();
    const ref = `${registryHost()}/piggy-test/app:${sha256(APP_SCRIPT).slice(0, 12)}`;
    const res = await run(testStack().tools.crane, ['mutate', '--insecure', base, '--entrypoint=/bin/sh,-c', `--cmd=${csvField(APP_SCRIPT)}`, '-t', ref]);
    if (res.code !== 0) throw new Error(`crane mutate: ${res.stderr}`);
    return ref;
  })();
  return app;
}

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** `helm …` with the stack's kubeconfig. */
export async function helm(args: readonly string[], input?: string): Promise<string> {
  const res = await run(testStack().tools.helm, [...args, '--kubeconfig', kubeConfigPath()], input === undefined ? {} : { input });
  if (res.code !== 0) throw new Error(`helm ${args.join(' ')} failed: ${res.stderr.trim()}`);
  return res.stdout;
}

export interface Installation {
  readonly release: string;
  /** The release namespace (controller pods, the Lease, the certificate Secret). */
  readonly namespace: string;
  /** The one namespace the operator watches and the webhook serves. */
  readonly apps: string;
  readonly httpsPort: number;
  readonly metricsPort: number;
  readonly images: ImagesSummary;
  readonly values: Record<string, unknown>;
}

/** A namespace labelled for the installation's webhook, with its default ServiceAccount. */
async function createAppsNamespace(release: string): Promise<string> {
  const name = uniqueName('journey');
  await kube().core.createNamespace({ body: { metadata: { name, labels: { 'piggysec.com/journey': release } } } });
  await waitForDefaultServiceAccount(name);
  return name;
}

/** helm install of charts/piggy with the pushed images, on the real nodes, AWS at AWSENDPOINT. */
export async function installPiggy(awsEndpoint: string): Promise<Installation> {
  const pushed = await pushedImages();
  const [piggy, env] = [pushed.images.piggy.pushed, pushed.images['piggy-env'].pushed];
  if (piggy === undefined || env === undefined) throw new Error('the images were not pushed');
  const release = uniqueName('piggy-j');
  const namespace = release;
  await kube().core.createNamespace({ body: { metadata: { name: namespace } } });
  await waitForDefaultServiceAccount(namespace);
  const apps = await createAppsNamespace(release);
  const [httpsPort, metricsPort] = [await freePort(), await freePort()];
  const values = {
    aws: { region: 'us-east-1', endpointUrl: awsEndpoint },
    image: { repository: piggy.repository, digest: piggy.digest },
    piggyEnv: { image: { repository: env.repository, digest: env.digest } },
    hostNetwork: true,
    listen: { httpsPort, metricsPort },
    webhook: { url: `https://127.0.0.1:${httpsPort}/mutate`, namespaceSelector: { matchLabels: { 'piggysec.com/journey': release } } },
    piggyAddress: `https://127.0.0.1:${httpsPort}`,
    certificates: { extraNames: ['127.0.0.1', '127.0.0.2'] },
    tolerations: [{ key: 'piggysec.com/local-node', operator: 'Exists', effect: 'NoSchedule' }],
    extraEnv: [...inClusterEnv(), { name: 'AWS_ACCESS_KEY_ID', value: 'testing' }, { name: 'AWS_SECRET_ACCESS_KEY', value: 'testing' }],
    // One operator per test stack may watch a namespace: other tests run their own controllers.
    config: { WATCH_NAMESPACE: apps, LEASE_RETRY_PERIOD: '1s', LEASE_DURATION: '6s', LEASE_RENEW_DEADLINE: '4s' },
  };
  await helm(['install', release, CHART_DIR, '--namespace', namespace, '--values', '-', '--wait', '--timeout', '4m'], stringify(values));
  const installation = { release, namespace, apps, httpsPort, metricsPort, images: pushed, values };
  // helm's --wait counts a Deployment ready at replicas − maxUnavailable (the chart's hostNetwork
  // strategy has maxUnavailable 1): wait for every replica, so each journey starts with both.
  await eventually(
    async () => {
      const pods = await controllerPods(installation);
      if (pods.length !== 2 || !pods.every(isReady)) throw new Error(`${pods.filter(isReady).length} of ${pods.length} replicas Ready`);
    },
    { timeoutMs: 120_000 },
  );
  return installation;
}

export async function uninstallPiggy(inst: Installation): Promise<void> {
  await helm(['uninstall', inst.release, '--namespace', inst.namespace, '--wait', '--timeout', '2m']).catch(() => undefined);
  for (const ns of [inst.apps, inst.namespace]) await kube().core.deleteNamespace({ name: ns }).catch(() => undefined);
}

/** The installation's controller pods. */
export async function controllerPods(inst: Installation): Promise<V1Pod[]> {
  const list = await kube().core.listNamespacedPod({ namespace: inst.namespace, labelSelector: `app.kubernetes.io/instance=${inst.release}` });
  return list.items.filter((pod) => pod.metadata?.deletionTimestamp === undefined);
}

export const isReady = (pod: V1Pod): boolean => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** `kubectl apply -f -` of YAML (or objects); throws with kubectl's message. */
export async function apply(namespace: string, manifest: string | object): Promise<void> {
  const res = await kubectl(['-n', namespace, 'apply', '-f', '-'], { input: typeof manifest === 'string' ? manifest : stringify(manifest) });
  if (res.code !== 0) throw new Error(`kubectl apply: ${res.stderr}`);
}

/** The Running pods of Deployment NAME whose containers all started (newest first). */
export async function runningPods(namespace: string, app: string): Promise<V1Pod[]> {
  const list = await kube().core.listNamespacedPod({ namespace, labelSelector: `app=${app}` });
  return list.items
    .filter((pod) => pod.metadata?.deletionTimestamp === undefined && pod.status?.phase === 'Running')
    .sort((a, b) => String(b.metadata?.creationTimestamp ?? '').localeCompare(String(a.metadata?.creationTimestamp ?? '')));
}

/** What an app container printed once it said `ready` (kubectl logs), as the lines before it. */
export async function appOutput(namespace: string, pod: string, container = 'app'): Promise<string[]> {
  return eventually(async () => {
    const res = await kubectl(['-n', namespace, 'logs', pod, '-c', container]);
    const lines = res.stdout.split('\n');
    if (res.code !== 0 || !lines.includes('ready')) throw new Error(`${pod}/${container} not ready yet (${res.code === 0 ? `${lines.length} lines` : 'no logs'})`);
    return lines.slice(0, lines.indexOf('ready'));
  }, { timeoutMs: 90_000 });
}

/** Parses `env NAME=xx*** sha256=H` lines into NAME → H. */
export function envDigests(lines: readonly string[]): Record<string, string> {
  return Object.fromEntries(lines.flatMap((line) => {
    const m = /^env (\w+)=\S* sha256=([0-9a-f]{64})$/.exec(line);
    return m?.[1] !== undefined && m[2] !== undefined ? [[m[1], m[2]]] : [];
  }));
}

/** Parses `file PATH sha256=H mode=M` lines into PATH → {sha256, mode}. */
export function fileDigests(lines: readonly string[]): Record<string, { sha256: string; mode: string }> {
  return Object.fromEntries(lines.flatMap((line) => {
    const m = /^file (\S+) sha256=([0-9a-f]{64}) mode=(\d+)$/.exec(line);
    return m?.[1] !== undefined && m[2] !== undefined && m[3] !== undefined ? [[m[1], { sha256: m[2], mode: m[3] }]] : [];
  }));
}

/** A journey file's own AWS emulator and helm installation (see startJourney). */
export interface JourneyContext {
  moto?: Instance;
  inst?: Installation;
}

/** Starts a private moto (folder LABEL-…) and installs piggy against it, into CTX. For test.before. */
export async function startJourney(ctx: JourneyContext, label: string): Promise<void> {
  const dir = path.join(privateDir(testStack().dir), uniqueName(label));
  mkdirSync(dir, { recursive: true });
  ctx.moto = await startInstance(motoSpec(testStack().tools), { dir });
  ctx.inst = await installPiggy(ctx.moto.info.url);
}

/** Uninstalls piggy and stops the moto of startJourney, whatever got started. For test.after.always. */
export async function stopJourney(ctx: JourneyContext): Promise<void> {
  if (ctx.inst) await uninstallPiggy(ctx.inst);
  await ctx.moto?.stop();
}
