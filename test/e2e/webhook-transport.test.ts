// The injection webhook end to end, transport: AdmissionReviews POSTed straight to the running
// controller's /mutate. Whatever arrives, an AdmissionReview comes back and the process keeps
// serving; no-op answers have a body (Piggy answered 200 with nothing, which failurePolicy: Fail
// turned into a denial); a stored, mutated pod re-admits with no patch.
import test, { type ExecutionContext } from 'ava';
import type { AdmissionReview } from '../../src/webhook/admission.ts';
import type { Pod } from '../../src/webhook/pod.ts';
import { buildReview } from '../fixtures/admission/build.ts';
import { createTestNamespace } from '../helpers/kube.ts';
import { uniqueName } from '../helpers/stack.ts';
import { assertNoLeak, createPod, createScope, startWebhookController, type Reply, type WebhookController } from '../helpers/webhook.ts';

const scope = createScope();
let controller: WebhookController;
let namespace: string;

test.before(async (t) => {
  namespace = await createTestNamespace(t, 'e2e-wh-transport');
  controller = await startWebhookController(scope, { namespace });
});
test.after.always(() => scope.close());

function reviewOf(t: ExecutionContext, reply: Reply, label: string): AdmissionReview {
  t.regex(String(reply.headers['content-type']), /^application\/json/, label);
  const review = JSON.parse(reply.body) as AdmissionReview;
  t.like(review, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, label);
  return review;
}

const patchOf = (review: AdmissionReview): { op: string; path: string; value?: unknown }[] =>
  review.response.patch === undefined ? [] : (JSON.parse(Buffer.from(review.response.patch, 'base64').toString('utf8')) as { op: string; path: string }[]);

function literalPod(metadata: Record<string, unknown>): Pod {
  return { metadata, spec: { containers: [{ name: 'app', image: 'app:1', command: ['/app'], env: [{ name: 'TOKEN', value: 'piggy:token' }] }] } };
}

test('malformed requests: each gets an AdmissionReview with a reason, never an empty body or a dropped connection', async (t) => {
  const json = { 'content-type': 'application/json' };
  const cases: { label: string; body?: string | Buffer; method?: string; headers?: Record<string, string>; status: number; reason: string; uid?: string; message: RegExp }[] = [
    { label: 'GET', method: 'GET', headers: {}, status: 405, reason: 'MethodNotAllowed', message: /POST an AdmissionReview/ },
    { label: 'text/plain', body: '{}', headers: { 'content-type': 'text/plain' }, status: 415, reason: 'UnsupportedMediaType', message: /application\/json/ },
    { label: 'empty', body: '', headers: json, status: 400, reason: 'BadRequest', message: /empty/ },
    { label: 'truncated JSON', body: '{"apiVersion":"admission.k8s.io/v1","kind":"Admiss', headers: json, status: 400, reason: 'BadRequest', message: /not valid JSON/ },
    { label: 'binary', body: Buffer.from([0xff, 0xfe, 0x00, 0x01]), headers: json, status: 400, reason: 'BadRequest', message: /not valid JSON/ },
    { label: 'array', body: '[]', headers: json, status: 400, reason: 'BadRequest', message: /not a JSON object/ },
    { label: 'no request', body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }), headers: json, status: 400, reason: 'BadRequest', message: /no request/ },
    { label: 'v1beta1', body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'beta' } }), headers: json, status: 400, reason: 'BadRequest', uid: 'beta', message: /unsupported apiVersion/ },
    { label: 'no uid', body: JSON.stringify({ ...buildReview(literalPod({})), request: { operation: 'CREATE' } }), headers: json, status: 400, reason: 'BadRequest', message: /no uid/ },
    { label: 'no kind', body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'k', operation: 'CREATE' } }), headers: json, status: 400, reason: 'BadRequest', uid: 'k', message: /request\.kind/ },
    { label: 'oversized (2 MiB)', body: JSON.stringify({ ...buildReview(literalPod({})), padding: 'x'.repeat(2 * 1024 * 1024) }), headers: json, status: 413, reason: 'RequestEntityTooLarge', message: /exceeds 1048576 bytes/ },
  ];
  for (const item of cases) {
    const reply = await controller.post(item.body, { method: item.method ?? 'POST', headers: item.headers ?? json });
    t.is(reply.status, item.status, item.label);
    const review = reviewOf(t, reply, item.label);
    t.like(review.response, { uid: item.uid ?? '', allowed: false, status: { code: 400, reason: item.reason } }, item.label);
    t.regex(review.response.status?.message ?? '', item.message, item.label);
  }
  const objectNotPod = await controller.post(JSON.stringify(buildReview({ spec: 'not a pod' }, { uid: 'bad-object' })));
  t.like(reviewOf(t, objectNotPod, 'object').response, { uid: 'bad-object', allowed: false, status: { code: 400, message: 'request.object is not a valid Pod' } });
  t.is((await controller.post(undefined, { method: 'GET', headers: {}, path: '/healthz' })).status, 200, 'still serving');
  t.is(controller.piggy.child.exitCode, null, 'still running');
  t.false(controller.piggy.lines.some((line) => line.level === 'fatal'), 'nothing fatal was logged');
});

