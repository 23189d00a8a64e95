// handleSecretRequest with passed-in fakes: the order of the checks, what each refusal costs (no
// AWS call before the policy and integrity pass), and what reaches the response.
import test from 'ava';
import { AppError } from '../../src/shared/errors.ts';
import { handleSecretRequest, type ProxyHandlerDeps } from '../../src/proxy/handler.ts';
import { PROXY_ERRORS } from '../../src/proxy/errors.ts';
import type { SecretRequest } from '../../src/proxy/request.ts';
import { admittedEnv, boundReview, buildFakes, piggyUidAnnotation, secretValue, signedContainer, type Fakes } from '../helpers/proxy.ts';
import { buildAccessPolicy } from '../../src/shared/access-policy.ts';
import { MOTO_ACCOUNT } from '../helpers/aws-account.ts';

const CANARY = 'canary-6b1f-proxy-handler-value';
const container = signedContainer('a'.repeat(32));

/** A pod as the webhook admitted it with these annotations (its container carries the admission record). */
function setup(annotations: Record<string, string> = {}, defaults: Record<string, string> = {}, acceptLegacyPods = false): { fakes: Fakes; deps: ProxyHandlerDeps } {
  const fakes = buildFakes();
  fakes.reviews.set('tok', boundReview('shop', 'cart', 'cart-0', 'pod-uid-1'));
  fakes.pods.set('shop/cart-0', {
    namespace: 'shop',
    name: 'cart-0',
    uid: 'pod-uid-1',
    serviceAccountName: 'cart',
    annotations: { ...piggyUidAnnotation([container]), ...annotations },
    containers: [{ name: 'app', env: admittedEnv(container, { namespace: 'shop', serviceAccount: 'cart', annotations, defaults }) }],
  });
  fakes.secrets.set('shop/cart#AWSCURRENT', secretValue(JSON.stringify({ PASSWORD: CANARY, USER: 'app', PIGGY_ALLOWED_SA: 'shop:cart' }), 'shop/cart'));
  return { fakes, deps: { reviewToken: fakes.reviewToken, readPod: fakes.readPod, source: fakes.source, defaults, policy: buildAccessPolicy(['{namespace}/*'], MOTO_ACCOUNT), acceptLegacyPods } };
}

const request = (extra: Partial<SecretRequest> = {}): SecretRequest => ({ name: 'cart-0', uid: container.uid, signature: container.signature, keys: undefined, ...extra });

test('the happy path: default secret by AWSCURRENT, control keys stripped, facts without values', async (t) => {
  const { fakes, deps } = setup();
  const outcome = await handleSecretRequest(request(), 'tok', deps);
  t.true(outcome.ok);
  if (!outcome.ok) return;
  t.deepEqual(outcome.body, { PASSWORD: CANARY, USER: 'app' });
  t.deepEqual(fakes.calls.aws, ['stage:shop/cart:AWSCURRENT']);
  t.like(outcome.facts, { namespace: 'shop', serviceAccount: 'cart', pod: 'cart-0', secret: 'shop/cart', version: 'stage:AWSCURRENT', keys: 2 });
  t.notRegex(JSON.stringify(outcome.facts), new RegExp(CANARY));
});

test('keys narrows the answer; missing keys are absent', async (t) => {
  const { deps } = setup();
  const outcome = await handleSecretRequest(request({ keys: ['USER', 'NOPE'] }), 'tok', deps);
  t.deepEqual(outcome.ok && outcome.body, { USER: 'app' });
});

test('VersionId, stage label and SSM path reach the secret source as such', async (t) => {
  const id = 'c43e66cb-1111-2222-3333-444455556666';
  const byId = setup({ 'piggysec.com/aws-secret-name': 'shop/db', 'piggysec.com/aws-secret-version': id });
  byId.fakes.secrets.set(`shop/db@${id}`, secretValue('{"A":"1"}', 'shop/db', id));
  t.deepEqual((await handleSecretRequest(request(), 'tok', byId.deps)).ok, true);
  t.deepEqual(byId.fakes.calls.aws, [`version:shop/db:${id}`]);

  const byStage = setup({ 'piggysec.com/aws-secret-name': 'shop/db', 'piggysec.com/aws-secret-version': 'AWSPREVIOUS' });
  byStage.fakes.secrets.set('shop/db#AWSPREVIOUS', secretValue('{"A":"0"}', 'shop/db'));
  t.true((await handleSecretRequest(request(), 'tok', byStage.deps)).ok);
  t.deepEqual(byStage.fakes.calls.aws, ['stage:shop/db:AWSPREVIOUS']);

  const ssm = setup({ 'piggysec.com/aws-ssm-parameter-path': '/shop/app' });
  ssm.fakes.parameters.set('/shop/app', Object.freeze({ DB_HOST: 'db', PIGGY_ALLOWED_SA: 'shop:cart' }));
  const outcome = await handleSecretRequest(request(), 'tok', ssm.deps);
  t.deepEqual(outcome.ok && outcome.body, { DB_HOST: 'db' });
  const empty = setup({ 'piggysec.com/aws-ssm-parameter-path': '/shop/none' });
  t.like(await handleSecretRequest(request(), 'tok', empty.deps), { ok: false, refusal: { code: PROXY_ERRORS.secretNotFound, status: 404 } });
});

