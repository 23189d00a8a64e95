// The controller-managed webhook TLS against the real API server: the Secret, the files the HTTPS
// listener serves, the MutatingWebhookConfiguration's caBundle, rotations without a failed request
// (the API server itself calling the webhook), deploy/rbac-webhook.yaml and deploy/webhook.yaml.
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { AdmissionregistrationV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { KubernetesObject, RbacV1Subject, V1MutatingWebhookConfiguration, V1Pod, V1PolicyRule } from '@kubernetes/client-node';
import test, { type ExecutionContext } from 'ava';
import { startWebhookCertificates, type WebhookCertificates, type WebhookCertificatesOptions } from '../../src/kube/webhook-certificates.ts';
import { startHttpsListener, type RunningListener } from '../../src/server/https-listener.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { splitPemCertificates } from '../../src/shared/pki.ts';
import { DEPLOY_DIR, applyObject, loadYamlObjects } from '../helpers/crd.ts';
import { createTestNamespace, kube, serviceAccountKubeConfig } from '../helpers/kube.ts';
import { eventually, uniqueName } from '../helpers/stack.ts';

const SECRET = 'piggy-webhook-tls';
const admission = () => kube().kc.makeApiClient(AdmissionregistrationV1Api);
const b64 = (text: string) => Buffer.from(text).toString('base64');
/** Every log line the certificate manager wrote, and the namespaces whose keys must not be in them. */
const logLines: string[] = [];
const namespaces: string[] = [];
const log = createLogger({ level: 'debug', destination: new Writable({ write: (chunk: Buffer, _enc, done) => (logLines.push(chunk.toString()), done()) }) });

async function start(t: ExecutionContext, namespace: string, options: Partial<WebhookCertificatesOptions> = {}): Promise<WebhookCertificates> {
  namespaces.push(namespace);
  const certs = await startWebhookCertificates({
    ...{ kc: kube().kc, namespace, secretName: SECRET, serviceName: 'piggy', webhookConfigurationName: uniqueName('absent'), log },
    ...{ certDir: await mkdtemp(join(tmpdir(), 'piggy-certs-')), extraDnsNames: ['localhost'], extraIpAddresses: ['127.0.0.1'], checkIntervalMs: 1_000 },
    ...options,
  });
  t.teardown(() => certs.stop());
  return certs;
}

async function serve(t: ExecutionContext, certs: WebhookCertificates, handler?: (req: IncomingMessage, res: ServerResponse) => void): Promise<RunningListener> {
  const { certFile, keyFile } = certs;
  const listener = await startHttpsListener({ address: { host: '127.0.0.1', port: 0 }, certFile, keyFile, reloadIntervalMs: 100, log, handler: handler ?? ((_req, res) => res.end('ok')) });
  t.teardown(() => listener.close(1_000));
  return listener;
}

/** A webhook that allows everything and records the names of the pods it was sent. */
function allowAll(called: Set<string>) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST') return void res.end('ok'); // direct TLS probes
      const review = JSON.parse(Buffer.concat(chunks).toString()) as { request: { uid: string; object: V1Pod } };
      called.add(review.request.object.metadata?.name ?? review.request.uid);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true } }));
    });
  };
}

