// The AWSSecret CRD from crds/, applied to the real API server: schema, CEL rules, printer columns,
// the status subresource, and the operator RBAC of deploy/.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiextensionsV1Api, AuthorizationV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import test from 'ava';
import { stringify } from 'yaml';
import { applyCrds, applyObject, applyOperatorRbac, loadCrds, REPO_ROOT } from '../helpers/crd.ts';
import { createTestNamespace, kube } from '../helpers/kube.ts';
import { kubectl, uniqueName } from '../helpers/stack.ts';

const GROUP = 'piggysec.com';
const VERSION = 'v1alpha1';
const PLURAL = 'awssecrets';
const V1 = '6a1c3e2b-0f4d-4b8a-9c7e-5d2f1a0b3c4d';
const V2 = '7b2d4f3c-1a5e-4c9b-8d0f-6e3a2b1c4d5e';

interface AWSSecret {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; generation?: number; resourceVersion?: string };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

test.before(async () => {
  await applyCrds();
});

const objects = () => kube().kc.makeApiClient(CustomObjectsApi);

function awsSecret(name: string, spec: Record<string, unknown>): AWSSecret {
  return { apiVersion: `${GROUP}/${VERSION}`, kind: 'AWSSecret', metadata: { name }, spec };
}

const ref = (versionId?: string, secretId = 'ns/app') => ({
  secretsManagerSecretRef: versionId === undefined ? { secretId } : { secretId, versionId },
});

/** `kubectl create` of a manifest, as a user would: the exit code and what kubectl printed. */
async function kubectlCreate(namespace: string, manifest: unknown) {
  return kubectl(['create', '-n', namespace, '-f', '-'], { input: stringify(manifest) });
}

test('a valid AWSSecret is accepted and its spec kept as written', async (t) => {
  const namespace = await createTestNamespace(t, 'crd');
  const spec = {
    stringDataFrom: ref(V1),
    dataFrom: ref(V2, 'ns/tls'),
    type: 'kubernetes.io/tls',
    metadata: { labels: { app: 'x' }, annotations: { note: 'y' } },
    region: 'us-gov-west-1',
    updateCheckSchedule: '0 */6 * * *',
  };
  const created = (await objects().createNamespacedCustomObject({
    group: GROUP, version: VERSION, namespace, plural: PLURAL, body: awsSecret('full', spec),
  })) as AWSSecret;
  t.deepEqual(created.spec, spec);
  t.is(created.metadata.generation, 1);

  const minimal = await kubectlCreate(namespace, awsSecret('minimal', { dataFrom: ref(V1) }));
  t.is(minimal.code, 0, minimal.stderr);
});

test('the example in examples/ is accepted by the API server', async (t) => {
  const namespace = await createTestNamespace(t, 'crd');
  const text = readFileSync(join(REPO_ROOT, 'examples', 'awssecret.yaml'), 'utf8');
  const result = await kubectl(['create', '--dry-run=server', '-n', namespace, '-f', '-'], { input: text.replace(/^ {2}namespace: myapp\n/m, '') });
  t.is(result.code, 0, result.stderr);
});

const REQUIRED_VERSION = 'versionId is required: it pins an immutable Secrets Manager version';

for (const field of ['stringDataFrom', 'dataFrom'] as const) {
  test(`a ${field} without versionId is rejected with a message that names versionId and piggy bump`, async (t) => {
    const namespace = await createTestNamespace(t, 'crd');
    const result = await kubectlCreate(namespace, awsSecret(uniqueName('a'), { [field]: ref() }));
    t.not(result.code, 0);
    t.true(result.stderr.includes(`spec.${field}.secretsManagerSecretRef.versionId: Required value: ${REQUIRED_VERSION}`), result.stderr);
    t.true(result.stderr.includes('run `piggy bump <file>`'), result.stderr);
  });
}