test('each refusal, in order, and none of them reaches AWS', async (t) => {
  const cases: [string, (fakes: Fakes) => void, Partial<SecretRequest>, string, Record<string, string>?, boolean?][] = [
    ['unknown token', () => undefined, {}, PROXY_ERRORS.unauthenticated],
    ['another pod', () => undefined, { name: 'cart-1' }, PROXY_ERRORS.podMismatch],
    ['pod gone', (f) => f.pods.delete('shop/cart-0'), {}, PROXY_ERRORS.podMismatch],
    ['empty signature', () => undefined, { signature: '' }, PROXY_ERRORS.integrity],
    ['unknown uid', () => undefined, { uid: 'c'.repeat(32), signature: '' }, PROXY_ERRORS.integrity],
    ['policy', () => undefined, {}, PROXY_ERRORS.policyDenied, { 'piggysec.com/aws-secret-name': 'bank/db' }],
    ['no admission record', () => undefined, {}, PROXY_ERRORS.notAdmitted, { 'piggysec.com/aws-secret-version': 'not a version!' }],
    ['bad annotation (legacy pod)', () => undefined, {}, PROXY_ERRORS.podConfig, { 'piggysec.com/aws-secret-version': 'not a version!' }, true],
  ];
  for (const [title, arrange, change, code, annotations, legacy] of cases) {
    const { fakes, deps } = setup(annotations, {}, legacy);
    arrange(fakes);
    const outcome = await handleSecretRequest(request(change), title === 'unknown token' ? 'other' : 'tok', deps);
    t.like(outcome, { ok: false, refusal: { code } }, title);
    t.deepEqual(fakes.calls.aws, [], `${title}: no AWS call`);
  }
});

test('an unauthenticated caller learns nothing: the refusal names no pod, namespace or secret', async (t) => {
  const { fakes, deps } = setup();
  const outcome = await handleSecretRequest(request(), 'other', deps);
  t.false(outcome.ok);
  if (outcome.ok) return;
  t.is(outcome.refusal.status, 401);
  t.notRegex(outcome.refusal.message, /cart|shop/);
  t.is(fakes.calls.pods, 0, 'no pod read for an unauthenticated caller');
});

test('a legacy pod: a bad signature is refused before invalid annotations are reported', async (t) => {
  const { deps } = setup({ 'piggysec.com/aws-secret-version': 'not a version!', 'piggysec.com/piggy-enforce-integrity': 'false' }, {}, true);
  t.like(await handleSecretRequest(request({ signature: '' }), 'tok', deps), { ok: false, refusal: { code: PROXY_ERRORS.integrity } });
});

test('PIGGY_ALLOWED_SA and enforce-service-account are checked after the read', async (t) => {
  const listed = setup();
  listed.fakes.secrets.set('shop/cart#AWSCURRENT', secretValue(JSON.stringify({ A: CANARY, PIGGY_ALLOWED_SA: 'shop:other' }), 'shop/cart'));
  const refused = await handleSecretRequest(request(), 'tok', listed.deps);
  t.like(refused, { ok: false, refusal: { code: PROXY_ERRORS.serviceAccountNotAllowed, status: 403 } });
  t.notRegex(JSON.stringify(refused), new RegExp(CANARY));

  const enforced = setup({ 'piggysec.com/piggy-enforce-service-account': 'true' });
  enforced.fakes.secrets.set('shop/cart#AWSCURRENT', secretValue(JSON.stringify({ A: CANARY }), 'shop/cart'));
  t.like(await handleSecretRequest(request(), 'tok', enforced.deps), { ok: false, refusal: { code: PROXY_ERRORS.serviceAccountNotAllowed } });
  const byDefault = setup({}, { 'piggysec.com/piggy-enforce-service-account': 'true' });
  byDefault.fakes.secrets.set('shop/cart#AWSCURRENT', secretValue(JSON.stringify({ A: CANARY }), 'shop/cart'));
  const lowered = setup({ 'piggysec.com/piggy-enforce-service-account': 'false' }, { 'piggysec.com/piggy-enforce-service-account': 'true' });
  lowered.fakes.secrets.set('shop/cart#AWSCURRENT', secretValue(JSON.stringify({ A: CANARY }), 'shop/cart'));
  t.like(await handleSecretRequest(request(), 'tok', byDefault.deps), { ok: false });
  t.like(await handleSecretRequest(request(), 'tok', lowered.deps), { ok: false }, 'a pod cannot lower the controller-wide enforcement');
});

