// `npm run bench:memory -- [--pods 200] [--count 1000] [--idle 20] [--duration 10] [--concurrency 16] [--node-flags '…'] [--env K=V,…]`
// The controller's memory as users run it: the image's esbuild bundle (scripts/images/controller-root.ts)
// with the image's node flags and environment, webhook + proxy + operator enabled, on a private stack
// in .local/bench-memory (kube-apiserver + etcd, moto; stopped afterwards). For each variant, one
// controller process goes through three phases and VmRSS/VmHWM are read from /proc after each:
//   idle      caches synced, nothing to do, for --idle seconds;
//   /secret   bench/proxy's steady load (bench/load.ts in a second process, a real TokenReview per
//             request) over --pods pods, --warmup + --duration seconds;
//   AWSSecrets --count AWSSecrets over 100 versions (bench/operator's fixtures) created and all Ready.
// Variants: `node defaults` (no flags, no environment: the image before this benchmark), `as shipped`
// (CONTROLLER_NODE_FLAGS / CONTROLLER_ENV), and with --node-flags / --env one more.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { bundleController, CONTROLLER_ENV, CONTROLLER_NODE_FLAGS } from '../../scripts/images/controller-root.ts';
import { applyCrds, ensureNamespace } from '../../scripts/local/kube-objects.ts';
import { buildSecretsManager } from '../../scripts/local/moto-secrets.ts';
import { readMemory, startController, type RunningController } from '../../scripts/local/piggy-controller.ts';
import { repoRoot, sleep } from '../../scripts/local/procs.ts';
import { startStack, stopStack, type StackInfo } from '../../scripts/local/stack.ts';
import { GROUP, PLURAL, VERSION } from '../../src/controller/awssecret.ts';
import { loadKubeConfig } from '../../src/kube/client.ts';
import { readNumberFlags } from '../flags.ts';
import { assertServed, runLoadProcess, type LoadResult } from '../load.ts';
import { appendResultsSection, describeLoad, describeMachine, describeRevision, formatTable } from '../markdown.ts';
import { buildAWSSecret, createPinnedVersions, type PinnedVersion } from '../operator/fixtures.ts';
import { createAll, waitAllReady } from '../operator/measure.ts';
import { createPods, NAMESPACE as PODS_NAMESPACE, SECRET, SECRET_VALUE, secretRequests } from '../proxy/fixtures.ts';

const STACK_DIR = path.join(repoRoot, '.local', 'bench-memory');
const WORK_DIR = path.join(STACK_DIR, 'bench');
const BUNDLE = path.join(WORK_DIR, 'piggy.mjs');
const RESULTS_FILE = path.join(import.meta.dirname, 'results.md');
const VERSIONS = 100;
const log = (text: string) => process.stderr.write(`${text}\n`);
const USAGE = "bench:memory -- [--pods 200] [--count 1000] [--idle 20] [--duration 10] [--warmup 2] [--concurrency 16] [--node-flags '--flag …'] [--env NAME=value,…]";

