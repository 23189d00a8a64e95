// The injection webhook end to end: `piggy controller` as a real process, registered with the real
// API server through a MutatingWebhookConfiguration (URL + caBundle) scoped to one test namespace,
// and a second, tiny mutating webhook for reinvocation tests.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, request } from 'node:https';
import { join } from 'node:path';
import {
  AdmissionregistrationV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1MutatingWebhook,
  type V1MutatingWebhookConfiguration,
  type V1Pod,
} from '@kubernetes/client-node';
import type { ExecutionContext } from 'ava';
import { parseAllDocuments } from 'yaml';
import type { Container, Pod } from '../../src/webhook/pod.ts';
import { localControllerEnv, REPO_ROOT, startPiggy, type PiggyProcess } from './controller.ts';
import { kube } from './kube.ts';
import { eventually, uniqueName } from './stack.ts';
import { makeServingCertificate } from './tls.ts';

export const WEBHOOK_MANIFEST = join(REPO_ROOT, 'deploy', 'webhook.yaml');
export const ENV_IMAGE = 'registry.example.com/piggy/piggy-env:e2e';
export const PIGGY_ADDRESS = 'https://piggy.piggy-system.svc';
/** The namespace label each test's webhook configuration selects on. */
export const SELECTOR_LABEL = 'piggysec.com/webhook-e2e';

/** Whatever can own clean-ups: an ava test, or a file-wide scope (see createScope). */
export type Owner = Pick<ExecutionContext, 'teardown'>;

/** Clean-ups shared by the tests of one file; call close() in test.after.always. */
export function createScope(): Owner & { close(): Promise<void> } {
  const cleanups: (() => unknown)[] = [];
  return {
    teardown: (fn) => void cleanups.push(fn),
    close: async () => {
      for (const fn of cleanups.reverse()) await fn();
    },
  };
}

export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

export interface Registration {
  readonly namespace: string;
  readonly configurationName: string;
  /** The namespaceSelector of the registration (reuse it for other webhooks in the same test). */
  readonly namespaceSelector: { matchLabels: Record<string, string> };
}

export interface WebhookController extends Registration {
  readonly piggy: PiggyProcess;
  readonly port: number;
  /** The serving certificate (PEM): the caBundle of the registration and PIGGY_CA_BUNDLE. */
  readonly ca: string;
  /** Where the registration came from: the real manifest or the inline fallback. */
  readonly source: 'deploy/webhook.yaml' | 'inline';
  /** Registers this process for one more namespace (its own configuration, deleted at teardown). */
  register(owner: Owner, namespace: string): Promise<Registration>;
  /** The Prometheus text of the controller's /metrics. */
  metrics(): Promise<string>;
  /** stdout + stderr of the controller so far. */
  output(): string;
  /** Sends a request straight to the controller's /mutate (or another path). */
  post(body: string | Buffer | undefined, options?: { method?: string; headers?: Record<string, string>; path?: string }): Promise<Reply>;
}

export interface WebhookControllerOptions {
  readonly namespace: string;
  /** Extra or overriding controller environment. */
  readonly env?: Record<string, string>;
}

/** Starts `piggy controller` (webhook only) and registers it for `namespace`; undone at teardown. */
export async function startWebhookController(owner: Owner, options: WebhookControllerOptions): Promise<WebhookController> {
  const tls = await makeServingCertificate();
  // startPiggy only uses t.teardown.
  const piggy = startPiggy(owner as ExecutionContext, ['controller'], {
    ...localControllerEnv(tls),
    OPERATOR_ENABLED: 'false',
    PIGGY_ENV_IMAGE: ENV_IMAGE,
    // The e2e webhook tests check the init-container copy; auto (image volumes on this 1.37 API
    // server) is covered by webhook-launcher-delivery.test.ts and the journeys.
    PIGGY_ENV_DELIVERY: 'init-container',
    PIGGY_ADDRESS,
    LOG_LEVEL: 'debug',
    ...options.env,
  });
  const started = await piggy.waitForLog((line) => line.msg === 'controller started', 60_000);
  const port = started.httpsPort as number;
  const url = `https://127.0.0.1:${port}/mutate`;
  const register = async (registrationOwner: Owner, namespace: string): Promise<Registration> => {
    const configurationName = uniqueName('piggy-e2e');
    const namespaceSelector = { matchLabels: { [SELECTOR_LABEL]: configurationName } };
    await labelNamespace(namespace, { [SELECTOR_LABEL]: configurationName });
    await admissionApi().createMutatingWebhookConfiguration({ body: buildConfiguration(configurationName, url, tls.cert, namespaceSelector).configuration });
    registrationOwner.teardown(() => deleteConfiguration(configurationName));
    await waitUntilMutating(namespace);
    return { namespace, configurationName, namespaceSelector };
  };
  const registration = await register(owner, options.namespace);
  return {
    ...registration,
    piggy,
    port,
    ca: tls.cert,
    source: loadWebhookManifest().source,
    register,
    metrics: async () => (await fetch(`http://127.0.0.1:${started.metricsPort as number}/metrics`)).text(),
    output: () => piggy.stdout() + piggy.stderr(),
    post: (body, opts = {}) => send(port, tls.cert, body, opts),
  };
}

