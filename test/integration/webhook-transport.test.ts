// The /mutate router served over real HTTPS by the controller's own listener and app: every request,
// however malformed, gets an AdmissionReview back.
import { request } from 'node:https';
import test, { type ExecutionContext } from 'ava';
import { buildApp } from '../../src/server/app.ts';
import { startHttpsListener, type RunningListener } from '../../src/server/https-listener.ts';
import { createMetrics } from '../../src/shared/metrics.ts';
import { Readiness } from '../../src/shared/readiness.ts';
import type { AdmissionReview } from '../../src/webhook/admission.ts';
import { buildWebhookMetrics } from '../../src/webhook/metrics.ts';
import { buildWebhookRouter } from '../../src/webhook/router.ts';
import { buildDeps, buildReview, loadPod, mutatedPod } from '../fixtures/admission/build.ts';
import { makeServingCertificate } from '../helpers/tls.ts';

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

let listener: RunningListener;
let ca: string;
const metrics = createMetrics();

test.before(async () => {
  const tls = await makeServingCertificate();
  ca = tls.cert;
  const deps = buildDeps({ metrics: buildWebhookMetrics(metrics.registry) });
  const handler = buildApp({
    readiness: new Readiness(),
    metrics,
    log: deps.log,
    mount: (app) => app.use(buildWebhookRouter(deps)),
  });
  listener = await startHttpsListener({
    address: { host: '127.0.0.1', port: 0 },
    certFile: tls.certFile,
    keyFile: tls.keyFile,
    reloadIntervalMs: 60_000,
    log: deps.log,
    handler,
  });
});

test.after.always(async () => {
  await listener.close(1_000);
});

function send(method: string, body: string | Buffer | undefined, headers: Record<string, string> = { 'content-type': 'application/json' }, path = '/mutate'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: listener.port, path, method, headers, ca, servername: 'localhost', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function reviewOf(t: ExecutionContext, reply: Reply): AdmissionReview {
  t.regex(String(reply.headers['content-type']), /^application\/json/);
  const parsed = JSON.parse(reply.body) as AdmissionReview;
  t.is(parsed.apiVersion, 'admission.k8s.io/v1');
  t.is(parsed.kind, 'AdmissionReview');
  return parsed;
}

test('a valid review is answered 200 with a JSON patch that mutates the pod', async (t) => {
  const pod = loadPod('pod-env-literal');
  const reply = await send('POST', JSON.stringify(buildReview(pod, { uid: 'valid-1' })));
  t.is(reply.status, 200);
  t.regex(String(reply.headers['content-type']), /^application\/json/);
  const review = reviewOf(t, reply);
  t.like(review.response, { uid: 'valid-1', allowed: true, patchType: 'JSONPatch' });
  t.deepEqual(mutatedPod(pod, review).spec?.containers[0]?.command, ['/piggy/piggy-env']);
});

test('Content-Type with parameters is accepted (Piggy demanded the exact string)', async (t) => {
  const reply = await send('POST', JSON.stringify(buildReview(loadPod('pod-env-literal'), { uid: 'charset' })), { 'content-type': 'Application/JSON; charset=utf-8' });
  t.is(reply.status, 200);
  t.like(reviewOf(t, reply).response, { uid: 'charset', allowed: true });
});

test('a pod that needs nothing gets allowed:true, never an empty body (Piggy regression)', async (t) => {
  const reply = await send('POST', JSON.stringify(buildReview(loadPod('pod-plain'), { uid: 'noop' })));
  t.is(reply.status, 200);
  t.true(reply.body.length > 0);
  t.deepEqual(reviewOf(t, reply).response, { uid: 'noop', allowed: true });
});

test('wrong method: 405 with Allow and an AdmissionReview', async (t) => {
  for (const method of ['GET', 'PUT', 'DELETE']) {
    const reply = await send(method, undefined, {});
    t.is(reply.status, 405, method);
    t.is(reply.headers.allow, 'POST');
    t.like(reviewOf(t, reply).response, { allowed: false, status: { code: 400, reason: 'MethodNotAllowed' } });
  }
});

test('wrong or missing content type: 415 with an AdmissionReview', async (t) => {
  const variants: Record<string, string>[] = [{ 'content-type': 'text/plain' }, { 'content-type': 'application/x-www-form-urlencoded' }, {}];
  for (const headers of variants) {
    const reply = await send('POST', '{}', headers);
    t.is(reply.status, 415, JSON.stringify(headers));
    t.like(reviewOf(t, reply).response, { allowed: false, status: { code: 400, reason: 'UnsupportedMediaType' } });
  }
});

test('an oversized body: 413 with an AdmissionReview', async (t) => {
  const pod = loadPod('pod-env-literal');
  (pod.metadata ??= {}).labels = { filler: 'x'.repeat(60) };
  const big = JSON.stringify({ ...buildReview(pod, { uid: 'big' }), padding: 'y'.repeat(1536 * 1024) });
  const reply = await send('POST', big);
  t.is(reply.status, 413);
  t.like(reviewOf(t, reply).response, { allowed: false, status: { code: 400, reason: 'RequestEntityTooLarge' } });
  t.regex(reviewOf(t, reply).response.status?.message ?? '', /1048576 bytes/);
});

test('malformed bodies: 400 with an AdmissionReview, uid echoed when known', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['{"apiVersion":', '', /not valid JSON/],
    ['', '', /empty/],
    ['"review"', '', /not a JSON object/],
    [JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }), '', /no request/],
    [JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'beta-uid' } }), 'beta-uid', /unsupported apiVersion/],
  ];
  for (const [body, uid, message] of cases) {
    const reply = await send('POST', body);
    t.is(reply.status, 400, body);
    const review = reviewOf(t, reply);
    t.like(review.response, { uid, allowed: false, status: { code: 400, reason: 'BadRequest' } });
    t.regex(review.response.status?.message ?? '', message);
  }
});

test('a review the pod fails is a 200 denial (the API server shows the message)', async (t) => {
  const pod = loadPod('pod-env-literal');
  Object.assign(pod.metadata?.annotations ?? {}, { 'piggysec.com/standalone': 'maybe' });
  const reply = await send('POST', JSON.stringify(buildReview(pod, { uid: 'bad-annotation' })));
  t.is(reply.status, 200);
  t.like(reviewOf(t, reply).response, { uid: 'bad-annotation', allowed: false, status: { code: 400, reason: 'Invalid' } });
});

test('concurrent admissions are each answered for their own request', async (t) => {
  const replies = await Promise.all(
    Array.from({ length: 40 }, (_unused, index) => send('POST', JSON.stringify(buildReview(loadPod(index % 2 === 0 ? 'pod-env-literal' : 'pod-plain'), { uid: `c-${index}` })))),
  );
  replies.forEach((reply, index) => {
    const review = JSON.parse(reply.body) as AdmissionReview;
    t.is(review.response.uid, `c-${index}`);
    t.is(review.response.patch !== undefined, index % 2 === 0);
  });
});

test('the other routes are unaffected and admissions are counted', async (t) => {
  t.is((await send('GET', undefined, {}, '/healthz')).status, 200);
  t.is((await send('POST', '{}', { 'content-type': 'application/json' }, '/mutate/extra')).status, 404);
  const text = await metrics.registry.getSingleMetricAsString('piggy_webhook_admissions_total');
  t.regex(text, /piggy_webhook_admissions_total\{result="mutated"\} [1-9]/);
  t.regex(text, /piggy_webhook_admissions_total\{result="malformed"\} [1-9]/);
});
