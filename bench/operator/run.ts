// `npm run bench:operator -- [--counts 1000,10000] [--versions 100] [--concurrency 32] …`
// For each count N, on a private local stack in .local/bench (stopped afterwards):
//   1. the baseline: N plain Secrets created directly through the API (the machine's write limit);
//   2. two floors with no controller: N AWSSecrets created alone, and N × the writes a controller
//      cannot avoid (AWSSecret create, Secret create, status patch) made by the bench itself;
//   3. `piggy controller` as a real process, watching a fresh namespace; N AWSSecrets pinning
//      --versions distinct versions round robin, created with the same client concurrency;
//      timed until every one is Ready=True; AWS calls from /metrics; peak RSS from /proc.
// Per phase: the API server + etcd CPU (/proc) and its requests by verb and resource (its own
// apiserver_request_total); with --cpu-prof also the API server's pprof profile.
import path from 'node:path';
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { parseConfig } from '../../src/config/config.ts';
import { randomBytes } from 'node:crypto';
import { AWSSECRET_RESOURCE, MANAGED_SELECTOR, type AWSSecret } from '../../src/controller/awssecret.ts';
import { buildDesiredSecret } from '../../src/controller/desired-secret.ts';
import { buildSyncedStatus } from '../../src/controller/status.ts';
import { buildResourceClient } from '../../src/kube/resources.ts';
import { applyCrds, ensureNamespace, loadKubeConfigFile } from '../../scripts/local/kube-objects.ts';
import { buildSecretsManager } from '../../scripts/local/moto-secrets.ts';
import { startController, stopLeftoverController, sumMetric, sumMetricBy, type RunningController } from '../../scripts/local/piggy-controller.ts';
import { loadKubeConfig } from '../../src/kube/client.ts';
import { repoRoot } from '../../scripts/local/procs.ts';
import { startStack, stopStack, type StackInfo } from '../../scripts/local/stack.ts';
import { buildAWSSecret, buildDirectSecret, createPinnedVersions, type PinnedVersion } from './fixtures.ts';
import { createAll, waitAllReady, type Created } from './measure.ts';
import { BENCH_USAGE, parseBenchArgs, type BenchOptions } from './options.ts';
import { measureCpu } from '../cpu.ts';
import { describeRequests, profileApiserver, requestCounts } from './apiserver.ts';
import { describeLoad, describeMachine } from '../markdown.ts';
import { appendResults, buildTable, describeOptions, type CaseResult } from './report.ts';

const STACK_DIR = path.join(repoRoot, '.local', 'bench');
const RESULTS_FILE = path.join(import.meta.dirname, 'results.md');
/** Three keys, as the generated Secrets hold (base64, like Secret data). */
const floorData = (index: number) => ({ username: Buffer.from('app').toString('base64'), password: Buffer.from(`p-${index}`).toString('base64'), port: Buffer.from('5432').toString('base64') });
const log = (text: string) => process.stderr.write(`${text}\n`);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/** The controller's own default RECONCILE_CONCURRENCY (read from its config parser). */
function defaultReconcileConcurrency(): number {
  const parsed = parseConfig({ TLS_CERT_FILE: 'unused', TLS_PRIVATE_KEY_FILE: 'unused' });
  return parsed.ok ? parsed.config.operator.concurrency : 10;
}

async function countManagedSecrets(kc: KubeConfig, namespace: string): Promise<number> {
  const list = await kc.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace, labelSelector: MANAGED_SELECTOR });
  return list.items.length;
}

/** N Secrets like the generated ones, created straight through the API. */
function createDirectSecrets(kc: KubeConfig, namespace: string, count: number, concurrency: number, pinned: (index: number) => PinnedVersion): Promise<Created> {
  const core = kc.makeApiClient(CoreV1Api);
  return createAll(count, concurrency, (i) => core.createNamespacedSecret({ namespace, body: buildDirectSecret(namespace, i, pinned(i)) }));
}

interface Running {
  controller?: RunningController;
}

