// The /secret transport with passed-in fakes, served by express on loopback HTTP: method, content
// type, body bounds, the concurrency bound (429 + Retry-After), one log line per request, metrics.
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import express from 'express';
import { Registry } from 'prom-client';
import { buildProxyRouter, type ProxyRouterDeps } from '../../src/proxy/router.ts';
import type { TokenReviewResult } from '../../src/kube/token-review.ts';
import { admittedEnv, boundReview, buildFakes, captureLog, piggyUidAnnotation, secretValue, signedContainer } from '../helpers/proxy.ts';
import { buildAccessPolicy } from '../../src/shared/access-policy.ts';
import { MOTO_ACCOUNT } from '../helpers/aws-account.ts';

const CANARY = 'canary-91c4-proxy-router-value';
const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0b2tlbi1jYW5hcnkifQ.c2lnbmF0dXJlLWNhbmFyeQ';
const container = signedContainer('a'.repeat(32));
const body = { resources: 'pods', name: 'cart-0', uid: container.uid, signature: container.signature };

interface Served {
  readonly registry: Registry;
  readonly log: ReturnType<typeof captureLog>;
  send(options: { method?: string; headers?: Record<string, string>; payload?: string | Buffer; token?: string | null }): Promise<{ status: number; headers: Record<string, unknown>; json: Record<string, unknown> }>;
}

async function serve(t: ExecutionContext, overrides: Partial<ProxyRouterDeps> = {}): Promise<Served> {
  const fakes = buildFakes();
  fakes.reviews.set(TOKEN, boundReview('shop', 'cart', 'cart-0', 'pod-uid-1'));
  fakes.pods.set('shop/cart-0', { namespace: 'shop', name: 'cart-0', uid: 'pod-uid-1', serviceAccountName: 'cart', annotations: piggyUidAnnotation([container]), containers: [{ name: 'app', env: admittedEnv(container, { namespace: 'shop', serviceAccount: 'cart' }) }] });
  fakes.secrets.set('shop/cart#AWSCURRENT', secretValue(JSON.stringify({ PASSWORD: CANARY, PIGGY_ALLOWED_SA: 'shop:cart' }), 'shop/cart'));
  const registry = new Registry();
  const log = captureLog('info');
  const app = express();
  app.use(buildProxyRouter({ reviewToken: fakes.reviewToken, readPod: fakes.readPod, source: fakes.source, defaults: {}, policy: buildAccessPolicy(['{namespace}/*'], MOTO_ACCOUNT), log: log.log, registry, ...overrides }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;
  return {
    registry,
    log,
    send: ({ method = 'POST', headers = { 'content-type': 'application/json' }, payload = JSON.stringify(body), token = TOKEN }) =>
      new Promise((resolve, reject) => {
        const all = { ...headers, ...(token === null ? {} : { 'x-token': token }) };
        const req = httpRequest({ host: '127.0.0.1', port, path: '/secret', method, headers: all, agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> }));
        });
        req.on('error', reject);
        req.end(payload);
      }),
  };
}

test('200 with the secret\'s keys, JSON, no-store', async (t) => {
  const served = await serve(t);
  const reply = await served.send({});
  t.is(reply.status, 200);
  t.deepEqual(reply.json, { PASSWORD: CANARY });
  t.regex(String(reply.headers['content-type']), /^application\/json/);
  t.is(reply.headers['cache-control'], 'no-store');
});

test('transport refusals: 405, 415, 413, 400, 401 — each a {code, message}', async (t) => {
  const served = await serve(t);
  const get = await served.send({ method: 'GET', payload: '' });
  t.like(get, { status: 405, json: { code: 'ERR_PROXY_METHOD_NOT_ALLOWED' } });
  t.is(get.headers.allow, 'POST');
  t.like(await served.send({ headers: { 'content-type': 'text/plain' } }), { status: 415, json: { code: 'ERR_PROXY_UNSUPPORTED_MEDIA_TYPE' } });
  t.like(await served.send({ headers: { 'content-type': 'application/json; charset=utf-8' } }), { status: 200 }, 'parameters are fine (Piggy demanded the exact string)');
  t.like(await served.send({ headers: {} }), { status: 200 }, 'no content type is accepted');
  const big = JSON.stringify({ ...body, padding: 'x'.repeat(20_000) });
  t.like(await served.send({ payload: big }), { status: 413, json: { code: 'ERR_PROXY_BODY_TOO_LARGE' } });
  t.like(await served.send({ payload: big, headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }), { status: 413 });
  t.like(await served.send({ payload: '{"name":' }), { status: 400, json: { code: 'ERR_PROXY_BAD_REQUEST', message: 'the body is not valid JSON' } });
  t.like(await served.send({ payload: JSON.stringify({ uid: 'x' }) }), { status: 400 });
  const anonymous = await served.send({ token: null });
  t.like(anonymous, { status: 401, json: { code: 'ERR_PROXY_UNAUTHENTICATED' } });
  t.notRegex(JSON.stringify(anonymous.json), /cart|shop/);
  t.like(await served.send({ token: 'not-a-known-token' }), { status: 401 });
});

