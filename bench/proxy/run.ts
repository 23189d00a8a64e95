// `npm run bench:proxy -- [--pods 500] [--duration 10] [--warmup 2] [--concurrency 16]`
// POST /secret of `piggy controller` over HTTPS with real pod-bound tokens and real TokenReviews, on a
// private stack in .local/bench-proxy (kube-apiserver + etcd, moto; stopped afterwards):
//   burst       --pods distinct pods ask for the same secret at once, caches cold: how long until
//               all are answered, and what it cost in AWS calls and TokenReviews; against the same
//               number of GetSecretValue calls straight to the emulator (what each pod reading AWS
//               itself, or an uncached proxy, costs);
//   steady      a fixed number of requests in flight for a window: TokenReview alone (straight to the
//               API server: the identity proof every request needs, the baseline), /secret with a
//               real TokenReview per request (TOKEN_REVIEW_CACHE_TTL=0s), /secret with the review
//               cached (a pod's containers and restarts present the same token).
// The load comes from a second process (bench/load.ts); every answer is checked.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { buildAwsEnv } from '../../scripts/local/components.ts';
import { ensureNamespace, loadKubeConfigFile } from '../../scripts/local/kube-objects.ts';
import { startController, sumMetric, sumMetricBy, type RunningController } from '../../scripts/local/piggy-controller.ts';
import { repoRoot } from '../../scripts/local/procs.ts';
import { startStack, stopStack, type StackInfo } from '../../scripts/local/stack.ts';
import { measureCpu } from '../cpu.ts';
import { readNumberFlags } from '../flags.ts';
import { DEFAULT_PROXY_TOKEN_AUDIENCE } from '../../src/config/config.ts';
import { assertServed, rateCells, rateColumns, runLoadProcess, type LoadConfig, type LoadRequest, type LoadResult } from '../load.ts';
import { createPods, NAMESPACE, SECRET, secretRequests, SECRET_VALUE, type BenchPod } from './fixtures.ts';
import { appendResultsSection, describeLoad, describeMachine, describeRevision, formatTable } from '../markdown.ts';

const STACK_DIR = path.join(repoRoot, '.local', 'bench-proxy');
const WORK_DIR = path.join(STACK_DIR, 'bench');
const RESULTS_FILE = path.join(import.meta.dirname, 'results.md');
const log = (text: string) => process.stderr.write(`${text}\n`);

interface Options {
  readonly pods: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly concurrency: number;
}

function parseOptions(argv: readonly string[]): Options {
  const number = readNumberFlags(argv, ['--pods', '--duration', '--warmup', '--concurrency'], 'bench:proxy -- [--pods 500] [--duration 10] [--warmup 2] [--concurrency 16]');
  return {
    pods: Math.floor(number('--pods', 500, 1)),
    durationMs: number('--duration', 10, 1) * 1000,
    warmupMs: number('--warmup', 2, 0) * 1000,
    concurrency: Math.floor(number('--concurrency', 16, 1)),
  };
}

const reviewRequests = (pods: readonly BenchPod[], adminToken: string): LoadRequest[] =>
  pods.map((pod) => ({
    headers: { authorization: `Bearer ${adminToken}` },
    body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: pod.token, audiences: [DEFAULT_PROXY_TOKEN_AUDIENCE] } }),
  }));

interface Target {
  readonly port: number;
  readonly caFile: string;
  readonly path: string;
}

/** Which processes' CPU a scenario reports: the controller, and the API server with its etcd. */
interface Processes {
  readonly controller?: number;
  readonly apiServer: readonly number[];
}

interface Measured {
  readonly result: LoadResult;
  /** CPU ms per answered request (warm-up included, as is the CPU). */
  readonly cpuPerRequest: { readonly controller?: number; readonly apiServer: number };
}

async function load(name: string, target: Target, requests: readonly LoadRequest[], options: Options, extra: Partial<LoadConfig> & Pick<LoadConfig, 'expect'>, processes: Processes): Promise<Measured> {
  const requestsFile = path.join(WORK_DIR, `${name}-requests.json`);
  writeFileSync(requestsFile, JSON.stringify(requests), { mode: 0o600 });
  const groups = { apiServer: processes.apiServer, ...(processes.controller === undefined ? {} : { controller: [processes.controller] }) };
  const { value: result, cpu } = await measureCpu(groups, () =>
    runLoadProcess(
      { ...target, requestsFile, concurrency: options.concurrency, warmupMs: options.warmupMs, durationMs: options.durationMs, ...extra },
      path.join(WORK_DIR, `${name}-load.json`),
    ),
  );
  if (result.errors > 0) log(`  ${name}: ${result.errors} errors, first: ${result.firstError ?? ''}`);
  assertServed(result, name);
  const per = (ms: number | undefined) => (ms === undefined ? undefined : ms / Math.max(1, result.answered));
  return { result, cpuPerRequest: { apiServer: per(cpu.apiServer) ?? 0, ...(cpu.controller === undefined ? {} : { controller: per(cpu.controller) }) } };
}