/** One fresh connection verifying the server with `ca` for `servername`; the served certificate's fingerprint. */
function fetchVerified(port: number, ca: string, servername = 'localhost'): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', ca, servername, agent: false }, (res) => {
      const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(fingerprint) : reject(new Error(`HTTP ${res.statusCode ?? 0}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

const readSecret = (namespace: string) => kube().core.readNamespacedSecret({ namespace, name: SECRET });
const secretValue = async (namespace: string, key: string): Promise<string> => Buffer.from((await readSecret(namespace)).data?.[key] ?? '', 'base64').toString();

async function createConfiguration(t: ExecutionContext, body: V1MutatingWebhookConfiguration): Promise<string> {
  const name = body.metadata?.name ?? '';
  await admission().createMutatingWebhookConfiguration({ body });
  t.teardown(() => admission().deleteMutatingWebhookConfiguration({ name }).catch(() => undefined));
  return name;
}

/** A configuration that never applies to anything: a URL, Ignore, and an objectSelector nothing matches. */
function inertConfiguration(name: string, caBundle?: string): V1MutatingWebhookConfiguration {
  const webhook = (hook: string) => ({
    ...{ name: hook, admissionReviewVersions: ['v1'], sideEffects: 'None', failurePolicy: 'Ignore', clientConfig: { url: 'https://127.0.0.1:1/mutate', caBundle } },
    objectSelector: { matchLabels: { 'piggysec.com/never': name } },
    rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
  });
  return { metadata: { name }, webhooks: [webhook('one.piggysec.com'), webhook('two.piggysec.com')] };
}

const caBundlesOf = async (name: string): Promise<string[]> =>
  ((await admission().readMutatingWebhookConfiguration({ name })).webhooks ?? []).map((hook) => Buffer.from(hook.clientConfig.caBundle ?? '', 'base64').toString());
/** For eventually(): throws (ava assertions would fail the test on the first try). */
async function expectBundles(name: string, bundle: string): Promise<void> {
  const bundles = await caBundlesOf(name);
  if (bundles.length !== 2 || bundles.some((item) => item !== bundle)) throw new Error(`${name}: caBundles differ from the trust bundle`);
}

test('replicas starting together converge on ONE CA; files are written with the key private', async (t) => {
  const namespace = await createTestNamespace(t, 'certs-race');
  const replicas = await Promise.all([1, 2, 3, 4].map(() => start(t, namespace)));
  const bundles = new Set(replicas.map((certs) => certs.caBundle()));
  t.is(bundles.size, 1, 'every replica uses the same CA');
  const secret = await readSecret(namespace);
  t.is(secret.type, 'kubernetes.io/tls');
  t.is(secret.metadata?.labels?.['app.kubernetes.io/managed-by'], 'piggy-webhook-certificates');
  t.is(await secretValue(namespace, 'ca.crt'), replicas[0]!.caBundle());
  t.is(splitPemCertificates(replicas[0]!.caBundle()).length, 1);
  for (const certs of replicas) {
    t.is(await readFile(certs.certFile, 'utf8'), await secretValue(namespace, 'tls.crt'));
    t.is(await readFile(certs.caFile, 'utf8'), certs.caBundle());
    t.is((await stat(certs.keyFile)).mode & 0o777, 0o600);
  }
});

test('the listener serves the files; a client verifies them with the CA for every service name', async (t) => {
  const namespace = await createTestNamespace(t, 'certs-serve');
  const certs = await start(t, namespace);
  const listener = await serve(t, certs);
  for (const name of ['piggy', `piggy.${namespace}`, `piggy.${namespace}.svc`, `piggy.${namespace}.svc.cluster.local`, 'localhost']) {
    t.truthy(await fetchVerified(listener.port, certs.caBundle(), name), name);
  }
  await t.throwsAsync(fetchVerified(listener.port, certs.caBundle(), 'piggy.other.svc'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
});

test('the caBundle of every webhook is set, and restored after someone overwrites it', async (t) => {
  const namespace = await createTestNamespace(t, 'certs-bundle');
  const name = await createConfiguration(t, inertConfiguration(uniqueName('piggy-certs')));
  const certs = await start(t, namespace, { webhookConfigurationName: name, checkIntervalMs: 500 });
  t.deepEqual(await caBundlesOf(name), [certs.caBundle(), certs.caBundle()]);
  const { resourceVersion } = (await admission().readMutatingWebhookConfiguration({ name })).metadata ?? {};
  await certs.sync();
  t.is((await admission().readMutatingWebhookConfiguration({ name })).metadata?.resourceVersion, resourceVersion, 'no patch when nothing differs');
  const overwrite = [{ op: 'replace', path: '/webhooks/1/clientConfig/caBundle', value: b64('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n') }];
  const overwritten = await admission().patchMutatingWebhookConfiguration({ name, body: overwrite }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch));
  // The stored object as the patch left it (a read afterwards may already see the controller's repair: it polls every 500 ms).
  t.not(Buffer.from(overwritten.webhooks?.[1]?.clientConfig.caBundle ?? '', 'base64').toString(), certs.caBundle(), 'the overwrite took');
  await eventually(() => expectBundles(name, certs.caBundle()), { timeoutMs: 10_000 });
  t.pass('restored');
});

test('a forced serving renewal keeps the CA; the listener switches with no failed request', async (t) => {
  const namespace = await createTestNamespace(t, 'certs-renew');
  // Renewed about every 8 s with a 32 s margin before expiry: a loaded machine delays a renewal,
  // never lets a served certificate expire.
  const certs = await start(t, namespace, { validity: { caMs: 3_650 * 86_400_000, servingMs: 40_000 }, renewBefore: { caMs: 365 * 86_400_000, servingMs: 32_000 } });
  const ca = certs.caBundle();
  const listener = await serve(t, certs);
  const served = new Set<string>();
  let requests = 0;
  const deadline = Date.now() + 90_000;
  while (served.size < 3 && Date.now() < deadline) {
    served.add(await fetchVerified(listener.port, ca)); // throws, and fails the test, on any failed request
    requests += 1;
  }
  t.true(served.size >= 3, `three serving certificates seen in ${requests} requests`);
  t.is(certs.caBundle(), ca, 'the CA did not change');
  t.is(await secretValue(namespace, 'ca.crt'), ca);
  t.log(`${requests} requests, ${served.size} serving certificates, 0 failures`);
});

test('a CA rotation (stage, promote, retire) while the API server calls the webhook: no failed admission', async (t) => {
  const namespace = await createTestNamespace(t, 'certs-ca');
  const name = uniqueName('piggy-certs-ca');
  const certs = await start(t, namespace, {
    webhookConfigurationName: name,
    // Stage at +12 s, promote at +15 s, retire at +18 s; the next CA is not staged before +24 s.
    validity: { caMs: 40_000, servingMs: 60_000 },
    renewBefore: { caMs: 28_000, servingMs: 3_000 },
    caOverlapMs: 3_000,
  });
  const firstCa = certs.caBundle();
  const calls = new Set<string>();
  const listener = await serve(t, certs, allowAll(calls));
  // Fail (not Ignore), scoped to this test's namespace: a TLS failure would fail the pod create.
  await createConfiguration(t, {
    metadata: { name },
    webhooks: [
      {
        name: 'pods.piggysec.com',
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        failurePolicy: 'Fail',
        timeoutSeconds: 5,
        clientConfig: { url: `https://127.0.0.1:${listener.port}/mutate`, caBundle: b64(firstCa) },
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
      },
    ],
  });
  const admit = () =>
    kube().core.createNamespacedPod({ namespace, dryRun: 'All', body: { metadata: { name: uniqueName('probe') }, spec: { containers: [{ name: 'app', image: 'example.com/app:1' }] } } });
  await eventually(async () => {
    const before = calls.size;
    await admit();
    if (calls.size === before) throw new Error('the API server does not call the webhook yet');
  });
  const seen: string[] = [];
  let admissions = 0;
  let direct = 0;
  const deadline = Date.now() + 60_000;
  for (;;) {
    await admit(); // through the API server, which verifies with the configuration's caBundle
    admissions += 1;
    const published = (await caBundlesOf(name))[0] ?? '';
    await fetchVerified(listener.port, published); // a client that trusts what is published right now
    direct += 1;
    const shape = splitPemCertificates(published).map((pem) => (firstCa.includes(pem) ? 'old' : 'new')).join('+');
    if (seen.at(-1) !== shape) seen.push(shape);
    if (shape === 'new' || Date.now() > deadline) break;
  }
  t.deepEqual(seen.slice(0, 1), ['old']);
  t.true(seen.includes('old+new'), `a two-CA bundle was published first: ${seen.join(' → ')}`);
  t.is(seen.at(-1), 'new', `the old CA was retired: ${seen.join(' → ')}`);
  t.log(`${admissions} admissions through the API server and ${direct} direct requests during ${seen.join(' → ')}, 0 failures`);
});