test('an empty versionId is rejected with the same message, and only that one', async (t) => {
  const namespace = await createTestNamespace(t, 'crd');
  const result = await kubectlCreate(namespace, awsSecret(uniqueName('a'), { stringDataFrom: ref('') }));
  t.not(result.code, 0);
  t.true(result.stderr.includes(REQUIRED_VERSION), result.stderr);
  t.false(result.stderr.includes('32 to 64'), 'no second, confusing length error for an empty value');
});

test('a versionId outside 32..64 characters is rejected', async (t) => {
  const namespace = await createTestNamespace(t, 'crd');
  const short = await kubectlCreate(namespace, awsSecret(uniqueName('a'), { stringDataFrom: ref('AWSCURRENT') }));
  t.true(short.stderr.includes('versionId must be 32 to 64 characters long'), short.stderr);
  const long = await kubectlCreate(namespace, awsSecret(uniqueName('a'), { stringDataFrom: ref('a'.repeat(65)) }));
  t.true(long.stderr.includes('spec.stringDataFrom.secretsManagerSecretRef.versionId: Too long'), long.stderr);
});

test('a missing or empty secretId, or a missing secretsManagerSecretRef, is rejected', async (t) => {
  const namespace = await createTestNamespace(t, 'crd');
  const missing = await kubectlCreate(namespace, awsSecret(uniqueName('a'), { stringDataFrom: { secretsManagerSecretRef: { versionId: V1 } } }));
  t.true(missing.stderr.includes('spec.stringDataFrom.secretsManagerSecretRef.secretId: Required value: secretId is required'), missing.stderr);
  const empty = await kubectlCreate(namespace, awsSecret(uniqueName('a'), { dataFrom: ref(V1, '') }));
  t.true(empty.stderr.includes('spec.dataFrom.secretsManagerSecretRef.secretId: Required value: secretId is required'), empty.stderr);
  const noRef = await kubectlCreate(namespace, awsSecret(uniqueName('a'), { dataFrom: {} }));
  t.true(noRef.stderr.includes('spec.dataFrom: Required value: secretsManagerSecretRef is required'), noRef.stderr);
});

test('a spec with neither stringDataFrom nor dataFrom is rejected', async (t) => {
  const namespace = await createTestNamespace(t, 'crd');
  const result = await kubectlCreate(namespace, awsSecret(uniqueName('a'), { type: 'Opaque' }));
  t.not(result.code, 0);
  t.true(result.stderr.includes('spec: Required value: at least one of stringDataFrom or dataFrom is required'), result.stderr);
  const noSpec = await kubectl(['create', '-n', namespace, '-f', '-'], {
    input: stringify({ apiVersion: `${GROUP}/${VERSION}`, kind: 'AWSSecret', metadata: { name: uniqueName('a') } }),
  });
  t.true(noSpec.stderr.includes('spec: Required value'), noSpec.stderr);
});

test('a region that is not an AWS region code is rejected; real region codes pass', async (t) => {
  const namespace = await createTestNamespace(t, 'crd');
  for (const region of ['EU-WEST-1', 'eu-west', 'europe', 'eu-west-1a', 'us-east-1; rm']) {
    const result = await kubectlCreate(namespace, awsSecret(uniqueName('a'), { stringDataFrom: ref(V1), region }));
    t.true(result.stderr.includes(`spec.region: Invalid value: "${region}": region must be an AWS region code such as eu-west-1`), `${region}: ${result.stderr}`);
  }
  for (const region of ['eu-west-1', 'ap-southeast-5', 'us-gov-east-1', 'cn-northwest-1', 'eu-isoe-west-1']) {
    const result = await kubectlCreate(namespace, awsSecret(uniqueName('a'), { stringDataFrom: ref(V1), region }));
    t.is(result.code, 0, `${region}: ${result.stderr}`);
  }
});