interface Counters {
  readonly aws: Record<string, number>;
  readonly reviews: number;
}

async function counters(controller: RunningController): Promise<Counters> {
  const text = await controller.scrapeMetrics();
  return { aws: sumMetricBy(text, 'piggy_aws_calls_total', 'api'), reviews: sumMetric(text, 'piggy_proxy_token_reviews_total', { source: 'api' }) };
}

function difference(before: Counters, after: Counters): Counters {
  const aws: Record<string, number> = {};
  for (const [api, count] of Object.entries(after.aws)) if (count - (before.aws[api] ?? 0) > 0) aws[api] = count - (before.aws[api] ?? 0);
  return { aws, reviews: after.reviews - before.reviews };
}

const total = (aws: Readonly<Record<string, number>>) => Object.values(aws).reduce((sum, count) => sum + count, 0);
const byApi = (aws: Readonly<Record<string, number>>) => `${total(aws)}${total(aws) === 0 ? '' : ` (${Object.entries(aws).map(([api, n]) => `${api} ${n}`).join(', ')})`}`;

interface SteadyRow {
  readonly label: string;
  readonly measured: Measured;
  readonly counts: Counters | undefined;
}

function steadyTable(rows: readonly SteadyRow[], concurrency: number): string {
  const baseline = rows[0]?.measured.result.perSecond ?? Number.NaN;
  return formatTable(
    ['scenario', 'in flight', ...rateColumns('requests', 'TokenReview alone'), 'TokenReviews sent', 'AWS calls', 'CPU ms/request: controller', 'API server + etcd'],
    rows.map(({ label, measured: { result, cpuPerRequest }, counts }) => [
      label,
      String(concurrency),
      ...rateCells(result, baseline),
      counts === undefined ? '—' : String(counts.reviews),
      counts === undefined ? '—' : byApi(counts.aws),
      cpuPerRequest.controller === undefined ? '—' : cpuPerRequest.controller.toFixed(2),
      cpuPerRequest.apiServer.toFixed(2),
    ]),
  );
}

interface BurstRow {
  readonly label: string;
  readonly ms: number;
  readonly errors: number;
  readonly aws: Readonly<Record<string, number>>;
  readonly reviews: number | undefined;
}

function burstTable(rows: readonly BurstRow[], pods: number): string {
  return formatTable(
    ['burst', 'pods', 'all answered in', 'errors', 'AWS calls', 'TokenReviews sent'],
    rows.map((row) => [row.label, String(pods), `${(row.ms / 1000).toFixed(2)} s`, String(row.errors), byApi(row.aws), row.reviews === undefined ? '—' : String(row.reviews)]),
  );
}

/** The emulator's endpoint and credentials, as the controller gets them. */
function awsClientConfig(stack: StackInfo) {
  const env = buildAwsEnv(stack.awsEndpoint);
  return { endpoint: env.AWS_ENDPOINT_URL, region: env.AWS_REGION, credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID ?? '', secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? '' } };
}

/** N GetSecretValue calls at once straight to the emulator: every pod reading AWS itself. */
async function directBurst(stack: StackInfo, pods: number): Promise<BurstRow> {
  const client = new SecretsManagerClient({ ...awsClientConfig(stack), maxAttempts: 1 });
  try {
    const started = performance.now();
    const settled = await Promise.allSettled(Array.from({ length: pods }, () => client.send(new GetSecretValueCommand({ SecretId: SECRET }))));
    return { label: 'each pod calls GetSecretValue itself', ms: performance.now() - started, errors: settled.filter((item) => item.status === 'rejected').length, aws: { GetSecretValue: pods }, reviews: undefined };
  } finally {
    client.destroy();
  }
}

