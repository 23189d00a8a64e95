// Helpers for the /secret proxy tests: passed-in fakes for the unit tests, and for the integration
// tests a real proxy (HTTPS listener + app + router) with a least-privilege identity, real
// TokenReviews, the secret source on moto, and pods with pod-bound tokens.
import { randomBytes } from 'node:crypto';
import { request } from 'node:https';
import { PassThrough } from 'node:stream';
import { KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import type { ExecutionContext } from 'ava';
import { Registry } from 'prom-client';
import { createAwsMetrics } from '../../src/aws/aws-metrics.ts';
import { createCallBudget } from '../../src/aws/call-budget.ts';
import { createAwsClients } from '../../src/aws/clients.ts';
import { createSecretSource, type SecretSource, type SecretVersionValue } from '../../src/aws/secret-source.ts';
import { createVersionCache } from '../../src/aws/version-cache.ts';
import { parsePodConfig, type AnnotationDefaults } from '../../src/config/annotations.ts';
import { buildPodReader, type PodSnapshot, type ReadPod } from '../../src/kube/pod-reader.ts';
import { createTokenReviewer, type ReviewToken, type TokenReviewResult } from '../../src/kube/token-review.ts';
import { buildProxyRouter } from '../../src/proxy/router.ts';
import { buildLauncherEnv } from '../../src/webhook/mutate.ts';
import { buildApp } from '../../src/server/app.ts';
import { startHttpsListener } from '../../src/server/https-listener.ts';
import { buildCommandSignature, formatPiggyUids, PIGGY_UID_ANNOTATION } from '../../src/shared/injection-contract.ts';
import { createLogger, type Logger } from '../../src/shared/logger.ts';
import { createMetrics } from '../../src/shared/metrics.ts';
import { Readiness } from '../../src/shared/readiness.ts';
import { requestPodToken } from '../../scripts/local/kube-objects.ts';
import { kube, serviceAccountKubeConfig } from './kube.ts';
import { makeServingCertificate } from './tls.ts';
import { uniqueName } from './stack.ts';
import { buildAccessPolicy } from '../../src/shared/access-policy.ts';
import { MOTO_ACCOUNT } from './aws-account.ts';

export const POD_NAME_CLAIM = 'authentication.kubernetes.io/pod-name';
export const POD_UID_CLAIM = 'authentication.kubernetes.io/pod-uid';

/** A logger writing into memory; `text()` is every line so far. */
export function captureLog(level: 'info' | 'debug' | 'trace' = 'debug'): { log: Logger; text: () => string; lines: () => Record<string, unknown>[] } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  const text = () => Buffer.concat(chunks).toString('utf8');
  return {
    log: createLogger({ level, destination: stream }),
    text,
    lines: () => text().split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/** A TokenReview answer for a pod-bound service-account token. */
export function boundReview(namespace: string, serviceAccount: string, podName: string, podUid: string, cached = false): TokenReviewResult {
  return {
    authenticated: true,
    user: {
      username: `system:serviceaccount:${namespace}:${serviceAccount}`,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`],
      extra: { [POD_NAME_CLAIM]: [podName], [POD_UID_CLAIM]: [podUid] },
    },
    audiences: ['https://kubernetes.default.svc'],
    cached,
  };
}

/** A signed container of a piggy pod: its uid, its template and the signature the webhook recorded. */
export interface SignedContainer {
  readonly uid: string;
  readonly template: readonly string[];
  readonly signature: string;
}

/** A fresh container uid (32 lower-case hex), like the webhook's. */
export function newContainerUid(): string {
  return randomBytes(16).toString('hex');
}

export function signedContainer(uid: string, template: readonly string[] = ['/app/server', '--port', '8080']): SignedContainer {
  return { uid, template, signature: buildCommandSignature(template) };
}

export function piggyUidAnnotation(containers: readonly SignedContainer[]): Record<string, string> {
  return { [PIGGY_UID_ANNOTATION]: formatPiggyUids(Object.fromEntries(containers.map((item) => [item.uid, item.signature]))) };
}

/**
 * The literal env the webhook writes into a wrapped container (the webhook's own buildLauncherEnv):
 * PIGGY_UID and, in proxy mode, the admission record /secret trusts. Invalid annotations (which the
 * webhook would deny) give PIGGY_UID alone: a container without a record.
 */
export function admittedEnv(
  container: SignedContainer,
  pod: { readonly namespace: string; readonly serviceAccount: string; readonly annotations?: Record<string, string>; readonly defaults?: AnnotationDefaults },
): Record<string, string> {
  const annotations = { ...piggyUidAnnotation([container]), ...pod.annotations };
  const parsed = parsePodConfig(annotations, pod.defaults ?? {}, { namespace: pod.namespace });
  if (!parsed.ok) return { PIGGY_UID: container.uid };
  const env = buildLauncherEnv(parsed.config, container.uid, undefined, { signature: container.signature, namespace: pod.namespace, serviceAccount: pod.serviceAccount });
  return Object.fromEntries(env.flatMap((item) => (typeof item.value === 'string' ? [[item.name, item.value] as const] : [])));
}

/** In-memory fakes for the handler: tokens → reviews, pods by namespace/name, secrets by id. */
export interface Fakes {
  readonly reviewToken: ReviewToken;
  readonly readPod: ReadPod;
  readonly source: Pick<SecretSource, 'fetchVersion' | 'fetchByStage' | 'fetchParametersByPath'>;
  readonly calls: { reviews: number; pods: number; aws: string[] };
  readonly reviews: Map<string, TokenReviewResult | Error>;
  readonly pods: Map<string, PodSnapshot | Error>;
  readonly secrets: Map<string, SecretVersionValue | Error>;
  readonly parameters: Map<string, Readonly<Record<string, string>> | Error>;
}

export function buildFakes(): Fakes {
  const calls = { reviews: 0, pods: 0, aws: [] as string[] };
  const reviews = new Map<string, TokenReviewResult | Error>();
  const pods = new Map<string, PodSnapshot | Error>();
  const secrets = new Map<string, SecretVersionValue | Error>();
  const parameters = new Map<string, Readonly<Record<string, string>> | Error>();
  const answer = <T>(value: T | Error | undefined, missing: () => T): T => {
    if (value instanceof Error) throw value;
    return value ?? missing();
  };
  return {
    calls,
    reviews,
    pods,
    secrets,
    parameters,
    reviewToken: async (token) => {
      calls.reviews += 1;
      return answer(reviews.get(token), () => ({ authenticated: false, audiences: [], cached: false }));
    },
    readPod: async (namespace, name) => {
      calls.pods += 1;
      const found = pods.get(`${namespace}/${name}`);
      if (found instanceof Error) throw found;
      return found;
    },
    source: {
      fetchVersion: async (ref) => {
        calls.aws.push(`version:${ref.secretId}:${ref.versionId}`);
        return answer(secrets.get(`${ref.secretId}@${ref.versionId}`), () => {
          throw new Error(`fake: no secret ${ref.secretId}@${ref.versionId}`);
        });
      },
      fetchByStage: async (ref) => {
        calls.aws.push(`stage:${ref.secretId}:${ref.stage}`);
        return answer(secrets.get(`${ref.secretId}#${ref.stage}`), () => {
          throw new Error(`fake: no secret ${ref.secretId}#${ref.stage}`);
        });
      },
      fetchParametersByPath: async (ref) => {
        calls.aws.push(`path:${ref.path}`);
        return answer(parameters.get(ref.path), () => ({}));
      },
    },
  };
}