interface Variant {
  readonly label: string;
  readonly nodeFlags: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

interface Options {
  readonly pods: number;
  readonly count: number;
  readonly idleMs: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly concurrency: number;
  readonly variants: readonly Variant[];
}

function parseOptions(argv: readonly string[]): Options {
  const numeric: string[] = [];
  let nodeFlags: string[] | undefined;
  let env: Record<string, string> | undefined;
  for (let i = 0; i < argv.length; i++) {
    const [flag = '', inline] = (argv[i] ?? '').split(/=(.*)/s, 2);
    if (flag !== '--node-flags' && flag !== '--env') {
      numeric.push(argv[i] ?? '');
      continue;
    }
    const value = inline ?? argv[++i] ?? '';
    if (flag === '--node-flags') nodeFlags = value.split(/\s+/).filter((part) => part !== '');
    else env = Object.fromEntries(value.split(',').filter((part) => part !== '').map((pair) => [pair.split('=')[0] ?? '', pair.slice(pair.indexOf('=') + 1)]));
  }
  const number = readNumberFlags(numeric, ['--pods', '--count', '--idle', '--duration', '--warmup', '--concurrency'], USAGE);
  const variants: Variant[] = [
    { label: 'node defaults', nodeFlags: [], env: {} },
    { label: 'as shipped', nodeFlags: CONTROLLER_NODE_FLAGS, env: CONTROLLER_ENV },
  ];
  if (nodeFlags !== undefined || env !== undefined) variants.push({ label: 'given', nodeFlags: nodeFlags ?? [], env: env ?? {} });
  return {
    pods: Math.floor(number('--pods', 200, 1)),
    count: Math.floor(number('--count', 1000, 1)),
    idleMs: number('--idle', 20, 1) * 1000,
    durationMs: number('--duration', 10, 1) * 1000,
    warmupMs: number('--warmup', 2, 0) * 1000,
    concurrency: Math.floor(number('--concurrency', 16, 1)),
    variants,
  };
}

const describeVariant = (variant: Variant): string =>
  [...Object.entries(variant.env).map(([name, value]) => `${name}=${value}`), ...variant.nodeFlags].join(' ') || '—';

interface Reading {
  readonly rssKiB: number;
  readonly peakRssKiB: number;
}

interface VariantResult {
  readonly variant: Variant;
  readonly idle: Reading;
  readonly secret: Reading;
  readonly load: LoadResult;
  readonly awsSecrets: Reading;
  readonly readyMs: number;
}

const mib = (kib: number) => (kib / 1024).toFixed(0);

async function runVariant(stack: StackInfo, kc: KubeConfig, options: Options, index: number, requestsFile: string): Promise<VariantResult> {
  const variant = options.variants[index] as Variant;
  const namespace = `bench-memory-${index}`;
  await ensureNamespace(kc, namespace);
  const sm = buildSecretsManager(stack.awsEndpoint);
  let versions: PinnedVersion[];
  try {
    versions = await createPinnedVersions(sm, namespace, VERSIONS, 10); // the default access policy allows `{namespace}/*`
  } finally {
    sm.destroy();
  }
  const dir = path.join(STACK_DIR, `controller-${index}`);
  const controller: RunningController = await startController({
    dir,
    kubeconfig: stack.kubeconfig,
    awsEndpoint: stack.awsEndpoint,
    entry: BUNDLE,
    nodeFlags: variant.nodeFlags,
    env: {
      NODE_ENV: 'production',
      ...variant.env,
      WATCH_NAMESPACE: namespace,
      LEASE_NAMESPACE: namespace,
      UPDATE_CHECK_SCHEDULE: 'off',
      TOKEN_REVIEW_CACHE_TTL: '0s',
      PIGGY_ENV_IMAGE: 'ghcr.io/piggysec/piggy-env:bench',
      PIGGY_ADDRESS: 'https://piggy.piggy-system.svc',
      LOG_LEVEL: 'info',
    },
  });
  try {
    await controller.waitForLog((line) => line.msg === 'caches synced, reconciling', 60_000);
    log(`[${variant.label}] PID ${controller.pid} synced; idle ${options.idleMs / 1000} s…`);
    await sleep(options.idleMs);
    const idle = readMemory(controller.pid);
    log(`[${variant.label}] idle RSS ${mib(idle.rssKiB)} MiB; /secret load…`);
    const load = await runLoadProcess(
      {
        port: controller.httpsPort,
        caFile: path.join(dir, 'tls', 'tls.crt'),
        path: '/secret',
        requestsFile,
        concurrency: options.concurrency,
        warmupMs: options.warmupMs,
        durationMs: options.durationMs,
        expect: 'json-200',
      },
      path.join(WORK_DIR, `load-${index}.json`),
    );
    if (load.errors > 0) log(`[${variant.label}] /secret: ${load.errors} errors, first: ${load.firstError ?? ''}`);
    assertServed(load, `[${variant.label}] /secret`);
    const secret = readMemory(controller.pid);
    log(`[${variant.label}] /secret ${load.perSecond.toFixed(0)}/s, RSS ${mib(secret.rssKiB)} MiB; ${options.count} AWSSecrets…`);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const since = Date.now();
    await createAll(options.count, 32, (i) =>
      custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace, body: buildAWSSecret(namespace, i, versions[i % versions.length] as PinnedVersion) }));
    const ready = await waitAllReady(kc, namespace, options.count, since, { intervalMs: 2_000, timeoutMs: Math.max(300_000, options.count * 200), progress: () => undefined });
    await sleep(5_000); // the status writes and events settle
    const awsSecrets = readMemory(controller.pid);
    log(`[${variant.label}] all Ready after ${(ready.ms / 1000).toFixed(1)} s, RSS ${mib(awsSecrets.rssKiB)} MiB`);
    return { variant, idle, secret, load, awsSecrets, readyMs: ready.ms };
  } finally {
    await controller.stop();
  }
}