test('labels and annotations must be maps of strings', async (t) => {
  const namespace = await createTestNamespace(t, 'crd');
  const labels = await kubectlCreate(namespace, awsSecret(uniqueName('a'), { stringDataFrom: ref(V1), metadata: { labels: { a: 1 } } }));
  t.true(labels.stderr.includes('spec.metadata.labels.a: Invalid value: "integer": spec.metadata.labels.a in body must be of type string'), labels.stderr);
  const annotations = await kubectlCreate(namespace, awsSecret(uniqueName('a'), { stringDataFrom: ref(V1), metadata: { annotations: ['x'] } }));
  t.true(annotations.stderr.includes('spec.metadata.annotations: Invalid value: "array"'), annotations.stderr);
});

const STATUS = {
  observedGeneration: 1,
  versionId: V1,
  secretName: 'app',
  syncedAt: '2025-01-02T03:04:05Z',
  latestVersionId: V2,
  lastUpdateCheck: '2025-01-02T03:04:06Z',
  conditions: [
    { type: 'Ready', status: 'True', reason: 'Synced', message: 'the Secret holds the pinned version', lastTransitionTime: '2025-01-02T03:04:05Z', observedGeneration: 1 },
    { type: 'UpdateAvailable', status: 'True', reason: 'NewerVersion', message: 'AWSCURRENT is newer', lastTransitionTime: '2025-01-02T03:04:06Z', observedGeneration: 1 },
  ],
};

test('status is a subresource: /status writes keep generation, spec writes ignore status', async (t) => {
  const namespace = await createTestNamespace(t, 'crd');
  const api = objects();
  const key = { group: GROUP, version: VERSION, namespace, plural: PLURAL, name: 'app' };
  const created = (await api.createNamespacedCustomObject({
    ...key, body: { ...awsSecret('app', { stringDataFrom: ref(V1) }), status: STATUS },
  })) as AWSSecret;
  t.is(created.status, undefined, 'status on create is dropped');

  const withStatus = (await api.replaceNamespacedCustomObjectStatus({ ...key, body: { ...created, status: STATUS } })) as AWSSecret;
  t.deepEqual(withStatus.status, STATUS);
  t.is(withStatus.metadata.generation, 1, 'a status write does not bump generation');

  const respec = (await api.replaceNamespacedCustomObject({
    ...key,
    body: { ...withStatus, spec: { stringDataFrom: ref(V2) }, status: { ...STATUS, versionId: 'ignored-by-spec-writes-0000000000' } },
  })) as AWSSecret;
  t.is(respec.metadata.generation, 2, 'a spec write bumps generation');
  t.deepEqual(respec.status, STATUS, 'a spec write ignores status');

  const listed = await kubectl(['get', 'awss', '-n', namespace]);
  t.is(listed.code, 0, listed.stderr);
  const [header, row] = listed.stdout.trimEnd().split('\n');
  t.deepEqual(header?.split(/\s+/), ['NAME', 'SECRET', 'VERSION', 'READY', 'AGE']);
  t.deepEqual(row?.split(/\s+/).slice(0, 4), ['app', 'app', V1, 'True']);
});

test('a status write that breaks the condition schema is rejected', async (t) => {
  const namespace = await createTestNamespace(t, 'crd');
  const api = objects();
  const key = { group: GROUP, version: VERSION, namespace, plural: PLURAL, name: 'app' };
  const created = (await api.createNamespacedCustomObject({ ...key, body: awsSecret('app', { stringDataFrom: ref(V1) }) })) as AWSSecret;
  const bad = { ...STATUS, conditions: [{ type: 'Ready', status: 'Maybe', reason: 'has space', message: '', lastTransitionTime: 'yesterday' }] };
  const error = await t.throwsAsync(api.replaceNamespacedCustomObjectStatus({ ...key, body: { ...created, status: bad } }));
  t.is((error as { code?: number } | undefined)?.code, 422);
  for (const field of ['conditions[0].status', 'conditions[0].reason', 'conditions[0].lastTransitionTime']) {
    t.true(error.message.includes(field), `${field} is named: ${error.message}`);
  }
});

