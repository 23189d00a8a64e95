// `npm run bench:webhook -- [--duration 10] [--warmup 2] [--concurrency 16]`
// Admission reviews per second and p50/p99 latency of `piggy controller`'s POST /mutate over HTTPS,
// for a realistic Deployment pod, on a private stack in .local/bench-webhook (stopped afterwards):
//   needs-nothing  the pod without piggy (allowed, no patch): the transport and decision baseline;
//   command        the pod with three piggy: values and a command: mutated, no registry involved;
//   image          the same pod without a command: the entrypoint comes from the image config,
//                  read once from the stack's registry before the window (warm cache).
// The load comes from a second process (bench/load.ts) with a fixed number of requests in
// flight over keep-alive connections, for a bounded warm-up and measured window per scenario.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureNamespace, ensureServiceAccount, loadKubeConfigFile } from '../../scripts/local/kube-objects.ts';
import { startController, sumMetric, type RunningController } from '../../scripts/local/piggy-controller.ts';
import { repoRoot } from '../../scripts/local/procs.ts';
import { startStack, stopStack } from '../../scripts/local/stack.ts';
import { pushImage } from '../../test/helpers/registry.ts';
import { readNumberFlags } from '../flags.ts';
import { runLoadProcess, type Expectation } from '../load.ts';
import { describeLoad, describeMachine, describeRevision } from '../markdown.ts';
import { buildRealisticPod, buildReview, type Scenario } from './pod.ts';
import { appendResults, buildTable, type Row } from './report.ts';

const STACK_DIR = path.join(repoRoot, '.local', 'bench-webhook');
const WORK_DIR = path.join(STACK_DIR, 'bench');
const RESULTS_FILE = path.join(import.meta.dirname, 'results.md');
const NAMESPACE = 'bench-webhook';
const log = (text: string) => process.stderr.write(`${text}\n`);

interface Options {
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly concurrency: number;
}

function parseOptions(argv: readonly string[]): Options {
  const number = readNumberFlags(argv, ['--duration', '--warmup', '--concurrency'], 'bench:webhook -- [--duration 10] [--warmup 2] [--concurrency 16]');
  return { durationMs: number('--duration', 10, 1) * 1000, warmupMs: number('--warmup', 2, 0) * 1000, concurrency: Math.floor(number('--concurrency', 16, 1)) };
}

const SCENARIOS: readonly { scenario: Scenario; label: string; expect: Expectation }[] = [
  { scenario: 'needs-nothing', label: 'pod needs nothing (baseline)', expect: 'no-patch' },
  { scenario: 'command', label: '(a) command given', expect: 'patch' },
  { scenario: 'image', label: '(b) no command, warm image cache', expect: 'patch' },
];

async function measure(controller: RunningController, image: string, options: Options): Promise<Row[]> {
  const rows: Row[] = [];
  for (const { scenario, label, expect } of SCENARIOS) {
    // A handful of distinct reviews (uids, owner uids) sent round robin.
    const requestsFile = path.join(WORK_DIR, `${scenario}-requests.json`);
    const requests = Array.from({ length: 8 }, () => ({ body: JSON.stringify(buildReview(buildRealisticPod(NAMESPACE, image, scenario), NAMESPACE)) }));
    writeFileSync(requestsFile, JSON.stringify(requests));
    const before = await controller.scrapeMetrics();
    log(`${label}: ${options.concurrency} in flight, ${options.warmupMs / 1000}s warm-up + ${options.durationMs / 1000}s…`);
    const result = await runLoadProcess(
      { port: controller.httpsPort, caFile: path.join(STACK_DIR, 'controller', 'tls', 'tls.crt'), path: '/mutate', requestsFile, concurrency: options.concurrency, warmupMs: options.warmupMs, durationMs: options.durationMs, expect },
      path.join(WORK_DIR, `${scenario}-load.json`),
    );
    const after = await controller.scrapeMetrics();
    const registryRequests = sumMetric(after, 'piggy_image_registry_requests_total') - sumMetric(before, 'piggy_image_registry_requests_total');
    if (result.errors > 0) log(`  ${result.errors} errors, first: ${result.firstError ?? ''}`);
    rows.push({ label, result, registryRequests, concurrency: options.concurrency });
  }
  return rows;
}

async function prepare(kubeconfig: string, registry: string): Promise<string> {
  const kc = loadKubeConfigFile(kubeconfig);
  await ensureNamespace(kc, NAMESPACE);
  // The pod's service account exists, as in a real cluster (the webhook reads its imagePullSecrets).
  await ensureServiceAccount(kc, NAMESPACE, 'default');
  await pushImage(registry, 'shop/api', '3.14.1', { entrypoint: ['/usr/local/bin/app'], cmd: ['serve', '--port=8080'], env: ['PATH=/usr/local/bin:/usr/bin:/bin'] });
  return `${registry}/shop/api:3.14.1`;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const command = `npx tsx bench/webhook/run.ts ${process.argv.slice(2).join(' ')}`.trim();
  mkdirSync(WORK_DIR, { recursive: true });
  const loadBefore = describeLoad();
  log(`starting a private stack in ${STACK_DIR}…`);
  await stopStack(STACK_DIR);
  const stack = await startStack(STACK_DIR, { registryAuth: false });
  let controller: RunningController | undefined;
  try {
    const image = await prepare(stack.kubeconfig, stack.registryHost);
    controller = await startController({
      dir: path.join(STACK_DIR, 'controller'),
      kubeconfig: stack.kubeconfig,
      awsEndpoint: stack.awsEndpoint,
      env: { OPERATOR_ENABLED: 'false', PIGGY_ENV_IMAGE: 'ghcr.io/piggysec/piggy-env:bench', PIGGY_ADDRESS: 'https://piggy.piggy-system.svc', LOG_LEVEL: 'info' },
    });
    const rows = await measure(controller, image, options);
    const table = buildTable(rows);
    const machine = describeMachine();
    const load = `load average ${loadBefore} before, ${describeLoad()} after`;
    process.stdout.write(`\n${machine}, ${describeRevision()}\n${load}\n\n${table}\n`);
    appendResults(RESULTS_FILE, { when: new Date(), machine, load, command, table, rss: controller.memory(), revision: describeRevision() });
    log(`\nappended to ${path.relative(repoRoot, RESULTS_FILE)}`);
  } finally {
    await controller?.stop();
    await stopStack(STACK_DIR);
  }
}

main().catch((error: unknown) => {
  log(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