test('API-server and AWS failures become 503/429/404 with the classified error kept for the log', async (t) => {
  const reviewDown = setup();
  reviewDown.fakes.reviews.set('tok', new AppError('ERR_KUBE_UNAVAILABLE', 'kubernetes create tokenreviews failed (HTTP 503)', { details: { status: 503 } }));
  t.like(await handleSecretRequest(request(), 'tok', reviewDown.deps), { ok: false, refusal: { code: PROXY_ERRORS.unavailable, status: 503 } });

  const podThrottled = setup();
  podThrottled.fakes.pods.set('shop/cart-0', new AppError('ERR_KUBE_UNAVAILABLE', 'x', { details: { status: 429 } }));
  t.like(await handleSecretRequest(request(), 'tok', podThrottled.deps), { ok: false, refusal: { code: PROXY_ERRORS.throttled, status: 429 } });

  const missing = setup();
  missing.fakes.secrets.set('shop/cart#AWSCURRENT', new AppError('ERR_AWS_SECRET_NOT_FOUND', 'secret "shop/cart" in us-east-1 was not found'));
  const outcome = await handleSecretRequest(request(), 'tok', missing.deps);
  t.like(outcome, { ok: false, refusal: { code: PROXY_ERRORS.secretNotFound, status: 404, message: 'secret "shop/cart" was not found' } });
  t.true(!outcome.ok && outcome.error instanceof AppError);
});

test('a cached review is reported as such', async (t) => {
  const { fakes, deps } = setup();
  fakes.reviews.set('tok', boundReview('shop', 'cart', 'cart-0', 'pod-uid-1', true));
  const seen: string[] = [];
  await handleSecretRequest(request(), 'tok', { ...deps, onTokenReview: (source) => seen.push(source) });
  t.deepEqual(seen, ['cache']);
});

test('annotations patched after admission redirect nothing: the recorded secret is read, the patched one never', async (t) => {
  const { fakes, deps } = setup({ 'piggysec.com/aws-secret-name': 'shop/cart' });
  const pod = fakes.pods.get('shop/cart-0');
  if (pod === undefined || pod instanceof Error) throw new Error('no pod');
  fakes.pods.set('shop/cart-0', { ...pod, annotations: { ...pod.annotations, 'piggysec.com/aws-secret-name': 'shop/payments', 'piggysec.com/aws-secret-version': 'AWSPREVIOUS' } });
  fakes.secrets.set('shop/payments#AWSPREVIOUS', secretValue(JSON.stringify({ PASSWORD: 'other' }), 'shop/payments'));
  const outcome = await handleSecretRequest(request(), 'tok', deps);
  t.like(outcome, { ok: true, body: { PASSWORD: CANARY }, facts: { secret: 'shop/cart', version: 'stage:AWSCURRENT' } });
  t.deepEqual(fakes.calls.aws, ['stage:shop/cart:AWSCURRENT']);
});

test('PROXY_ACCEPT_LEGACY_PODS: a pod admitted by an older piggy is served from its annotations, and the log line says so', async (t) => {
  const { fakes, deps } = setup({}, {}, true);
  const pod = fakes.pods.get('shop/cart-0');
  if (pod === undefined || pod instanceof Error) throw new Error('no pod');
  fakes.pods.set('shop/cart-0', { ...pod, containers: [{ name: 'app', env: { PIGGY_UID: container.uid } }] });
  fakes.reviews.set('tok', { ...boundReview('shop', 'cart', 'cart-0', 'pod-uid-1'), defaultAudience: true });
  t.like(await handleSecretRequest(request(), 'tok', deps), { ok: true, facts: { secret: 'shop/cart', legacy: 'token,annotations' } });
  t.like(await handleSecretRequest(request(), 'tok', { ...deps, acceptLegacyPods: false }), { ok: false, refusal: { code: PROXY_ERRORS.notAdmitted } });
});