async function runCase(stack: StackInfo, kc: KubeConfig, options: BenchOptions, count: number, running: Running): Promise<CaseResult> {
  const namespace = `bench-${count}`;
  const direct = `${namespace}-direct`;
  await ensureNamespace(kc, namespace);
  await ensureNamespace(kc, direct);
  const sm = buildSecretsManager(stack.awsEndpoint);
  let versions: PinnedVersion[];
  try {
    versions = await createPinnedVersions(sm, namespace, options.versions, options.versionsPerSecret);
  } finally {
    sm.destroy();
  }
  const pinned = (index: number): PinnedVersion => versions[index % versions.length] as PinnedVersion;

  // CPU of the API server + etcd per phase: where the time to all Ready goes on these shared cores.
  const apiServer = stack.components.filter((component) => component.name === 'kube-apiserver' || component.name === 'etcd').map((component) => component.pid);
  const beforeDirect = await requestCounts(kc);
  const { value: baseline, cpu: directCpu } = await measureCpu({ apiServer }, () => createDirectSecrets(kc, direct, count, options.concurrency, pinned));
  const directRequests = describeRequests(beforeDirect, await requestCounts(kc), count);
  log(`[${count}] baseline: ${count} Secrets created directly in ${secs(baseline.ms)}`);
  const stockKc = loadKubeConfigFile(stack.kubeconfig);
  await ensureNamespace(stockKc, `${direct}-stock`);
  const stock = await createDirectSecrets(stockKc, `${direct}-stock`, count, options.concurrency, pinned);
  log(`[${count}] baseline: ${count} Secrets created directly with a connection per request in ${secs(stock.ms)}`);

  // The CRD's own write cost: N AWSSecrets created where no controller watches (CEL rules, JSON
  // storage). No controller can make "all Ready" faster than this.
  const alone = `${namespace}-alone`;
  await ensureNamespace(kc, alone);
  const customAlone = kc.makeApiClient(CustomObjectsApi);
  const aloneCreated = await createAll(count, options.concurrency, (i) =>
    customAlone.createNamespacedCustomObject({ ...AWSSECRET_RESOURCE, namespace: alone, body: buildAWSSecret(alone, i, pinned(i)) }));
  log(`[${count}] baseline: ${count} AWSSecrets created with no controller in ${secs(aloneCreated.ms)}`);

  // The writes a controller cannot avoid, made by the bench itself with no controller: per object its
  // AWSSecret create, the Secret create and the Ready status patch, in sequence, through the
  // controller's own resource client (src/kube/resources.ts). No controller can do the same work
  // in less time on this API server; the ratio of this to the direct baseline bounds "all Ready".
  const floor = `${namespace}-floor`;
  await ensureNamespace(kc, floor);
  const floorClient = buildResourceClient(kc);
  const hashKey = randomBytes(32);
  const { value: floorCreated, cpu: floorCpu } = await measureCpu({ apiServer }, () => createAll(count, options.concurrency, async (i) => {
    const awsSecret = (await floorClient.custom.createNamespacedCustomObject({ ...AWSSECRET_RESOURCE, namespace: floor, body: buildAWSSecret(floor, i, pinned(i)) })) as AWSSecret;
    await floorClient.createSecret(buildDesiredSecret(awsSecret, floorData(i), 'us-east-1', hashKey));
    const status = buildSyncedStatus(awsSecret, { versionIds: pinned(i).versionId, wroteSecret: true }, new Date());
    await floorClient.patchStatus(AWSSECRET_RESOURCE, floor, awsSecret.metadata.name, awsSecret.metadata.resourceVersion, status);
  }));
  log(`[${count}] floor: ${count} × (AWSSecret create, Secret create, status patch) with no controller in ${secs(floorCreated.ms)}`);

  const env: Record<string, string> = {
    WATCH_NAMESPACE: namespace,
    LEASE_NAMESPACE: namespace,
    UPDATE_CHECK_SCHEDULE: 'off',
    ...(options.reconcileConcurrency === undefined ? {} : { RECONCILE_CONCURRENCY: String(options.reconcileConcurrency) }),
  };
  const dir = path.join(STACK_DIR, `controller-${count}`);
  await stopLeftoverController(dir);
  const nodeFlags = options.cpuProfileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${path.resolve(options.cpuProfileDir)}`];
  const controller = await startController({ dir, kubeconfig: stack.kubeconfig, awsEndpoint: stack.awsEndpoint, env, nodeFlags });
  running.controller = controller;
  try {
    await controller.waitForLog((line) => line.msg === 'caches synced, reconciling');
    log(`[${count}] controller PID ${controller.pid} leading; creating ${count} AWSSecrets in ${namespace}`);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const beforeOperator = await requestCounts(kc);
    // A profile of the API server while it serves the controller (the first seconds of the phase).
    const profiled = options.cpuProfileDir === undefined ? undefined
      : profileApiserver(kc, Math.max(5, Math.round(count / 100)), path.resolve(options.cpuProfileDir, `kube-apiserver-${count}.pprof`));
    const since = Date.now();
    const { value: { created, ready }, cpu: operatorCpu } = await measureCpu({ apiServer, controller: [controller.pid] }, async () => {
      const created = await createAll(count, options.concurrency, (i) =>
        custom.createNamespacedCustomObject({ ...AWSSECRET_RESOURCE, namespace, body: buildAWSSecret(namespace, i, pinned(i)) }));
      log(`[${count}] AWSSecrets created in ${secs(created.ms)}; waiting for Ready`);
      let lastProgress = 0;
      const ready = await waitAllReady(kc, namespace, count, since, {
        intervalMs: Math.min(10_000, Math.max(1_000, count)), // a list of N objects is not free for the API server
        timeoutMs: Math.max(300_000, count * 200),
        progress: (n) => {
          if (Date.now() - lastProgress < 10_000) return;
          lastProgress = Date.now();
          log(`[${count}]   ${n}/${count} Ready after ${secs(Date.now() - since)}`);
        },
      });
      return { created, ready };
    });
    log(`[${count}] all Ready after ${secs(ready.ms)} (seen by list after ${secs(ready.observedMs)})`);
    const operatorRequests = describeRequests(beforeOperator, await requestCounts(kc), count);
    await profiled;
    const metrics = await controller.scrapeMetrics();
    const memory = controller.memory();
    const managed = await countManagedSecrets(kc, namespace);
    if (managed !== count) throw new Error(`${managed} generated Secrets in ${namespace}, expected ${count}`);
    return {
      count,
      createMs: created.ms,
      readyMs: ready.ms,
      directMs: baseline.ms,
      directStockMs: stock.ms,
      aloneMs: aloneCreated.ms,
      floorMs: floorCreated.ms,
      awsCalls: sumMetric(metrics, 'piggy_aws_calls_total'),
      awsCallsByApi: sumMetricBy(metrics, 'piggy_aws_calls_total', 'api'),
      secretWrites: sumMetric(metrics, 'piggy_secret_writes_total'),
      eventsDropped: sumMetric(metrics, 'piggy_events_dropped_total'),
      peakRssKiB: memory.peakRssKiB,
      retries: baseline.retries + stock.retries + created.retries + aloneCreated.retries + floorCreated.retries,
      requestsPerObject: { direct: directRequests, operator: operatorRequests },
      cpuMsPerObject: { direct: (directCpu.apiServer ?? 0) / count, floor: (floorCpu.apiServer ?? 0) / count, operatorApiServer: (operatorCpu.apiServer ?? 0) / count, controller: (operatorCpu.controller ?? 0) / count },
    };
  } finally {
    await controller.stop();
    running.controller = undefined;
  }
}

async function bench(options: BenchOptions): Promise<number> {
  const reconcileConcurrency = options.reconcileConcurrency === undefined ? `${defaultReconcileConcurrency()} (default)` : String(options.reconcileConcurrency);
  const running: Running = {};
  const abort = new AbortController();
  const onSignal = () => {
    log('interrupted: stopping the controller and the bench stack');
    abort.abort();
    void Promise.resolve(running.controller?.stop())
      .then(() => stopStack(STACK_DIR))
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  await stopStack(STACK_DIR); // a stack an interrupted run left behind
  const loadBefore = describeLoad();
  const t0 = Date.now();
  const stack = await startStack(STACK_DIR, { registryAuth: false, signal: abort.signal });
  log(`bench stack up in ${secs(Date.now() - t0)} (${STACK_DIR})`);
  const results: CaseResult[] = [];
  try {
    // The bench's own requests share one connection pool (src/kube/pooled-kube-config.ts), so the
    // baseline shows the API server's limit rather than a TLS handshake per request.
    const kc = loadKubeConfig(stack.kubeconfig);
    await applyCrds(kc);
    for (const count of options.counts) results.push(await runCase(stack, kc, options, count, running));
  } finally {
    await running.controller?.stop();
    await stopStack(STACK_DIR);
  }
  const table = buildTable(results);
  const machine = `${describeMachine()}; load average ${loadBefore} before, ${describeLoad()} after`;
  const described = describeOptions(options, reconcileConcurrency);
  const notes = results.filter((r) => r.retries > 0).map((r) => `${r.count}: ${r.retries} requests answered 429/5xx and retried`);
  process.stdout.write(`\n${machine}\n${described}\n\n${table}\n${notes.map((n) => `- ${n}\n`).join('')}`);
  if (options.resultsFile !== undefined) {
    appendResults(options.resultsFile, { when: new Date(), machine, options: described, table, notes });
    log(`\nappended to ${path.relative(process.cwd(), options.resultsFile)}`);
  }
  return 0;
}

async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseBenchArgs(argv, RESULTS_FILE);
  if (!parsed.ok) {
    process.stderr.write(`bench:operator: ${parsed.error}\n${BENCH_USAGE}`);
    return 2;
  }
  if ('help' in parsed) {
    process.stdout.write(BENCH_USAGE);
    return 0;
  }
  return bench(parsed.options);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench:operator failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