export function secretValue(secretString: string | undefined, name = 'ns/app', versionId = 'v1-0000000000000000000000000000000'): SecretVersionValue {
  return secretString === undefined
    ? { versionId, name, arn: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${name}-AbCdEf`, secretBinary: new Uint8Array([0, 1, 2]) }
    : { versionId, name, arn: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${name}-AbCdEf`, secretString };
}

// ---------------------------------------------------------------------------------------------
// Integration: the real proxy over HTTPS.

export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  json(): Record<string, unknown>;
}

export interface RunningProxy {
  readonly port: number;
  readonly registry: Registry;
  readonly source: SecretSource;
  readonly logs: () => string;
  readonly logLines: () => Record<string, unknown>[];
  /** POST /secret with the token (omitted when undefined) and a JSON body (a string is sent as is). */
  send(token: string | undefined, body: unknown, headers?: Record<string, string>, method?: string): Promise<Reply>;
  /** A metric's value summed over the matching labels. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  close(): Promise<void>;
}

export interface ProxyOptions {
  readonly defaults?: AnnotationDefaults;
  readonly policy?: readonly string[];
  readonly audiences?: readonly string[];
  readonly acceptLegacyPods?: boolean;
  readonly tokenReviewCacheTtlMs?: number;
  readonly maxConcurrency?: number;
  readonly maxQueued?: number;
  readonly stageTtlMs?: number;
}

/**
 * A least-privilege identity for the proxy: a ServiceAccount with a ClusterRole of exactly
 * tokenreviews create + pods get, and a kubeconfig with its token.
 */
export async function proxyKubeConfig(namespace: string): Promise<KubeConfig> {
  const { kc: admin, core } = kube();
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  const name = uniqueName('piggy-proxy');
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  await rbac.createClusterRole({
    body: {
      metadata: { name },
      rules: [
        { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
        { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
      ],
    },
  });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    },
  });
  return serviceAccountKubeConfig(namespace, name);
}