function gate(): { review: (token: string) => Promise<TokenReviewResult>; entered: Promise<void>; open: () => void } {
  let open!: () => void;
  let entered!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const enteredPromise = new Promise<void>((resolve) => (entered = resolve));
  return {
    review: async () => {
      entered();
      await opened;
      return boundReview('shop', 'cart', 'cart-0', 'pod-uid-1');
    },
    entered: enteredPromise,
    open,
  };
}

test('beyond the in-flight and queue bounds: 429 with Retry-After; a queued request is served later', async (t) => {
  const held = gate();
  const served = await serve(t, { reviewToken: held.review, maxConcurrency: 1, maxQueued: 1 });
  const first = served.send({});
  await held.entered;
  const second = served.send({}); // queued
  const third = await served.send({}); // neither a slot nor a queue place
  t.is(third.status, 429);
  t.is(third.json.code, 'ERR_PROXY_BUSY');
  t.is(third.headers['retry-after'], '1');
  held.open();
  t.is((await first).status, 200);
  t.is((await second).status, 200);
});

test('a queued request that waits too long gets 429', async (t) => {
  const held = gate();
  const served = await serve(t, { reviewToken: held.review, maxConcurrency: 1, maxQueued: 5, maxQueueWaitMs: 50 });
  const first = served.send({});
  await held.entered;
  t.like(await served.send({}), { status: 429, json: { code: 'ERR_PROXY_BUSY' } });
  held.open();
  t.is((await first).status, 200);
});

test('one info line per request with names and result, never a value or the token; metrics by result', async (t) => {
  const served = await serve(t);
  await served.send({});
  await served.send({ payload: JSON.stringify({ ...body, signature: '' }) });
  await served.send({ token: null });
  const lines = served.log.lines().filter((line) => line.msg === 'secret request');
  t.is(lines.length, 3);
  t.like(lines[0], { level: 'info', namespace: 'shop', pod: 'cart-0', serviceAccount: 'cart', secret: 'shop/cart', status: 200, result: 'ok', keys: 1 });
  t.like(lines[1], { status: 403, result: 'integrity', code: 'ERR_PROXY_INTEGRITY', namespace: 'shop' });
  t.like(lines[2], { status: 401, result: 'unauthenticated', code: 'ERR_PROXY_UNAUTHENTICATED' });
  const text = served.log.text();
  t.false(text.includes(CANARY), 'no secret value in the log');
  t.false(text.includes(TOKEN) || text.includes('signature-canary') || text.includes('token-canary'), 'no token in the log');
  const metrics = await served.registry.getSingleMetricAsString('piggy_proxy_requests_total');
  t.regex(metrics, /piggy_proxy_requests_total\{result="ok"\} 1/);
  t.regex(metrics, /piggy_proxy_requests_total\{result="integrity"\} 1/);
  t.regex(metrics, /piggy_proxy_requests_total\{result="unauthenticated"\} 1/);
  t.regex(await served.registry.getSingleMetricAsString('piggy_proxy_token_reviews_total'), /source="api"\} 2/);
  t.regex(await served.registry.getSingleMetricAsString('piggy_proxy_request_duration_seconds'), /_count\{result="ok"\} 1/);
});

test('an unexpected failure is a 500 with a generic message, logged once at error', async (t) => {
  const served = await serve(t, {
    readPod: () => {
      throw new TypeError('bug in a fake');
    },
  });
  const reply = await served.send({});
  t.like(reply, { status: 500, json: { code: 'ERR_PROXY_INTERNAL', message: 'internal error (see the controller log)' } });
  t.is(served.log.lines().filter((line) => line.level === 'error').length, 1);
});