function table(results: readonly VariantResult[], options: Options): string {
  const baseline = results[0]?.load.perSecond ?? Number.NaN;
  return formatTable(
    ['controller', 'node flags / environment', 'idle RSS MiB', `/secret RSS (peak) MiB`, '/secret requests/s', 'vs node defaults', 'p99 ms', 'errors', `${options.count} AWSSecrets RSS (peak) MiB`, 'all Ready s'],
    results.map((result) => [
      result.variant.label,
      describeVariant(result.variant),
      mib(result.idle.rssKiB),
      `${mib(result.secret.rssKiB)} (${mib(result.secret.peakRssKiB)})`,
      result.load.perSecond.toFixed(0),
      `${(result.load.perSecond / baseline).toFixed(2)}×`,
      result.load.p99Ms.toFixed(1),
      String(result.load.errors),
      `${mib(result.awsSecrets.rssKiB)} (${mib(result.awsSecrets.peakRssKiB)})`,
      (result.readyMs / 1000).toFixed(1),
    ]),
  );
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const command = `npm run bench:memory -- ${process.argv.slice(2).join(' ')}`.trim().replace(/ --$/, '');
  mkdirSync(WORK_DIR, { recursive: true });
  const bundle = await bundleController(repoRoot);
  writeFileSync(BUNDLE, bundle.code);
  log(`controller bundle ${(bundle.code.length / 2 ** 20).toFixed(1)} MiB in ${path.relative(repoRoot, BUNDLE)}`);
  const loadBefore = describeLoad();
  await stopStack(STACK_DIR);
  const stack = await startStack(STACK_DIR, { registryAuth: false });
  try {
    const kc = loadKubeConfig(stack.kubeconfig);
    await applyCrds(kc);
    await ensureNamespace(kc, PODS_NAMESPACE);
    const sm = buildSecretsManager(stack.awsEndpoint);
    try {
      await sm.send(new CreateSecretCommand({ Name: SECRET, SecretString: JSON.stringify(SECRET_VALUE) }));
    } finally {
      sm.destroy();
    }
    log(`creating ${options.pods} pods and pod-bound tokens…`);
    const pods = await createPods(kc, options.pods);
    const requestsFile = path.join(WORK_DIR, 'secret-requests.json');
    writeFileSync(requestsFile, JSON.stringify(secretRequests(pods)), { mode: 0o600 });
    const results: VariantResult[] = [];
    for (let index = 0; index < options.variants.length; index++) results.push(await runVariant(stack, kc, options, index, requestsFile));
    const report = `${describeMachine()}, ${describeRevision()}  \nload average ${loadBefore} before, ${describeLoad()} after; bundle ${(bundle.code.length / 2 ** 20).toFixed(1)} MiB; ${options.pods} pods, ${options.concurrency} in flight, ${options.durationMs / 1000} s window; ${options.count} AWSSecrets over ${VERSIONS} versions  \n\`${command}\`\n\n${table(results, options)}\n`;
    process.stdout.write(`\n${report}`);
    appendResultsSection(RESULTS_FILE, 'memory', report);
    log(`\nappended to ${path.relative(repoRoot, RESULTS_FILE)}`);
  } finally {
    await stopStack(STACK_DIR);
  }
}

main().catch((error: unknown) => {
  log(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