function admissionApi(): AdmissionregistrationV1Api {
  return kube().kc.makeApiClient(AdmissionregistrationV1Api);
}

async function deleteConfiguration(name: string): Promise<void> {
  await admissionApi().deleteMutatingWebhookConfiguration({ name }).catch(() => undefined);
}

export async function labelNamespace(name: string, labels: Record<string, string>): Promise<void> {
  await kube().core.patchNamespace({ name, body: { metadata: { labels } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
}

const INLINE_WEBHOOK: V1MutatingWebhook = {
  name: 'pods.piggysec.com',
  admissionReviewVersions: ['v1'],
  clientConfig: {},
  rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
  sideEffects: 'None',
};

/** The MutatingWebhookConfiguration of deploy/webhook.yaml when it exists, else an inline equivalent. */
export function loadWebhookManifest(): { webhooks: V1MutatingWebhook[]; source: WebhookController['source'] } {
  if (!existsSync(WEBHOOK_MANIFEST)) return { webhooks: [INLINE_WEBHOOK], source: 'inline' };
  const documents = parseAllDocuments(readFileSync(WEBHOOK_MANIFEST, 'utf8')).map((document) => document.toJS() as unknown);
  const found = documents.find((item): item is V1MutatingWebhookConfiguration => (item as { kind?: unknown } | null)?.kind === 'MutatingWebhookConfiguration');
  if (found?.webhooks === undefined || found.webhooks.length === 0) throw new Error(`${WEBHOOK_MANIFEST} has no MutatingWebhookConfiguration with webhooks`);
  return { webhooks: found.webhooks, source: 'deploy/webhook.yaml' };
}

/**
 * The registration for one test: the manifest's rules and matchConditions (and objectSelector),
 * with clientConfig pointing at this process, the namespaceSelector narrowed to the test namespace,
 * and the settings the design fixes (Fail, IfNeeded, None, v1, 10 s).
 */
export function buildConfiguration(
  name: string,
  url: string,
  ca: string,
  namespaceSelector: { matchLabels: Record<string, string> },
  reinvocationPolicy = 'IfNeeded',
): { configuration: V1MutatingWebhookConfiguration; source: WebhookController['source'] } {
  const { webhooks, source } = loadWebhookManifest();
  return {
    source,
    configuration: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name, labels: { 'app.kubernetes.io/part-of': 'piggy-e2e' } },
      webhooks: webhooks.map((webhook) => ({
        ...webhook,
        clientConfig: { url, caBundle: Buffer.from(ca).toString('base64') },
        namespaceSelector,
        failurePolicy: 'Fail',
        reinvocationPolicy,
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
        timeoutSeconds: 10,
      })),
    },
  };
}

/** A pod every registration mutates (opted in by annotation, one `piggy:` literal, a command). */
export function probePod(namespace: string): Pod {
  return {
    metadata: { name: uniqueName('probe'), namespace, annotations: { 'piggysec.com/aws-secret-name': `${namespace}/probe` } },
    spec: { containers: [{ name: 'probe', image: 'registry.example.com/probe:1', command: ['/probe'], env: [{ name: 'TOKEN', value: 'piggy:token' }] }] },
  };
}

/** The API server picks new webhook configurations up asynchronously: dry-run a probe until it is mutated. */
async function waitUntilMutating(namespace: string): Promise<void> {
  await eventually(
    async () => {
      const pod = await kube().core.createNamespacedPod({ namespace, body: probePod(namespace) as V1Pod, dryRun: 'All' });
      if (!pod.spec?.initContainers?.some((item) => item.name === 'install-piggy-env')) throw new Error('the webhook is not called yet');
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
}

function send(port: number, ca: string, body: string | Buffer | undefined, options: { method?: string; headers?: Record<string, string>; path?: string }): Promise<Reply> {
  const headers = options.headers ?? { 'content-type': 'application/json' };
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: options.path ?? '/mutate', method: options.method ?? 'POST', headers, ca, servername: 'localhost', agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The pod as stored, read back through the API (plain JSON). */
export async function readPod(namespace: string, name: string): Promise<Pod> {
  return plain(await kube().core.readNamespacedPod({ namespace, name }));
}

/** Creates the pod through the API and returns it as persisted. */
export async function createPod(namespace: string, pod: Pod): Promise<Pod> {
  const created = await kube().core.createNamespacedPod({ namespace, body: pod as V1Pod });
  return readPod(namespace, created.metadata?.name ?? '');
}

/** Creates the pod and expects a denial; returns the API server's message. */
export async function createPodDenied(namespace: string, pod: Pod): Promise<string> {
  let created: V1Pod;
  try {
    created = await kube().core.createNamespacedPod({ namespace, body: pod as V1Pod });
  } catch (error) {
    return apiMessage(error);
  }
  throw new Error(`pod ${namespace}/${created.metadata?.name ?? ''} was admitted, a denial was expected`);
}

/** The Status message of an API error (the webhook's denial text), else the error's message. */
export function apiMessage(error: unknown): string {
  const body = (error as { body?: unknown }).body;
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = undefined;
    }
  }
  const message = (parsed as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : error instanceof Error ? error.message : String(error);
}

export function plain(value: unknown): Pod {
  return JSON.parse(JSON.stringify(value)) as Pod;
}

export interface PatchingWebhook {
  /** Number of AdmissionReviews it answered. */
  calls(): number;
}

/**
 * Another mutating webhook (a tiny HTTPS server) registered next to piggy with reinvocationPolicy
 * IfNeeded: `patch` returns RFC 6902 operations for a pod (empty: no change). Configurations are
 * called in name order, so the name decides whether it runs before or after piggy's.
 */
export async function startPatchingWebhook(
  owner: Owner,
  options: { name: string; namespace: string; namespaceSelector: { matchLabels: Record<string, string> }; patch: (pod: Pod) => unknown[] },
): Promise<PatchingWebhook> {
  const tls = await makeServingCertificate();
  let calls = 0;
  const server = createServer({ cert: tls.cert, key: readFileSync(tls.keyFile) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      calls += 1;
      const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { request: { uid: string; object: Pod } };
      const operations = options.patch(review.request.object);
      const response = {
        uid: review.request.uid,
        allowed: true,
        ...(operations.length > 0 ? { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(operations)).toString('base64') } : {}),
      };
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  owner.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const body: V1MutatingWebhookConfiguration = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: options.name, labels: { 'app.kubernetes.io/part-of': 'piggy-e2e' } },
    webhooks: [
      {
        ...INLINE_WEBHOOK,
        name: 'other.e2e.example.com',
        clientConfig: { url: `https://127.0.0.1:${port}/`, caBundle: Buffer.from(tls.cert).toString('base64') },
        namespaceSelector: options.namespaceSelector,
        failurePolicy: 'Fail',
        reinvocationPolicy: 'IfNeeded',
        timeoutSeconds: 10,
      },
    ],
  };
  await admissionApi().createMutatingWebhookConfiguration({ body });
  owner.teardown(() => deleteConfiguration(options.name));
  const before = calls;
  await eventually(
    async () => {
      await kube().core.createNamespacedPod({ namespace: options.namespace, body: probePod(options.namespace) as V1Pod, dryRun: 'All' });
      if (calls === before) throw new Error('the other webhook is not called yet');
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  return { calls: () => calls };
}

/** Every container (init first) by name; throws when it is missing. */
export function containerOf(pod: Pod, name: string): Container {
  const found = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find((item) => item.name === name);
  if (found === undefined) throw new Error(`the pod has no container "${name}"`);
  return found;
}

/** A container's env as name → value (a valueFrom entry as its JSON). */
export function envOf(container: Container): Record<string, string> {
  return Object.fromEntries((container.env ?? []).map((item) => [item.name, item.value ?? JSON.stringify(item.valueFrom)]));
}

/** The contract, restated independently: sha256 hex of the JSON array of the template. */
export const signatureOf = (template: readonly string[]): string => createHash('sha256').update(JSON.stringify(template)).digest('hex');
/** Every `$` doubled, so the kubelet's expansion hands the launcher the template verbatim. */
export const escaped = (template: readonly string[]): string[] => template.map((part) => part.replaceAll('$', () => '$$'));

const LAUNCHER_VOLUME = 'piggy-env';
const INSTALL = 'install-piggy-env';

/** One container runs the launcher with `template`, mounts it read-only, and piggy-uid signs that template. Returns its PIGGY_UID. */
export function assertWrapped(t: ExecutionContext, pod: Pod, name: string, template: readonly string[]): string {
  const container = containerOf(pod, name);
  t.deepEqual(container.command, ['/piggy/piggy-env'], `${name}: command`);
  t.deepEqual(container.args, ['--', ...escaped(template)], `${name}: args`);
  t.deepEqual(container.volumeMounts?.filter((mount) => mount.name === LAUNCHER_VOLUME), [{ name: LAUNCHER_VOLUME, mountPath: '/piggy', readOnly: true }], `${name}: mount`);
  const uid = envOf(container).PIGGY_UID ?? '';
  t.regex(uid, /^[0-9a-f]{32}$/, `${name}: PIGGY_UID`);
  const uids = JSON.parse(pod.metadata?.annotations?.['piggysec.com/piggy-uid'] ?? '{}') as Record<string, string>;
  t.is(uids[uid], signatureOf(template), `${name}: piggy-uid holds the signature of its template`);
  return uid;
}

/** Untouched by piggy: no launcher command, mount or PIGGY_* env. */
export function assertNotWrapped(t: ExecutionContext, pod: Pod, name: string): void {
  const container = containerOf(pod, name);
  t.not(container.command?.[0], '/piggy/piggy-env', `${name}: command`);
  t.false((container.volumeMounts ?? []).some((mount) => mount.name === LAUNCHER_VOLUME), `${name}: no launcher mount`);
  t.deepEqual(Object.keys(envOf(container)).filter((key) => key.startsWith('PIGGY_')), [], `${name}: no PIGGY_* env`);
}

/** Exactly one launcher volume and one install init container (first), and piggy-uid lists exactly `wrapped`. */
export function assertInjectedOnce(t: ExecutionContext, pod: Pod, wrapped: readonly string[]): void {
  const volumes = (pod.spec?.volumes ?? []).filter((volume) => volume.name === LAUNCHER_VOLUME);
  t.deepEqual(volumes, [{ name: LAUNCHER_VOLUME, emptyDir: { sizeLimit: '256Mi' } }], 'one on-disk launcher volume');
  const inits = (pod.spec?.initContainers ?? []).map((item) => item.name);
  t.is(inits.filter((item) => item === INSTALL).length, 1, 'one install-piggy-env');
  t.is(inits[0], INSTALL, 'install-piggy-env runs first');
  const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  const launched = all.filter((item) => item.command?.[0] === '/piggy/piggy-env').map((item) => item.name);
  t.deepEqual([...launched].sort(), [...wrapped].sort(), 'wrapped containers');
  const uids = Object.keys(JSON.parse(pod.metadata?.annotations?.['piggysec.com/piggy-uid'] ?? '{}') as object).sort();
  t.deepEqual(uids, wrapped.map((name) => envOf(containerOf(pod, name)).PIGGY_UID ?? '').sort(), 'piggy-uid keys are the wrapped containers\' PIGGY_UID');
}

/** Asserts the controller never printed any of `values` (and did print something about the namespace). */
export function assertNoLeak(t: ExecutionContext, controller: WebhookController, values: readonly string[], namespace = controller.namespace): void {
  const output = controller.output();
  t.true(output.includes(namespace), 'the controller logged about this namespace (the check is not vacuous)');
  for (const value of values) t.false(output.includes(value), 'a canary value appeared in the controller output');
}
