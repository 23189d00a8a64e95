import { PassThrough } from 'node:stream';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import type { ExecutionContext } from 'ava';
import { Registry } from 'prom-client';
import { createAwsMetrics } from '../../src/aws/aws-metrics.ts';
import { createCallBudget } from '../../src/aws/call-budget.ts';
import { createAwsClients } from '../../src/aws/clients.ts';
import { createSecretSource } from '../../src/aws/secret-source.ts';
import { createVersionCache } from '../../src/aws/version-cache.ts';
import type { AWSSecret, AWSSecretSpec } from '../../src/controller/awssecret.ts';
import { startOperator, type Operator, type OperatorSettings } from '../../src/controller/operator.ts';
import { createDataHashKeyLoader } from '../../src/kube/data-hash-key.ts';
import { createOperatorMetrics } from '../../src/controller/operator-metrics.ts';
import { startRollouts } from '../../src/controller/rollouts.ts';
import { createEventRecorder } from '../../src/kube/events.ts';
import { buildResourceClient } from '../../src/kube/resources.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { kubeConfigPath } from './stack.ts';
import { buildAccessPolicy } from '../../src/shared/access-policy.ts';
import { MOTO_ACCOUNT } from './aws-account.ts';

export interface TestOperator {
  readonly operator: Operator;
  readonly registry: Registry;
  /** Every log line the operator wrote, as text (for canary checks). */
  readonly logs: () => string;
  /** piggy_aws_calls_total summed over the given API (or all). */
  awsCalls(api?: string): Promise<number>;
  /** A metric's value summed over the labels that match. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  stop(): Promise<void>;
}

export interface TestOperatorOptions {
  readonly namespace: string;
  readonly kubeconfig?: string | KubeConfig;
  readonly endpoint?: string;
  readonly settings?: Partial<OperatorSettings> & { readonly rolloutConcurrency?: number; readonly rolloutTimeoutMs?: number; readonly rolloutPollIntervalMs?: number };
  readonly leaseName?: string;
  readonly identity?: string;
  readonly callsPerSecond?: number;
}

/**
 * The real operator, in-process, against the shared API server and moto (or a private endpoint),
 * watching one namespace so tests stay apart. Stopped when the test ends.
 */
export function startTestOperator(t: ExecutionContext, options: TestOperatorOptions): TestOperator {
  const kc = options.kubeconfig instanceof KubeConfig ? options.kubeconfig : loadKc(options.kubeconfig ?? kubeConfigPath());
  const registry = new Registry();
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (chunk: Buffer) => chunks.push(chunk));
  const log = createLogger({ level: 'debug', destination: out });
  const clients = createAwsClients(process.env.AWS_REGION, options.endpoint === undefined ? {} : { endpoint: options.endpoint });
  const source = createSecretSource({
    clients,
    budget: createCallBudget({ ratePerSecond: options.callsPerSecond ?? 50, burst: options.callsPerSecond ?? 50 }),
    cache: createVersionCache({ maxBytes: 16 * 1024 * 1024 }),
    metrics: createAwsMetrics(registry),
    log,
    stageTtlMs: 0,
    callTimeoutMs: 3_000,
  });
  const { rolloutConcurrency, rolloutTimeoutMs, rolloutPollIntervalMs, ...settings } = options.settings ?? {};
  // The composition main.ts does, with the test's clients.
  const metrics = createOperatorMetrics(registry);
  const events = createEventRecorder(kc, 'piggy', log, { onDrop: (type) => metrics.eventsDropped.inc({ type }) });
  const operator = startOperator({
    kc,
    client: buildResourceClient(kc),
    events,
    metrics,
    startRollouts: () =>
      startRollouts({ kc, events, log, metrics, settings: { concurrency: rolloutConcurrency, timeoutMs: rolloutTimeoutMs, pollIntervalMs: rolloutPollIntervalMs } }),
    log,
    fetchVersion: (ref) => source.fetchVersion(ref),
    describeCurrentVersion: (ref) => source.describeCurrentVersion(ref),
    dataHashKey: createDataHashKeyLoader({ kc, namespace: options.namespace, name: 'piggy-data-hash-key' }),
    settings: {
      watchNamespace: options.namespace,
      policy: buildAccessPolicy(['{namespace}/*'], MOTO_ACCOUNT),
      defaultRegion: process.env.AWS_REGION,
      concurrency: 8,
      recheckMs: 1_000,
      retryBaseMs: 200,
      retryMaxMs: 2_000,
      updateCheckSchedule: undefined,
      updateCheckJitterMs: 0,
      syncTimeoutMs: 30_000,
      lease: {
        namespace: options.namespace,
        name: options.leaseName ?? 'piggy-operator',
        identity: options.identity ?? `test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
        // A leader that cannot renew within the deadline steps down (client-go's contract); the
        // tests share one loaded process, so the deadline leaves room for slow calls.
        durationMs: 15_000,
        renewDeadlineMs: 10_000,
        retryPeriodMs: 500,
      },
      ...settings,
    },
  });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await operator.stop();
    clients.destroy();
  };
  t.teardown(stop);
  const metric = async (name: string, labels: Record<string, string> = {}): Promise<number> => {
    const found = (await registry.getMetricsAsJSON()).find((entry) => entry.name === name);
    const values = (found?.values ?? []) as { value: number; labels: Record<string, string | number> }[];
    return values
      .filter((value) => Object.entries(labels).every(([key, wanted]) => String(value.labels[key]) === wanted))
      .reduce((sum, value) => sum + value.value, 0);
  };
  return {
    operator,
    registry,
    logs: () => Buffer.concat(chunks).toString('utf8'),
    awsCalls: (api) => metric('piggy_aws_calls_total', api === undefined ? {} : { api }),
    metric,
    stop,
  };
}

function loadKc(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

export const AWSSECRETS = { group: 'piggysec.com', version: 'v1alpha1', plural: 'awssecrets' } as const;

export function awsSecretApi(kc?: KubeConfig): { custom: CustomObjectsApi; core: CoreV1Api } {
  const config = kc ?? loadKc(kubeConfigPath());
  return { custom: config.makeApiClient(CustomObjectsApi), core: config.makeApiClient(CoreV1Api) };
}

export async function createAWSSecret(namespace: string, name: string, spec: AWSSecretSpec): Promise<AWSSecret> {
  const { custom } = awsSecretApi();
  return (await custom.createNamespacedCustomObject({
    ...AWSSECRETS,
    namespace,
    body: { apiVersion: 'piggysec.com/v1alpha1', kind: 'AWSSecret', metadata: { name, namespace }, spec },
  })) as AWSSecret;
}

export async function getAWSSecret(namespace: string, name: string): Promise<AWSSecret> {
  const { custom } = awsSecretApi();
  return (await custom.getNamespacedCustomObject({ ...AWSSECRETS, namespace, name })) as AWSSecret;
}

export async function patchAWSSecretSpec(namespace: string, name: string, spec: Partial<AWSSecretSpec>): Promise<void> {
  const { PatchStrategy, setHeaderOptions } = await import('@kubernetes/client-node');
  const { custom } = awsSecretApi();
  await custom.patchNamespacedCustomObject({ ...AWSSECRETS, namespace, name, body: { spec } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
}

export function ref(secretId: string, versionId: string): { secretsManagerSecretRef: { secretId: string; versionId: string } } {
  return { secretsManagerSecretRef: { secretId, versionId } };
}