/** Starts a proxy; with a test's `t` it stops when the test ends, otherwise call close() (hooks cannot use t.teardown). */
export async function startProxy(t: ExecutionContext | undefined, kc: KubeConfig, options: ProxyOptions = {}): Promise<RunningProxy> {
  const tls = await makeServingCertificate();
  const captured = captureLog('debug');
  const metrics = createMetrics();
  const clients = createAwsClients(process.env.AWS_REGION, { maxAttempts: 1 });
  const source = createSecretSource({
    clients,
    budget: createCallBudget({ ratePerSecond: 200, burst: 200 }),
    cache: createVersionCache({ maxBytes: 1 << 20 }),
    metrics: createAwsMetrics(metrics.registry),
    log: captured.log,
    stageTtlMs: options.stageTtlMs ?? 30_000,
    callTimeoutMs: 5_000,
  });
  const router = buildProxyRouter({
    reviewToken: createTokenReviewer(kc, { audiences: options.audiences ?? [], acceptDefaultAudience: options.acceptLegacyPods === true, cacheTtlMs: options.tokenReviewCacheTtlMs ?? 0 }),
    audiences: options.audiences ?? [],
    acceptLegacyPods: options.acceptLegacyPods === true,
    readPod: buildPodReader(kc),
    source,
    defaults: options.defaults ?? {},
    policy: buildAccessPolicy(options.policy ?? ['{namespace}/*'], MOTO_ACCOUNT),
    log: captured.log,
    registry: metrics.registry,
    ...(options.maxConcurrency === undefined ? {} : { maxConcurrency: options.maxConcurrency }),
    ...(options.maxQueued === undefined ? {} : { maxQueued: options.maxQueued }),
  });
  const listener = await startHttpsListener({
    address: { host: '127.0.0.1', port: 0 },
    certFile: tls.certFile,
    keyFile: tls.keyFile,
    reloadIntervalMs: 60_000,
    log: captured.log,
    handler: buildApp({ readiness: new Readiness(), metrics, log: captured.log, mount: (app) => app.use(router) }),
  });
  const close = async (): Promise<void> => {
    await listener.close(1_000);
    clients.destroy();
  };
  t?.teardown(close);
  const send = (token: string | undefined, body: unknown, headers: Record<string, string> = {}, method = 'POST'): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
      const allHeaders: Record<string, string> = { 'content-type': 'application/json', ...(token === undefined ? {} : { 'x-token': token }), ...headers };
      const req = request({ host: '127.0.0.1', port: listener.port, path: '/secret', method, headers: allHeaders, ca: tls.cert, servername: 'localhost' }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json: () => JSON.parse(text) as Record<string, unknown> });
        });
      });
      req.on('error', reject);
      req.end(payload);
    });
  const metric = async (name: string, labels: Record<string, string> = {}): Promise<number> => {
    const found = (await metrics.registry.getMetricsAsJSON()).find((entry) => entry.name === name);
    const values = (found?.values ?? []) as { value: number; labels: Record<string, string | number> }[];
    return values.filter((value) => Object.entries(labels).every(([key, wanted]) => String(value.labels[key]) === wanted)).reduce((sum, value) => sum + value.value, 0);
  };
  return { port: listener.port, registry: metrics.registry, source, logs: captured.text, logLines: captured.lines, send, metric, close };
}

/** A pod as the webhook leaves it: annotations (piggy-uid included), each container's admission env, a service account; Pending forever (no scheduler). */
export interface PiggyPod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly serviceAccount: string;
  readonly containers: readonly SignedContainer[];
}

export async function createServiceAccount(namespace: string, name: string): Promise<void> {
  await kube().core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
}

export async function createPiggyPod(
  namespace: string,
  options: { name?: string; serviceAccount: string; annotations?: Record<string, string>; containers?: readonly SignedContainer[]; defaults?: AnnotationDefaults; withoutRecord?: boolean },
): Promise<PiggyPod> {
  const containers = options.containers ?? [signedContainer(newContainerUid())];
  const envOf = (item: SignedContainer) =>
    Object.entries(options.withoutRecord === true ? { PIGGY_UID: item.uid } : admittedEnv(item, { namespace, serviceAccount: options.serviceAccount, ...(options.annotations === undefined ? {} : { annotations: options.annotations }), ...(options.defaults === undefined ? {} : { defaults: options.defaults }) }))
      .map(([name, value]) => ({ name, value }));
  const pod = await kube().core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name: options.name ?? uniqueName('app'), annotations: { ...piggyUidAnnotation(containers), ...options.annotations } },
      spec: {
        serviceAccountName: options.serviceAccount,
        containers: containers.map((item, index) => ({ name: `c${index}`, image: 'busybox', command: ['/piggy/piggy-env'], args: ['--', ...item.template], env: envOf(item) })),
      },
    },
  });
  return { namespace, name: pod.metadata?.name ?? '', uid: pod.metadata?.uid ?? '', serviceAccount: options.serviceAccount, containers };
}

/** A token bound to the pod, as the kubelet projects it (TokenRequest with a Pod boundObjectRef). */
export function podToken(pod: PiggyPod, audiences: readonly string[] = []): Promise<string> {
  return requestPodToken(kube().kc, pod, { audiences });
}

/** The request body piggy-env sends for one container of the pod. */
export function requestFor(pod: PiggyPod, container = pod.containers[0], extra: Record<string, unknown> = {}): Record<string, unknown> {
  if (container === undefined) throw new Error('the pod has no container');
  return { resources: 'pods', name: pod.name, uid: container.uid, signature: container.signature, ...extra };
}
