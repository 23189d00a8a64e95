// handleAdmission end to end: malformed reviews, what is skipped, idempotency and reinvocation, and
// the peer bugs of DESIGN.md that concern the webhook.
import test from 'ava';
import { buildCommandSignature, parsePiggyUids } from '../../src/shared/injection-contract.ts';
import type { Container, Pod } from '../../src/webhook/pod.ts';
import { handleAdmission } from '../../src/webhook/review.ts';
import { buildDeps, buildReview, fakeImages, loadJson, loadPod, mutatedPod, patchOf } from '../fixtures/admission/build.ts';

/** What the API server adds when it stores (and re-sends) a pod. */
function defaulted(pod: Pod): Pod {
  const copy = structuredClone(pod);
  for (const item of [...(copy.spec?.initContainers ?? []), ...(copy.spec?.containers ?? [])]) {
    item.terminationMessagePath ??= '/dev/termination-log';
    item.terminationMessagePolicy ??= 'File';
    item.imagePullPolicy ??= 'IfNotPresent';
  }
  return copy;
}

const names = (list: readonly Container[] | undefined) => (list ?? []).map((item) => item.name);

test('malformed reviews are answered with an AdmissionReview denial (400), echoing the uid when known', async (t) => {
  const cases: [unknown, string, RegExp][] = [
    [Buffer.from('{not json'), '', /not valid JSON/],
    [Buffer.from(''), '', /empty/],
    ['[]', '', /not a JSON object/],
    [{ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, '', /has no request/],
    [{ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'u-beta' } }, 'u-beta', /unsupported apiVersion/],
    [{ apiVersion: 'admission.k8s.io/v1', kind: 'Pod', request: { uid: 'u-kind' } }, 'u-kind', /kind AdmissionReview/],
    [{ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { kind: {} } }, '', /no uid/],
    [{ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u-res', kind: { kind: 'Pod', version: 'v1' } } }, 'u-res', /request\.resource/],
    [{ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u-op', kind: { kind: 'Pod', version: 'v1' }, resource: { resource: 'pods', version: 'v1' } } }, 'u-op', /operation/],
    [null, '', /not a JSON object/],
  ];
  for (const [body, uid, message] of cases) {
    const review = await handleAdmission(body, buildDeps());
    t.is(review.apiVersion, 'admission.k8s.io/v1');
    t.is(review.kind, 'AdmissionReview');
    t.like(review.response, { uid, allowed: false, status: { code: 400, reason: 'BadRequest', status: 'Failure' } }, String(message));
    t.regex(review.response.status?.message ?? '', message);
  }
});

test('a request whose object is not a Pod is denied with its uid', async (t) => {
  for (const object of [undefined, 'pod', { spec: {} }, { spec: { containers: [{}] } }, { metadata: { annotations: { a: 1 } }, spec: { containers: [] } }]) {
    const review = await handleAdmission(buildReview(object, { uid: 'u-obj' }), buildDeps());
    t.like(review.response, { uid: 'u-obj', allowed: false, status: { code: 400 } }, JSON.stringify(object));
  }
});

test('non-pods, other operations and subresources are allowed with no patch (Piggy answered an empty body)', async (t) => {
  const pod = loadPod('pod-env-literal');
  const cases = [
    buildReview({ metadata: {} }, { resource: { group: 'apps', version: 'v1', resource: 'deployments' } }),
    buildReview({ metadata: {} }, { resource: { group: '', version: 'v1', resource: 'configmaps' } }),
    buildReview(pod, { operation: 'DELETE' }),
    buildReview(pod, { operation: 'UPDATE' }),
    buildReview(pod, { subResource: 'ephemeralcontainers', operation: 'UPDATE' }),
    buildReview(loadPod('pod-plain')),
  ];
  for (const body of cases) {
    const review = await handleAdmission(body, buildDeps());
    t.deepEqual(review, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'uid-1', allowed: true } });
  }
});

test('invalid annotations deny the pod with every problem named', async (t) => {
  const pod = loadPod('pod-env-literal');
  Object.assign(pod.metadata?.annotations ?? {}, { 'piggysec.com/debug': 'yes', 'piggysec.com/piggy-env-resource-memory-limit': '64MB' });
  const review = await handleAdmission(buildReview(pod), buildDeps());
  t.like(review.response, { allowed: false, status: { code: 400, reason: 'Invalid' } });
  t.regex(review.response.status?.message ?? '', /annotation piggysec\.com\/debug: expected true or false/);
  t.regex(review.response.status?.message ?? '', /annotation piggysec\.com\/piggy-env-resource-memory-limit: /);
});

test('a realistic API-server review gives the expected patch operations', async (t) => {
  const body = loadJson('review-create');
  const review = await handleAdmission(body, buildDeps());
  const request = body.request as { uid: string; object: Pod };
  t.is(review.response.uid, request.uid);
  t.deepEqual(patchOf(review).map((op) => `${op.op} ${op.path}`), [
    'add /metadata/annotations/piggysec.com~1piggy-uid',
    'add /spec/volumes/1',
    'add /spec/volumes/2',
    'replace /spec/containers/0/command',
    'add /spec/containers/0/env/2',
    'add /spec/containers/0/env/3',
    'add /spec/containers/0/env/4',
    'add /spec/containers/0/env/5',
    'add /spec/containers/0/env/6',
    'add /spec/containers/0/env/7',
    'add /spec/containers/0/env/8',
    'add /spec/containers/0/env/9',
    'add /spec/containers/0/env/10',
    'add /spec/containers/0/volumeMounts/1',
    'add /spec/containers/0/volumeMounts/2',
    'add /spec/containers/0/args',
    'add /spec/initContainers',
  ]);
  const out = mutatedPod(request.object, review);
  t.is(out.spec?.initContainers?.[0]?.securityContext?.runAsUser, undefined, 'inherits the pod runAsUser 1000');
  t.deepEqual(out.spec?.containers[0]?.env?.slice(2).map((item) => item.name), [
    'PIGGY_AWS_SECRET_NAME', 'PIGGY_ADDRESS', 'PIGGY_POD_NAME', 'PIGGY_CA_BUNDLE', 'PIGGY_TOKEN_FILE', 'PIGGY_ADMISSION', 'PIGGY_UID', 'PIGGY_INITIAL_DELAY', 'PIGGY_NUMBER_OF_RETRY',
  ]);
});

test('re-admitting a mutated pod (as the API server re-sends it) yields no patch', async (t) => {
  const deps = buildDeps({ resolveImage: fakeImages({ 'registry.example.com/shop/worker:7': { entrypoint: ['/worker'], cmd: [] } }) });
  for (const fixture of ['pod-env-literal', 'pod-image-entrypoint', 'pod-no-annotations', 'pod-file-mode']) {
    const pod = loadPod(fixture);
    const options = fixture === 'pod-no-annotations' ? { defaults: { 'piggysec.com/piggy-env-image': 'img:1', 'piggysec.com/piggy-address': 'https://p.svc' } } : {};
    const first = await handleAdmission(buildReview(pod), { ...deps, ...options });
    t.true(patchOf(first).length > 0, fixture);
    const again = await handleAdmission(buildReview(defaulted(mutatedPod(pod, first))), { ...deps, ...options });
    t.deepEqual(again.response, { uid: 'uid-1', allowed: true }, fixture);
  }
});

test('reinvocation next to another webhook: one volume, one install container, no fighting', async (t) => {
  const deps = buildDeps();
  const pod = loadPod('pod-env-literal');
  const first = defaulted(mutatedPod(pod, await handleAdmission(buildReview(pod), deps)));
  // Another webhook (a mesh) prepends its init container, adds a sidecar and a volume.
  const spec = first.spec ?? { containers: [] };
  spec.initContainers = [{ name: 'istio-init', image: 'istio/proxyv2' }, ...(spec.initContainers ?? [])];
  spec.containers.push({ name: 'istio-proxy', image: 'istio/proxyv2', args: ['proxy'] });
  spec.volumes?.push({ name: 'istio-envoy', emptyDir: { medium: 'Memory' } });
  const again = await handleAdmission(buildReview(first), deps);
  t.deepEqual(again.response, { uid: 'uid-1', allowed: true }, 'nothing to change');
  // The other webhook adds an init container that itself uses piggy: — it must run after install-piggy-env.
  spec.initContainers.unshift({ name: 'fetch-config', image: 'tool:1', command: ['fetch'], env: [{ name: 'TOKEN', value: 'piggy:token' }] });
  const third = mutatedPod(first, await handleAdmission(buildReview(first), deps));
  t.deepEqual(names(third.spec?.initContainers), ['install-piggy-env', 'fetch-config', 'istio-init']);
  t.is(third.spec?.volumes?.filter((volume) => volume.name === 'piggy-env').length, 1);
  const uids = parsePiggyUids(third.metadata?.annotations?.['piggysec.com/piggy-uid']) ?? {};
  t.is(Object.keys(uids).length, 2, 'app keeps its uid, fetch-config gets one');
  t.true('00000000000000000000000000000001' in uids);
});

test('a copied wrapped container gets its own uid', async (t) => {
  const deps = buildDeps();
  const pod = loadPod('pod-env-literal');
  const out = mutatedPod(pod, await handleAdmission(buildReview(pod), deps));
  const copy = structuredClone(out.spec?.containers[0] as Container);
  copy.name = 'app-copy';
  copy.args = ['--', 'other'];
  out.spec?.containers.push(copy);
  const again = mutatedPod(out, await handleAdmission(buildReview(out), deps));
  const uids = parsePiggyUids(again.metadata?.annotations?.['piggysec.com/piggy-uid']) ?? {};
  t.deepEqual(Object.values(uids).sort(), [buildCommandSignature(['other']), buildCommandSignature(['/bin/sh', '-c', 'echo $(GREETING) $$HOME && exec server --password-file=/run/pw'])].sort());
});

test('regression (Piggy): a pod without annotations, triggered by a controller default, is mutated, not crashed', async (t) => {
  for (const annotations of [undefined, null, {}]) {
    const pod = loadPod('pod-no-annotations');
    if (annotations !== undefined) (pod.metadata as Record<string, unknown>).annotations = annotations;
    const deps = buildDeps({ defaults: { 'piggysec.com/piggy-env-image': 'img:1', 'piggysec.com/piggy-address': 'https://piggy.piggy.svc' } });
    const review = await handleAdmission(buildReview(pod), deps);
    t.true(review.response.allowed);
    const out = mutatedPod(pod, review);
    t.truthy(out.metadata?.annotations?.['piggysec.com/piggy-uid'], JSON.stringify(annotations));
  }
});

test('regression (Piggy): pods with imagePullSecrets and no command are wrapped', async (t) => {
  const pod = loadPod('pod-image-entrypoint');
  const resolveImage = fakeImages({ 'registry.example.com/shop/worker:7': { entrypoint: ['/worker'], cmd: [] } });
  const out = mutatedPod(pod, await handleAdmission(buildReview(pod), buildDeps({ resolveImage })));
  t.deepEqual(out.spec?.containers.map((item) => item.command), [['/piggy/piggy-env'], ['/piggy/piggy-env']]);
});

test('regression (Piggy): no empty or placeholder signature is ever recorded', async (t) => {
  const pod = loadPod('pod-image-entrypoint');
  Object.assign(pod.metadata?.annotations ?? {}, { 'piggysec.com/image-failure-policy': 'admit' });
  const out = mutatedPod(pod, await handleAdmission(buildReview(pod), buildDeps()));
  const uids = parsePiggyUids(out.metadata?.annotations?.['piggysec.com/piggy-uid']) ?? {};
  t.is(Object.keys(uids).length, 1, 'only the wrapped container is recorded');
  for (const signature of Object.values(uids)) {
    t.not(signature, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    t.not(signature, buildCommandSignature([]));
  }
});

test('regression (sidecar injector): no shared state between concurrent admissions', async (t) => {
  const deps = buildDeps();
  const pods = Array.from({ length: 25 }, (_unused, index) => {
    const pod = loadPod(index % 2 === 0 ? 'pod-env-literal' : 'pod-plain');
    (pod.metadata ??= {}).name = `pod-${index}`;
    return pod;
  });
  const reviews = await Promise.all(pods.map((pod, index) => handleAdmission(buildReview(pod, { uid: `u-${index}` }), deps)));
  reviews.forEach((review, index) => {
    t.is(review.response.uid, `u-${index}`);
    t.is(review.response.patch !== undefined, index % 2 === 0);
  });
  const uids = reviews.filter((_r, index) => index % 2 === 0).map((review, index) => Object.keys(parsePiggyUids(mutatedPod(pods[index * 2], review).metadata?.annotations?.['piggysec.com/piggy-uid']) ?? {})[0]);
  t.is(new Set(uids).size, uids.length, 'every container uid is distinct');
});

test('ignored Piggy annotations produce a warning', async (t) => {
  const pod = loadPod('pod-env-literal');
  Object.assign(pod.metadata?.annotations ?? {}, { 'piggysec.com/piggy-skip-verify-tls': 'true' });
  const review = await handleAdmission(buildReview(pod), buildDeps());
  t.true(review.response.allowed);
  t.regex(review.response.warnings?.[0] ?? '', /piggy-skip-verify-tls is ignored/);
  t.false(JSON.stringify(patchOf(review)).includes('PIGGY_SKIP_VERIFY_TLS'), 'TLS verification is never turned off');
});

test('an unexpected failure is a 500 denial, logged once', async (t) => {
  const deps = buildDeps({
    caBundle: () => {
      throw new Error('boom');
    },
  });
  const review = await handleAdmission(buildReview(loadPod('pod-env-literal'), { uid: 'u-err' }), deps);
  t.like(review.response, { uid: 'u-err', allowed: false, status: { code: 500, reason: 'InternalError' } });
  t.is(deps.capture.lines().filter((line) => line.code === 'ERR_WEBHOOK_INTERNAL').length, 1);
});

test('canary: env values and secret-like data never reach the log', async (t) => {
  const canary = 'canary-3b9f1e7c-value';
  const pod = loadPod('pod-value-from');
  for (const item of pod.spec?.containers ?? []) item.env = [...(item.env ?? []), { name: 'API_TOKEN', value: canary }];
  const deps = buildDeps({
    lookupRef: (kind, _namespace, name) => Promise.resolve(kind === 'Secret' && name === 'app-secret' ? new Set(['db-password']) : new Set<string>()),
  });
  const review = await handleAdmission(buildReview(pod), deps);
  t.true(review.response.allowed);
  t.true(deps.capture.text().length > 0, 'something was logged');
  t.false(deps.capture.text().includes(canary));
  t.true(deps.capture.text().includes('db-password') || deps.capture.text().includes('DB_PASSWORD'), 'key names may be logged');
});

test('a hand-written piggy-uid map on a pod with nothing to wrap is removed', async (t) => {
  const pod = loadPod('pod-env-literal');
  for (const item of pod.spec?.containers ?? []) item.env = [];
  Object.assign(pod.metadata?.annotations ?? {}, { 'piggysec.com/piggy-uid': JSON.stringify({ ['a'.repeat(32)]: 'b'.repeat(64) }) });
  const review = await handleAdmission(buildReview(pod), buildDeps());
  t.deepEqual(patchOf(review), [{ op: 'remove', path: '/metadata/annotations/piggysec.com~1piggy-uid' }]);
});