async function withController<T>(stack: StackInfo, name: string, env: Record<string, string>, work: (controller: RunningController) => Promise<T>): Promise<T & { peakRssKiB: number }> {
  const controller = await startController({
    dir: path.join(STACK_DIR, name),
    kubeconfig: stack.kubeconfig,
    awsEndpoint: stack.awsEndpoint,
    env: { OPERATOR_ENABLED: 'false', PIGGY_ENV_IMAGE: 'ghcr.io/piggysec/piggy-env:bench', PIGGY_ADDRESS: 'https://piggy.piggy-system.svc', LOG_LEVEL: 'info', ...(process.env.BENCH_NODE_OPTIONS === undefined ? {} : { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS }), ...env },
  });
  try {
    const result = await work(controller);
    return { ...result, peakRssKiB: controller.memory().peakRssKiB };
  } finally {
    await controller.stop();
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const command = `npx tsx bench/proxy/run.ts ${process.argv.slice(2).join(' ')}`.trim();
  mkdirSync(WORK_DIR, { recursive: true });
  const loadBefore = describeLoad();
  log(`starting a private stack in ${STACK_DIR}…`);
  await stopStack(STACK_DIR);
  const stack = await startStack(STACK_DIR, { registryAuth: false });
  try {
    const kc = loadKubeConfigFile(stack.kubeconfig);
    await ensureNamespace(kc, NAMESPACE);
    const sm = new SecretsManagerClient(awsClientConfig(stack));
    await sm.send(new CreateSecretCommand({ Name: SECRET, SecretString: JSON.stringify(SECRET_VALUE) })).catch((error: unknown) => {
      if ((error as { name?: unknown }).name !== 'ResourceExistsException') throw error;
    });
    sm.destroy();
    log(`creating ${options.pods} pods and pod-bound tokens…`);
    const pods = await createPods(kc, options.pods);
    const cluster = kc.getCurrentCluster();
    const adminToken = kc.getCurrentUser()?.token;
    if (cluster === null || adminToken === undefined) throw new Error('the stack kubeconfig has no cluster or admin token');
    const apiCaFile = path.join(WORK_DIR, 'apiserver-ca.crt');
    writeFileSync(apiCaFile, Buffer.from(cluster.caData ?? '', 'base64'));
    const apiTarget: Target = { port: Number(new URL(cluster.server).port), caFile: apiCaFile, path: '/apis/authentication.k8s.io/v1/tokenreviews' };
    const apiServer = stack.components.filter((component) => component.name === 'kube-apiserver' || component.name === 'etcd').map((component) => component.pid);

    log('burst: every pod at once, cold caches…');
    const direct = await directBurst(stack, options.pods);
    const uncached = await withController(stack, 'controller-no-review-cache', { TOKEN_REVIEW_CACHE_TTL: '0s' }, async (controller) => {
      const target: Target = { port: controller.httpsPort, caFile: path.join(STACK_DIR, 'controller-no-review-cache', 'tls', 'tls.crt'), path: '/secret' };
      const before = await counters(controller);
      const processes = { controller: controller.pid, apiServer };
      const burst = (await load('burst', target, secretRequests(pods), { ...options, concurrency: options.pods }, { expect: 'json-200', once: true }, processes)).result;
      const burstCounts = difference(before, await counters(controller));
      log('steady: /secret, a real TokenReview per request…');
      const steadyBefore = await counters(controller);
      const steady = await load('secret-review', target, secretRequests(pods), options, { expect: 'json-200' }, processes);
      return { burst, burstCounts, steady, steadyCounts: difference(steadyBefore, await counters(controller)) };
    });
    log('steady: TokenReview straight to the API server…');
    const reviewsAlone = await load('tokenreview', apiTarget, reviewRequests(pods, adminToken), options, { expect: 'authenticated' }, { apiServer });
    log('steady: /secret, TokenReview cached…');
    const cached = await withController(stack, 'controller-review-cache', { TOKEN_REVIEW_CACHE_TTL: '1h' }, async (controller) => {
      const target: Target = { port: controller.httpsPort, caFile: path.join(STACK_DIR, 'controller-review-cache', 'tls', 'tls.crt'), path: '/secret' };
      // Fill the review cache with every token first, so the window sees only cached reviews.
      const processes = { controller: controller.pid, apiServer };
      await load('fill', target, secretRequests(pods), options, { expect: 'json-200', once: true }, processes);
      const before = await counters(controller);
      const steady = await load('secret-cached', target, secretRequests(pods), options, { expect: 'json-200' }, processes);
      return { steady, counts: difference(before, await counters(controller)) };
    });

    const burst = burstTable(
      [
        direct,
        { label: 'piggy /secret (real TokenReview each)', ms: uncached.burst.windowMs, errors: uncached.burst.errors, aws: uncached.burstCounts.aws, reviews: uncached.burstCounts.reviews },
      ],
      options.pods,
    );
    const steady = steadyTable(
      [
        { label: 'TokenReview alone, straight to the API server (baseline)', measured: reviewsAlone, counts: undefined },
        { label: '/secret, real TokenReview per request', measured: uncached.steady, counts: uncached.steadyCounts },
        { label: '/secret, TokenReview cached', measured: cached.steady, counts: cached.counts },
      ],
      options.concurrency,
    );
    const machine = describeMachine();
    const revision = describeRevision();
    const loadLine = `load average ${loadBefore} before, ${describeLoad()} after; controller peak RSS ${(Math.max(uncached.peakRssKiB, cached.peakRssKiB) / 1024).toFixed(0)} MiB`;
    const report = `${machine}, ${revision}  \n${loadLine}  \n\`${command}\`\n\n${burst}\n\n${steady}\n`;
    process.stdout.write(`\n${report}`);
    appendResultsSection(RESULTS_FILE, 'proxy', report);
    log(`\nappended to ${path.relative(repoRoot, RESULTS_FILE)}`);
  } finally {
    await stopStack(STACK_DIR);
  }
}

main().catch((error: unknown) => {
  log(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