test('only the grants of deploy/rbac-webhook.yaml: create, watch by name, rotate, patch the configuration', async (t) => {
  const namespace = await createTestNamespace(t, 'certs-rbac');
  const name = await createConfiguration(t, inertConfiguration(uniqueName('piggy-certs-rbac')));
  await applyWebhookRbac(namespace, 'piggy', name);
  const kc = await serviceAccountKubeConfig(namespace, 'piggy');
  const certs = await start(t, namespace, { kc, webhookConfigurationName: name, checkIntervalMs: 600_000 });
  t.deepEqual(await caBundlesOf(name), [certs.caBundle(), certs.caBundle()]);
  // Break the Secret as an admin: only the watch (the interval is 10 minutes) can notice in time.
  const before = certs.caBundle();
  await kube().core.patchNamespacedSecret({ namespace, name: SECRET, body: { data: { 'ca.key': b64('broken') } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  await eventually(async () => {
    if (certs.caBundle() === before) throw new Error('the broken Secret was not replaced yet');
  }, { timeoutMs: 15_000 });
  await eventually(() => expectBundles(name, certs.caBundle()), { timeoutMs: 15_000 });
  t.not(certs.caBundle(), before);
});

test('a Secret of the same name that piggy does not manage is never overwritten', async (t) => {
  const namespace = await createTestNamespace(t, 'certs-foreign');
  await kube().core.createNamespacedSecret({ namespace, body: { metadata: { name: SECRET }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64('x'), 'tls.key': b64('y') } } });
  const error = await t.throwsAsync(start(t, namespace));
  t.is((error as { code?: string } | undefined)?.code, 'ERR_WEBHOOK_CERT_FOREIGN_SECRET');
  t.is(await secretValue(namespace, 'tls.crt'), 'x');
});

test('deploy/webhook.yaml is accepted, and its matchConditions send exactly the opted-in pods', async (t) => {
  const namespace = await createTestNamespace(t, 'certs-manifest');
  const certs = await start(t, namespace);
  const called = new Set<string>();
  const listener = await serve(t, certs, allowAll(called));
  const [manifest] = loadYamlObjects(join(DEPLOY_DIR, 'webhook.yaml')) as V1MutatingWebhookConfiguration[];
  if (manifest?.webhooks?.[0]?.matchConditions === undefined) return t.fail('deploy/webhook.yaml has no webhook with matchConditions');
  const configuration = structuredClone(manifest);
  configuration.metadata = { ...configuration.metadata, name: uniqueName('piggy-manifest') };
  configuration.webhooks = (configuration.webhooks ?? []).map((hook) => ({
    ...hook,
    clientConfig: { url: `https://127.0.0.1:${listener.port}/mutate`, caBundle: b64(certs.caBundle()) },
    failurePolicy: 'Ignore',
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
  }));
  await applyObject(configuration);
  t.teardown(() => admission().deleteMutatingWebhookConfiguration({ name: configuration.metadata?.name ?? '' }).catch(() => undefined));

  const podOf = (podName: string, annotations: Record<string, string> = {}, env?: V1Pod['spec']): V1Pod => ({
    metadata: { name: podName, annotations },
    spec: env ?? { containers: [{ name: 'app', image: 'example.com/app:1', env: [{ name: 'PLAIN', value: 'piggy' }] }] },
  });
  const withEnv = (value: string, init = false): V1Pod['spec'] => {
    const container = { name: 'c', image: 'example.com/app:1', env: [{ name: 'A', valueFrom: { configMapKeyRef: { name: 'cm', key: 'k' } } }, { name: 'B', value }] };
    return init ? { initContainers: [container], containers: [{ name: 'app', image: 'example.com/app:1' }] } : { containers: [{ name: 'first', image: 'example.com/x:1' }, container] };
  };
  await eventually(async () => {
    const probe = uniqueName('probe');
    await kube().core.createNamespacedPod({ namespace, body: podOf(probe, { 'piggysec.com/aws-secret-name': 'x' }), dryRun: 'All' });
    if (!called.has(probe)) throw new Error('the API server does not call the webhook yet');
  });
  const pods: [V1Pod, boolean][] = [
    [podOf('secret-name', { 'piggysec.com/aws-secret-name': 'ns/app' }), true],
    [podOf('ssm-path', { 'piggysec.com/aws-ssm-parameter-path': '/app' }), true],
    [podOf('address', { 'piggysec.com/piggy-address': 'https://piggy.piggy-system.svc' }), true],
    [podOf('standalone', { 'piggysec.com/standalone': 'true' }), true],
    [podOf('file-mode', { 'secrets.k8s.aws/secret-arn': 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf' }), true],
    [podOf('env-literal', {}, withEnv('piggy:token')), true],
    [podOf('init-env-literal', {}, withEnv('piggy:token', true)), true],
    [podOf('plain'), false],
    [podOf('other-annotation', { 'piggysec.com/debug': 'true', unrelated: 'piggy:x' }), false],
    [podOf('value-from-only', {}, withEnv('not-piggy:token')), false],
  ];
  for (const [body] of pods) await kube().core.createNamespacedPod({ namespace, body });
  const expected = pods.filter(([, sent]) => sent).map(([body]) => body.metadata?.name ?? '').sort();
  t.deepEqual([...called].filter((podName) => !podName.startsWith('probe')).sort(), expected);
});

test.after.always('no private key material in any log line', async (t) => {
  const output = logLines.join('');
  t.true(output.includes('webhook certificate files written'), 'the certificate manager did log (the check is not vacuous)');
  t.false(output.includes('PRIVATE KEY'));
  for (const namespace of new Set(namespaces)) {
    const data = (await readSecret(namespace).catch(() => undefined))?.data ?? {};
    for (const key of ['tls.key', 'ca.key']) {
      const body = Buffer.from(data[key] ?? '', 'base64').toString().split('\n')[1] ?? '';
      if (body.length >= 40) t.false(output.includes(body.slice(0, 40)) || output.includes(data[key] ?? '-'), `${namespace} ${key} is not logged`);
    }
  }
});

/** deploy/rbac-webhook.yaml re-targeted at a test namespace, service account and configuration name. */
async function applyWebhookRbac(namespace: string, serviceAccount: string, configurationName: string): Promise<void> {
  await kube().core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: serviceAccount } } });
  const objects = loadYamlObjects(join(DEPLOY_DIR, 'rbac-webhook.yaml')).map((object) => {
    const copy = structuredClone(object) as KubernetesObject & { rules?: V1PolicyRule[]; subjects?: RbacV1Subject[]; roleRef?: { kind: string; name: string } };
    const metadata = copy.metadata ?? {};
    copy.metadata = metadata;
    if (copy.kind?.startsWith('Cluster') === true) metadata.name = `${metadata.name ?? ''}-${namespace}`;
    else metadata.namespace = namespace;
    if (copy.roleRef?.kind === 'ClusterRole') copy.roleRef.name = `${copy.roleRef.name}-${namespace}`;
    for (const rule of copy.rules ?? []) if (rule.resources?.includes('mutatingwebhookconfigurations') === true) rule.resourceNames = [configurationName];
    for (const subject of copy.subjects ?? []) Object.assign(subject, { name: serviceAccount, namespace });
    return copy;
  });
  for (const object of objects) await applyObject(object);
}

