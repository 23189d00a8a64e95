// `npm run bench:pods -- [--pods 100] [--parallel 5] [--warmup 1] [--cases …]`
// Pod start latency on the real nodes (kubelet + containerd) of a private stack in .local/bench-pods,
// stopped afterwards: a plain pod, a pod injected by the webhook (proxy mode: the launcher, mounted
// from the piggy-env image as an image volume, asks the controller's /secret, then execs the app),
// the same with the launcher copied by the init container (piggy-env-delivery: init-container), a pod mounting
// the Secret of an AWSSecret synced beforehand, and a pod applied together with its AWSSecret. Each
// time is apply → the app's own first line (the container log's timestamp of its marker), and
// apply → the app container running as the watch saw it. Batches of --parallel pods of one case,
// the cases taking turns; p50/p99 per case and the ratios to the plain pod of the same run.
import path from 'node:path';
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../src/controller/awssecret.ts';
import { loadKubeConfig } from '../../src/kube/client.ts';
import { applyCrds, ensureNamespace, ensureServiceAccount, pollUntil } from '../../scripts/local/kube-objects.ts';
import { stopLeftoverController, sumMetric, type RunningController } from '../../scripts/local/piggy-controller.ts';
import { readVersions, repoRoot } from '../../scripts/local/procs.ts';
import { startStack, stopStack } from '../../scripts/local/stack.ts';
import { describeLoad, describeMachine, describeRevision } from '../markdown.ts';
import { launcherDelivery, runBatch, type BatchContext } from './batch.ts';
import { summarise, type CaseStats, type PodSample } from './measure.ts';
import { parsePodsArgs, PODS_USAGE, type PodsOptions } from './options.ts';
import { buildAWSSecret, buildCasePod, PRESYNCED, type CaseName } from './pods.ts';
import { appendResults, buildNotes, buildTable } from './report.ts';
import { createAppSecret, pushImages, registerWebhook, startBenchController, unregisterWebhook } from './setup.ts';
import { startTracker, type Tracker } from './watch.ts';

const STACK_DIR = path.join(repoRoot, '.local', 'bench-pods');
const CONTROLLER_DIR = path.join(STACK_DIR, 'controller');
const RESULTS_FILE = path.join(import.meta.dirname, 'results.md');
const NAMESPACE = 'bench-pods';
const SECRET_ID = `${NAMESPACE}/app`;
const log = (text: string) => process.stderr.write(`${text}\n`);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Polls a dry-run create of an injected pod until the API server calls the webhook and it wraps the pod. */
async function waitForWebhook(kc: KubeConfig, appImage: string): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const body = buildCasePod('injected', { name: 'webhook-probe', namespace: NAMESPACE, image: appImage, labels: {} }, SECRET_ID);
  await pollUntil('the webhook to wrap an injected pod', async () => launcherDelivery(await core.createNamespacedPod({ namespace: NAMESPACE, body, dryRun: 'All' })) !== undefined, 30_000, 250);
}

async function syncPresynced(kc: KubeConfig, tracker: Tracker, versionId: string): Promise<void> {
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace: NAMESPACE, body: buildAWSSecret(NAMESPACE, PRESYNCED, SECRET_ID, versionId) });
  await pollUntil(`Secret ${NAMESPACE}/${PRESYNCED}`, () => Promise.resolve(tracker.secretAt(PRESYNCED) !== undefined), 60_000, 50);
}

/** The measured batches in order: --parallel pods of one case, the cases taking turns until each has --pods. */
function planBatches(cases: readonly CaseName[], pods: number, parallel: number): { kind: CaseName; names: string[] }[] {
  const batches: { kind: CaseName; names: string[] }[] = [];
  for (let first = 0; first < pods; first += parallel) {
    for (const kind of cases) {
      const names = Array.from({ length: Math.min(parallel, pods - first) }, (_, i) => `${kind}-${String(first + i).padStart(4, '0')}`);
      batches.push({ kind, names });
    }
  }
  return batches;
}

interface Measured {
  readonly stats: Map<CaseName, CaseStats>;
  readonly proxyRequests: number;
  readonly awsCalls: number;
}

async function measure(ctx: BatchContext, options: PodsOptions, controller: RunningController, nodes: readonly string[]): Promise<Measured> {
  for (const kind of options.cases) {
    for (let w = 0; w < options.warmup; w++) await runBatch(ctx, kind, nodes.map((_, n) => `warmup-${kind}-${w}-${n}`), nodes);
  }
  log(`warm-up done (${options.warmup} pod(s) per case and node)`);
  const samples = new Map<CaseName, PodSample[]>(options.cases.map((kind) => [kind, []]));
  const batches = planBatches(options.cases, options.pods, options.parallel);
  const t0 = Date.now();
  for (const [index, batch] of batches.entries()) {
    const result = await runBatch(ctx, batch.kind, batch.names);
    samples.get(batch.kind)?.push(...result.samples);
    if ((index + 1) % (options.cases.length * 4) === 0 || index === batches.length - 1) {
      log(`  ${index + 1}/${batches.length} batches after ${secs(Date.now() - t0)} (load average ${describeLoad()})`);
    }
  }
  const metrics = await controller.scrapeMetrics();
  return {
    stats: new Map([...samples].map(([kind, list]) => [kind, summarise(list)])),
    proxyRequests: sumMetric(metrics, 'piggy_proxy_requests_total'),
    awsCalls: sumMetric(metrics, 'piggy_aws_calls_total'),
  };
}