test('the operator RBAC of deploy/ allows what the reconciler does and nothing else', async (t) => {
  const namespace = await createTestNamespace(t, 'rbac');
  await applyOperatorRbac(namespace, 'piggy');
  await applyOperatorRbac(namespace, 'piggy'); // idempotent
  const authz = kube().kc.makeApiClient(AuthorizationV1Api);
  const user = `system:serviceaccount:${namespace}:piggy`;
  const other = await createTestNamespace(t, 'rbac-other');
  async function allowed(verb: string, group: string, resource: string, ns: string | undefined, subresource?: string): Promise<boolean> {
    const review = await authz.createSubjectAccessReview({
      body: { spec: { user, groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`], resourceAttributes: { verb, group, resource, namespace: ns, subresource } } },
    });
    return review.status?.allowed === true;
  }
  const expectations: [boolean, string, string, string, string | undefined, string?][] = [
    [true, 'watch', GROUP, 'awssecrets', undefined],
    [true, 'patch', GROUP, 'awssecrets', other, 'status'],
    [false, 'update', GROUP, 'awssecrets', other],
    [false, 'delete', GROUP, 'awssecrets', other],
    [true, 'create', '', 'secrets', other],
    [true, 'delete', '', 'secrets', other],
    [false, 'deletecollection', '', 'secrets', other],
    [false, 'get', '', 'configmaps', other],
    [false, 'get', '', 'pods', other],
    [true, 'create', '', 'events', other],
    [false, 'create', 'events.k8s.io', 'events', other],
    [false, 'patch', '', 'secrets', other],
    [false, 'watch', 'apps', 'deployments', other],
    [true, 'patch', 'apps', 'deployments', other],
    [false, 'update', 'apps', 'deployments', other],
    [true, 'update', 'coordination.k8s.io', 'leases', namespace],
    [false, 'update', 'coordination.k8s.io', 'leases', other],
    [false, 'create', GROUP, 'awssecrets', other],
  ];
  for (const [expected, verb, group, resource, ns, sub] of expectations) {
    t.is(await allowed(verb, group, resource, ns, sub), expected, `${verb} ${group}/${resource}${sub ? `/${sub}` : ''} in ${ns ?? 'all namespaces'}`);
  }
});

test('applying a CRD is idempotent and safe when several callers race', async (t) => {
  const [crd] = loadCrds();
  if (crd === undefined) return t.fail('no CRD under crds/');
  // A throwaway copy under its own name, so the real CRD is never disturbed.
  const plural = uniqueName('racers').replaceAll('-', '');
  const copy = structuredClone(crd);
  copy.metadata = { name: `${plural}.test.piggysec.com` };
  copy.spec.group = 'test.piggysec.com';
  copy.spec.names = { kind: `Racer${plural.slice(-8)}`, plural, singular: plural.slice(0, -1), listKind: `Racer${plural.slice(-8)}List` };
  await Promise.all(Array.from({ length: 5 }, () => applyObject(copy)));
  const changed = structuredClone(copy);
  changed.spec.versions[0]?.additionalPrinterColumns?.push({ name: 'Extra', type: 'string', jsonPath: '.status.secretName' });
  await Promise.all(Array.from({ length: 3 }, () => applyObject(changed)));
  const api = kube().kc.makeApiClient(ApiextensionsV1Api);
  const stored = await api.readCustomResourceDefinition({ name: copy.metadata.name ?? '' });
  t.deepEqual(stored.spec.versions[0]?.additionalPrinterColumns?.map((c) => c.name), ['Secret', 'Version', 'Ready', 'Age', 'Extra']);
  t.deepEqual(stored.spec.versions[0]?.schema?.openAPIV3Schema?.properties?.spec?.x_kubernetes_validations?.map((v) => v.rule), ['has(self.stringDataFrom) || has(self.dataFrom)'], 'CEL rules survive the client');
  await api.deleteCustomResourceDefinition({ name: copy.metadata.name ?? '' });
});