test('no-op answers have a body: DELETE, UPDATE, a subresource, a non-pod and a pod that needs nothing are allowed without a patch (Piggy regression)', async (t) => {
  const pod = literalPod({ name: 'x', namespace });
  const plainPod = { metadata: { name: 'plain', namespace }, spec: { containers: [{ name: 'app', image: 'app:1' }] } };
  const reviews = [
    buildReview(pod, { uid: 'delete', operation: 'DELETE' }),
    buildReview(pod, { uid: 'update', operation: 'UPDATE' }),
    buildReview(pod, { uid: 'binding', subResource: 'binding' }),
    buildReview({ metadata: { name: 'cm' } }, { uid: 'configmap', resource: { group: '', version: 'v1', resource: 'configmaps' } }),
    buildReview({ metadata: { name: 'd' } }, { uid: 'deployment', resource: { group: 'apps', version: 'v1', resource: 'deployments' } }),
    buildReview(plainPod, { uid: 'needs-nothing', namespace }),
  ];
  for (const body of reviews) {
    const uid = (body.request as { uid: string }).uid;
    const reply = await controller.post(JSON.stringify(body));
    t.is(reply.status, 200, uid);
    t.true(reply.body.length > 0, `${uid}: a body`);
    t.deepEqual(reviewOf(t, reply, uid).response, { uid, allowed: true }, uid);
  }
});

test('nil, null and empty annotations are all handled: the pod is wrapped through the controller default (Piggy regression)', async (t) => {
  for (const [label, metadata] of [['no metadata.annotations', { name: 'a', namespace }], ['annotations: null', { name: 'b', namespace, annotations: null }], ['annotations: {}', { name: 'c', namespace, annotations: {} }]] as const) {
    const reply = await controller.post(JSON.stringify(buildReview(literalPod(metadata), { uid: label, namespace })));
    const review = reviewOf(t, reply, label);
    t.like(review.response, { uid: label, allowed: true, patchType: 'JSONPatch' }, label);
    const patch = patchOf(review);
    t.true(patch.some((operation) => operation.path.startsWith('/metadata/annotations')), `${label}: the piggy-uid annotation is added`);
    t.true(patch.some((operation) => operation.path.startsWith('/spec/containers/0/command')), `${label}: the command is wrapped`);
  }
});

test('a pod as the API server stored it re-admits with no patch (env mode and file mode)', async (t) => {
  const stored = await createPod(namespace, {
    metadata: { name: uniqueName('readmit'), annotations: { 'piggysec.com/aws-secret-name': `${namespace}/app`, 'secrets.k8s.aws/secret-arn': 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop/db-AbCdEf' } },
    spec: {
      securityContext: { fsGroup: 2000 },
      initContainers: [{ name: 'migrate', image: 'app:1', command: ['migrate'], env: [{ name: 'DB', value: 'piggy:db' }] }],
      containers: [{ name: 'app', image: 'app:1', command: ['/app', '$(X)'], env: [{ name: 'TOKEN', value: 'piggy:token' }] }],
    },
  });
  const reply = await controller.post(JSON.stringify(buildReview(stored, { uid: 'again', namespace })));
  t.deepEqual(reviewOf(t, reply, 'again').response, { uid: 'again', allowed: true });
});

test('canary: a value in a reviewed pod never reaches the controller output, whether the pod is mutated, denied or malformed', async (t) => {
  const canary = `canary-${uniqueName('transport')}`;
  const pod = (annotations: Record<string, string>) => ({ metadata: { name: uniqueName('canary'), namespace, annotations }, spec: { containers: [{ name: 'app', image: 'app:1', command: ['/app', canary], env: [{ name: 'PASSWORD', value: canary }, { name: 'T', value: 'piggy:t' }] }] } });
  const mutated = await controller.post(JSON.stringify(buildReview(pod({}), { uid: 'c1', namespace })));
  t.true(reviewOf(t, mutated, 'mutated').response.allowed);
  const denied = await controller.post(JSON.stringify(buildReview(pod({ 'piggysec.com/standalone': 'perhaps' }), { uid: 'c2', namespace })));
  t.false(reviewOf(t, denied, 'denied').response.allowed);
  const broken = await controller.post(JSON.stringify(buildReview(pod({}), { uid: 'c3', namespace })).slice(0, -2));
  t.is(broken.status, 400);
  await controller.piggy.waitForLog((line) => line.uid === 'c2', 10_000);
  assertNoLeak(t, controller, [canary]);
});