function describeSettings(options: PodsOptions, measured: Measured): string {
  const v = readVersions();
  return `${options.pods} pods per case, ${options.parallel} at once (one case per batch, cases taking turns), ${options.warmup} warm-up pod(s) per case and node; ` +
    `2 real nodes (kubelet ${v.K8S_VERSION ?? '?'}, containerd ${v.CONTAINERD_VERSION ?? '?'}, runc ${v.RUNC_VERSION ?? '?'}); controller on the host, every setting its default; ` +
    `each injected pod checked to use its case's launcher delivery; controller totals: ${measured.proxyRequests} /secret requests, ${measured.awsCalls} AWS calls; ${describeRevision()}`;
}

async function bench(options: PodsOptions, argv: readonly string[]): Promise<number> {
  const abort = new AbortController();
  let controller: RunningController | undefined;
  const onSignal = () => {
    log('interrupted: stopping the controller and the bench stack');
    abort.abort();
    void Promise.resolve(controller?.stop())
      .then(() => stopStack(STACK_DIR))
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  await stopLeftoverController(CONTROLLER_DIR);
  await stopStack(STACK_DIR); // a stack an interrupted run left behind
  const loadBefore = describeLoad();
  const t0 = Date.now();
  const stack = await startStack(STACK_DIR, { registryAuth: false, node: true, signal: abort.signal });
  const nodes = (stack.nodes ?? []).map((node) => node.name);
  log(`bench stack up in ${secs(Date.now() - t0)} (${STACK_DIR}); nodes ${nodes.join(', ')}`);
  let tracker: Tracker | undefined;
  let measured: Measured;
  try {
    const kc = loadKubeConfig(stack.kubeconfig);
    await applyCrds(kc);
    await ensureNamespace(kc, NAMESPACE);
    await ensureServiceAccount(kc, NAMESPACE, 'default');
    log('building and pushing the images (cached by their inputs)');
    const images = await pushImages(stack, log);
    const versionId = await createAppSecret(stack, SECRET_ID);
    controller = await startBenchController(stack, CONTROLLER_DIR, NAMESPACE, images);
    log(`controller PID ${controller.pid} on https://127.0.0.1:${controller.httpsPort}`);
    await registerWebhook(kc, NAMESPACE, controller, path.join(CONTROLLER_DIR, 'tls', 'tls.crt'));
    await waitForWebhook(kc, images.appImage);
    tracker = startTracker(kc, NAMESPACE);
    if (options.cases.includes('awssecret')) await syncPresynced(kc, tracker, versionId);
    const nodeDirs = Object.fromEntries((stack.nodes ?? []).map((node) => [node.name, node.dir]));
    const ctx: BatchContext = { kc, namespace: NAMESPACE, tracker, appImage: images.appImage, secretId: SECRET_ID, versionId, nodeDirs };
    measured = await measure(ctx, options, controller, nodes);
    await unregisterWebhook(kc);
  } finally {
    tracker?.stop();
    await controller?.stop();
    await stopStack(STACK_DIR);
  }
  const machine = `${describeMachine()}; load average ${loadBefore} before, ${describeLoad()} after`;
  const settings = describeSettings(options, measured);
  const table = buildTable(measured.stats);
  const notes = buildNotes(measured.stats);
  const command = `npm run bench:pods${argv.length === 0 ? '' : ` -- ${argv.join(' ')}`}`;
  process.stdout.write(`\n${machine}\n${settings}\n\n${table}\n${notes.map((n) => `- ${n}\n`).join('')}`);
  if (options.resultsFile !== undefined) {
    appendResults(options.resultsFile, { when: new Date(), machine, settings, command, table, notes });
    log(`\nappended to ${path.relative(process.cwd(), options.resultsFile)}`);
  }
  return 0;
}

async function main(argv: readonly string[]): Promise<number> {
  const parsed = parsePodsArgs(argv, RESULTS_FILE);
  if (!parsed.ok) {
    process.stderr.write(`bench:pods: ${parsed.error}\n${PODS_USAGE}`);
    return 2;
  }
  if ('help' in parsed) {
    process.stdout.write(PODS_USAGE);
    return 0;
  }
  return bench(parsed.options, argv);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench:pods failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
