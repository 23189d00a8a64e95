// The pure decisions of the /secret proxy: request parsing, caller identity and pod binding,
// integrity, secret selection and policy, the secret map, PIGGY_ALLOWED_SA and the response body.
import test from 'ava';
import { parsePodConfig, type PodConfig } from '../../src/config/annotations.ts';
import { buildResultLabel, planAwsRefusal, planKubeRefusal, PROXY_ERRORS, PROXY_STATUS } from '../../src/proxy/errors.ts';
import { checkPodBinding, planCallerIdentity, type CallerIdentity } from '../../src/proxy/identity.ts';
import { checkIntegrity } from '../../src/proxy/integrity.ts';
import { MAX_KEYS, parseSecretRequest, parseTokenHeader } from '../../src/proxy/request.ts';
import { buildResponseBody, buildSecretMap, checkAllowedServiceAccount, PROXY_CONTROL_KEYS } from '../../src/proxy/secret-map.ts';
import { planAdmittedConfig } from '../../src/proxy/admitted.ts';
import { buildParameterPathSubject, isParameterPathAllowed, planSecretSelection } from '../../src/proxy/selection.ts';
import { buildSecretTarget } from '../../src/shared/admission-record.ts';
import { AppError } from '../../src/shared/errors.ts';
import { buildAccessPolicy } from '../../src/shared/access-policy.ts';
import { MOTO_ACCOUNT } from '../helpers/aws-account.ts';
import { admittedEnv, boundReview, piggyUidAnnotation, POD_NAME_CLAIM, secretValue, signedContainer } from '../helpers/proxy.ts';

const POLICY = buildAccessPolicy(['{namespace}/*'], MOTO_ACCOUNT);
const UID_A = 'a'.repeat(32);
const UID_B = 'b'.repeat(32);
const identity: CallerIdentity = { namespace: 'shop', serviceAccount: 'cart', podName: 'cart-0', podUid: 'pod-uid-1' };

function config(annotations: Record<string, string> = {}, defaults: Record<string, string> = {}): PodConfig {
  const parsed = parsePodConfig(annotations, defaults, { namespace: 'shop' });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.config;
}

test('parseSecretRequest accepts Piggy\'s body (resources ignored) and the optional keys', (t) => {
  const piggy = parseSecretRequest(JSON.stringify({ resources: 'pods', name: 'cart-0', uid: UID_A, signature: 'ab' }));
  t.deepEqual(piggy, { ok: true, request: { name: 'cart-0', uid: UID_A, signature: 'ab', keys: undefined } });
  const keyed = parseSecretRequest(Buffer.from(JSON.stringify({ name: 'cart-0', uid: UID_A, signature: 'ab', keys: ['A', 'B', 'A'] })));
  t.deepEqual(keyed.ok && keyed.request.keys, ['A', 'B']);
  const unsigned = parseSecretRequest(JSON.stringify({ name: 'cart-0', uid: UID_A }));
  t.is(unsigned.ok && unsigned.request.signature, '');
});

test('parseSecretRequest refuses malformed bodies with 400 ERR_PROXY_BAD_REQUEST', (t) => {
  const cases: [string, RegExp][] = [
    ['', /empty/],
    ['{"name":', /not valid JSON/],
    ['[]', /not a JSON object/],
    ['"x"', /not a JSON object/],
    [JSON.stringify({ uid: UID_A }), /"name"/],
    [JSON.stringify({ name: 'Not_A_Pod', uid: UID_A }), /valid pod name/],
    [JSON.stringify({ name: 'p', uid: '' }), /"uid"/],
    [JSON.stringify({ name: 'p', uid: 'u'.repeat(65) }), /"uid" is longer/],
    [JSON.stringify({ name: 'p', uid: UID_A, signature: 5 }), /"signature" must be a string/],
    [JSON.stringify({ name: 'p', uid: UID_A, keys: 'A' }), /"keys" must be an array/],
    [JSON.stringify({ name: 'p', uid: UID_A, keys: [''] }), /non-empty strings/],
    [JSON.stringify({ name: 'p', uid: UID_A, keys: Array.from({ length: MAX_KEYS + 1 }, (_v, i) => `K${i}`) }), /more than/],
  ];
  for (const [body, message] of cases) {
    const parsed = parseSecretRequest(body);
    if (parsed.ok) {
      t.fail(body);
      continue;
    }
    t.is(parsed.refusal.code, PROXY_ERRORS.badRequest, body);
    t.is(parsed.refusal.status, 400);
    t.regex(parsed.refusal.message, message, body);
  }
});

test('parseTokenHeader: missing, empty, repeated (joined by Node) and oversized tokens are absent', (t) => {
  t.is(parseTokenHeader('abc.def.ghi'), 'abc.def.ghi');
  t.is(parseTokenHeader(undefined), undefined);
  t.is(parseTokenHeader('  '), undefined);
  t.is(parseTokenHeader('a.b.c, d.e.f'), undefined);
  t.is(parseTokenHeader(['a', 'b']), undefined);
  t.is(parseTokenHeader('x'.repeat(9000)), undefined);
});

test('planCallerIdentity: a pod-bound service-account token naming its own pod', (t) => {
  t.deepEqual(planCallerIdentity(boundReview('shop', 'cart', 'cart-0', 'pod-uid-1'), 'cart-0'), { ok: true, identity });
});

test('planCallerIdentity refuses: unauthenticated 401 naming nothing, non-SA, unbound, another pod 403', (t) => {
  const unauth = planCallerIdentity({ authenticated: false, audiences: [], cached: false }, 'cart-0');
  t.like(unauth, { ok: false, refusal: { code: PROXY_ERRORS.unauthenticated, status: 401 } });
  t.notRegex(JSON.stringify(unauth), /cart/);

  const user = { ...boundReview('shop', 'cart', 'cart-0', 'u'), user: { username: 'alice', groups: [], extra: {} } };
  t.like(planCallerIdentity(user, 'cart-0'), { ok: false, refusal: { code: PROXY_ERRORS.tokenNotBound, status: 403 } });

  const unbound = boundReview('shop', 'cart', 'cart-0', 'u');
  const noClaims = { ...unbound, user: { ...unbound.user!, extra: {} } };
  t.like(planCallerIdentity(noClaims, 'cart-0'), { ok: false, refusal: { code: PROXY_ERRORS.tokenNotBound } });
  const twoNames = { ...unbound, user: { ...unbound.user!, extra: { ...unbound.user!.extra, [POD_NAME_CLAIM]: ['cart-0', 'cart-1'] } } };
  t.like(planCallerIdentity(twoNames, 'cart-0'), { ok: false, refusal: { code: PROXY_ERRORS.tokenNotBound } });

  t.like(planCallerIdentity(boundReview('shop', 'cart', 'cart-0', 'u'), 'cart-1'), { ok: false, refusal: { code: PROXY_ERRORS.podMismatch, status: 403 } });
});

test('checkPodBinding: the live pod must exist with the token\'s pod uid and service account', (t) => {
  const pod = { namespace: 'shop', name: 'cart-0', uid: 'pod-uid-1', serviceAccountName: 'cart', annotations: {}, containers: [] };
  t.is(checkPodBinding(identity, pod), undefined);
  t.like(checkPodBinding(identity, undefined), { code: PROXY_ERRORS.podMismatch, status: 403 });
  t.like(checkPodBinding(identity, { ...pod, uid: 'recreated' }), { code: PROXY_ERRORS.podMismatch });
  t.like(checkPodBinding(identity, { ...pod, serviceAccountName: 'admin' }), { code: PROXY_ERRORS.podMismatch });
  t.like(checkPodBinding(identity, { ...pod, serviceAccountName: '' }), { code: PROXY_ERRORS.podMismatch });
});

test('checkIntegrity: known uid with its signature passes; empty, wrong or unknown never does (Piggy bypass fixed)', (t) => {
  const a = signedContainer(UID_A);
  const annotations = piggyUidAnnotation([a, signedContainer(UID_B, ['other'])]);
  const check = (uid: string, signature: string, enforceIntegrity = true, notes = annotations) => checkIntegrity({ annotations: notes, enforceIntegrity, uid, signature });
  t.is(check(UID_A, a.signature), undefined);
  t.is(check(UID_A, a.signature.toUpperCase()), undefined, 'hex case does not matter');
  t.like(check(UID_A, ''), { code: PROXY_ERRORS.integrity, status: 403 });
  t.like(check(UID_A, signedContainer(UID_B, ['other']).signature), { code: PROXY_ERRORS.integrity }, 'another container\'s signature');
  t.like(check('c'.repeat(32), ''), { code: PROXY_ERRORS.integrity }, 'unknown uid + empty signature');
  t.like(check('__proto__', ''), { code: PROXY_ERRORS.integrity });
  t.like(check(UID_A, a.signature, true, {}), { code: PROXY_ERRORS.integrity }, 'no annotation');
  t.like(check(UID_A, a.signature, true, { 'piggysec.com/piggy-uid': 'not json' }), { code: PROXY_ERRORS.integrity });
  // enforce-integrity false relaxes only the signature
  t.is(check(UID_A, '', false), undefined);
  t.is(check(UID_A, 'f'.repeat(64), false), undefined);
  t.like(check('c'.repeat(32), '', false), { code: PROXY_ERRORS.integrity });
  t.like(check(UID_A, '', false, {}), { code: PROXY_ERRORS.integrity });
});

/** What admission records (buildSecretTarget), judged by the policy at request time. */
const select = (podConfig: PodConfig, caller: typeof identity, policy: readonly string[]) =>
  planSecretSelection(buildSecretTarget(podConfig, caller.namespace, caller.serviceAccount), caller.namespace, buildAccessPolicy(policy, MOTO_ACCOUNT));

test('planSecretSelection: default name, aws-secret-name, VersionId, stage, region, SSM path', (t) => {
  t.deepEqual(select(config(), identity, ['{namespace}/*']), {
    ok: true,
    target: { kind: 'secretsManager', secretId: 'shop/cart', region: undefined, version: { kind: 'stage', value: 'AWSCURRENT' } },
  });
  const affixed = select(config({}, { 'piggysec.com/piggy-default-secret-name-suffix': '/prod' }), identity, ['{namespace}/*']);
  t.like(affixed, { ok: true, target: { secretId: 'shop/cart/prod' } });
  const id = 'c43e66cb-1111-2222-3333-444455556666';
  const named = select(config({ 'piggysec.com/aws-secret-name': 'shop/db', 'piggysec.com/aws-secret-version': id, 'piggysec.com/aws-region': 'eu-west-1' }), identity, ['{namespace}/*']);
  t.deepEqual(named, { ok: true, target: { kind: 'secretsManager', secretId: 'shop/db', region: 'eu-west-1', version: { kind: 'id', value: id } } });
  const staged = select(config({ 'piggysec.com/aws-secret-name': 'shop/db', 'piggysec.com/aws-secret-version': 'AWSPREVIOUS' }), identity, ['{namespace}/*']);
  t.like(staged, { ok: true, target: { version: { kind: 'stage', value: 'AWSPREVIOUS' } } });
  const ssm = select(config({ 'piggysec.com/aws-ssm-parameter-path': '/shop/app', 'piggysec.com/aws-secret-name': 'shop/db' }), identity, ['{namespace}/*']);
  t.deepEqual(ssm, { ok: true, target: { kind: 'ssm', path: '/shop/app', region: undefined } });
});

test('planSecretSelection: the namespace policy refuses other namespaces\' secrets and paths (403)', (t) => {
  const policy = ['{namespace}/*'];
  const cases: Record<string, string>[] = [
    { 'piggysec.com/aws-secret-name': 'bank/db' },
    { 'piggysec.com/aws-secret-name': 'arn:aws:secretsmanager:us-east-1:123456789012:secret:bank/db-AbCdEf' },
    { 'piggysec.com/aws-secret-name': 'shop/../bank/db' },
    { 'piggysec.com/aws-ssm-parameter-path': '/bank/app' },
    { 'piggysec.com/aws-ssm-parameter-path': '/shopping/app' },
    { 'piggysec.com/aws-ssm-parameter-path': '/shop/../bank' },
    { 'piggysec.com/aws-ssm-parameter-path': '/' },
  ];
  for (const annotations of cases) {
    t.like(select(config(annotations), identity, policy), { ok: false, refusal: { code: PROXY_ERRORS.policyDenied, status: 403 } }, JSON.stringify(annotations));
  }
  t.like(select(config({ 'piggysec.com/aws-secret-name': 'bank/db' }), identity, ['*']), { ok: true });
  t.like(select(config({}, { 'piggysec.com/piggy-default-secret-name-prefix': 'prod/' }), identity, policy), { ok: false }, 'a prefix leaves the namespace');
});

test('SSM paths are judged as the hierarchy they read', (t) => {
  t.is(buildParameterPathSubject('/shop/app'), 'shop/app/');
  t.is(buildParameterPathSubject('/shop/app/'), 'shop/app/');
  t.is(buildParameterPathSubject('/'), '/');
  t.true(isParameterPathAllowed(POLICY, 'shop', '/shop'));
  t.true(isParameterPathAllowed(POLICY, 'shop', '/shop/a/b'));
  t.false(isParameterPathAllowed(POLICY, 'shop', '/shopx'));
  t.false(isParameterPathAllowed(POLICY, 'shop', '/shop/./x'));
});

test('buildSecretMap: JSON object fields, non-string values as JSON text, null as "", other text under data, binary refused', (t) => {
  const object = buildSecretMap(secretValue(JSON.stringify({ A: 'x', port: 5432, on: true, nested: { k: 1 }, empty: null })), 'secret "s"');
  t.deepEqual(object.ok && Object.fromEntries(object.map), { A: 'x', port: '5432', on: 'true', nested: '{"k":1}', empty: '' });
  for (const text of ['plain text', '[1,2]', '"quoted"', '42', 'null']) {
    const whole = buildSecretMap(secretValue(text), 'secret "s"');
    t.deepEqual(whole.ok && Object.fromEntries(whole.map), { data: text }, text);
  }
  t.like(buildSecretMap(secretValue(undefined), 'secret "s"'), { ok: false, refusal: { code: PROXY_ERRORS.secretFormat, status: 422 } });
});

test('PIGGY_ALLOWED_SA: listed callers only; absent key allowed unless enforced', (t) => {
  const map = (listed?: string) => new Map([['A', 'x'], ...(listed === undefined ? [] : [['PIGGY_ALLOWED_SA', listed] as [string, string]])]);
  t.is(checkAllowedServiceAccount(map('shop:cart'), identity, false, 's'), undefined);
  t.is(checkAllowedServiceAccount(map('bank:x, shop:cart'), identity, true, 's'), undefined, 'entries are trimmed');
  t.like(checkAllowedServiceAccount(map('shop:carts,shop:*,cart'), identity, false, 's'), { code: PROXY_ERRORS.serviceAccountNotAllowed, status: 403 });
  t.like(checkAllowedServiceAccount(map(''), identity, false, 's'), { code: PROXY_ERRORS.serviceAccountNotAllowed });
  t.is(checkAllowedServiceAccount(map(), identity, false, 's'), undefined);
  t.like(checkAllowedServiceAccount(map(), identity, true, 's'), { code: PROXY_ERRORS.serviceAccountNotAllowed });
});

test('buildResponseBody strips every control key and keeps only the requested keys', (t) => {
  const map = new Map([
    ['A', '1'],
    ['B', '2'],
    ['__proto__', '3'],
    ...[...PROXY_CONTROL_KEYS].map((key): [string, string] => [key, 'control']),
  ]);
  const all = buildResponseBody(map, undefined);
  t.deepEqual(Object.keys(all).sort(), ['A', 'B', '__proto__']);
  t.is(Object.getPrototypeOf(all), Object.prototype, '__proto__ stays an ordinary key');
  t.deepEqual(buildResponseBody(map, ['B', 'MISSING', 'PIGGY_ALLOWED_SA']), { B: '2' });
  t.deepEqual(buildResponseBody(map, []), {});
  for (const key of ['PIGGY_ALLOWED_SA', 'PIGGY_AWS_SECRET_NAME', 'PIGGY_NUMBER_OF_RETRY', 'PIGGY_AWS_SECRET_VERSION', 'PIGGY_UID', 'PIGGY_CA_BUNDLE']) {
    t.true(PROXY_CONTROL_KEYS.has(key), key);
  }
});

test('AWS and API-server failures map to stable codes and statuses, with Retry-After when retrying helps', (t) => {
  const aws = (code: string, kind: 'transient' | 'terminal' = 'terminal') => planAwsRefusal(new AppError(code, 'x', { kind }), 'secret "s"');
  t.like(aws('ERR_AWS_SECRET_NOT_FOUND'), { code: PROXY_ERRORS.secretNotFound, status: 404 });
  t.like(aws('ERR_AWS_VERSION_NOT_FOUND'), { code: PROXY_ERRORS.versionNotFound, status: 404 });
  t.like(aws('ERR_AWS_ACCESS_DENIED'), { code: PROXY_ERRORS.awsDenied, status: 403 });
  t.like(aws('ERR_AWS_ACCESS_DENIED', 'transient'), { code: PROXY_ERRORS.unavailable, status: 503 });
  t.like(aws('ERR_AWS_THROTTLED', 'transient'), { code: PROXY_ERRORS.throttled, status: 429, retryAfterSeconds: 2 });
  t.like(aws('ERR_AWS_UNAVAILABLE', 'transient'), { code: PROXY_ERRORS.unavailable, status: 503, retryAfterSeconds: 5 });
  t.like(aws('ERR_AWS_DECRYPTION'), { code: PROXY_ERRORS.awsFailed, status: 502 });
  t.like(planAwsRefusal(new Error('boom'), 's'), { code: PROXY_ERRORS.internal, status: 500 });
  t.like(planKubeRefusal(new AppError('ERR_KUBE_UNAVAILABLE', 'x', { details: { status: 429 } })), { code: PROXY_ERRORS.throttled, status: 429 });
  t.like(planKubeRefusal(new AppError('ERR_KUBE_FORBIDDEN', 'x', { details: { status: 403 } })), { code: PROXY_ERRORS.unavailable, status: 503 });
  t.is(buildResultLabel(undefined), 'ok');
  t.is(buildResultLabel(PROXY_ERRORS.serviceAccountNotAllowed), 'sa_not_allowed');
  for (const [code, status] of Object.entries(PROXY_STATUS)) t.true(status >= 400 && status < 600, code);
});

test('planCallerIdentity: a token of another audience (the automounted one) gets its own 401 naming what /secret wants', (t) => {
  const refused = planCallerIdentity({ authenticated: false, audiences: [], cached: false, wrongAudience: true }, 'cart-0', ['piggysec.com']);
  t.like(refused, { ok: false, refusal: { code: PROXY_ERRORS.tokenAudience, status: 401 } });
  t.regex(!refused.ok ? refused.refusal.message : '', /not issued for audience piggysec\.com.*automounted.*PIGGY_TOKEN_FILE/);
  t.like(planCallerIdentity({ authenticated: false, audiences: [], cached: false }, 'cart-0', ['piggysec.com']), { ok: false, refusal: { code: PROXY_ERRORS.unauthenticated } });
});

test('planAdmittedConfig: the container\'s admission record decides; patched annotations change nothing', (t) => {
  const a = signedContainer(UID_A);
  const env = admittedEnv(a, { namespace: 'shop', serviceAccount: 'cart', annotations: { 'piggysec.com/aws-secret-name': 'shop/db' } });
  const pod = {
    namespace: 'shop', name: 'cart-0', uid: 'pod-uid-1', serviceAccountName: 'cart',
    // What someone with pods/patch wrote after admission: another secret, integrity off, another signature.
    annotations: { ...piggyUidAnnotation([signedContainer(UID_A, ['sh'])]), 'piggysec.com/aws-secret-name': 'shop/other', 'piggysec.com/piggy-enforce-integrity': 'false' },
    containers: [{ name: 'app', env }],
  };
  const options = { acceptLegacyPods: false, defaults: {} };
  const admitted = planAdmittedConfig(pod, { uid: UID_A, signature: a.signature }, options);
  t.like(admitted, { ok: true, legacy: false, record: { target: { kind: 'secretsManager', secretId: 'shop/db' }, enforceIntegrity: true } });
  t.like(planAdmittedConfig(pod, { uid: UID_A, signature: signedContainer(UID_A, ['sh']).signature }, options), { ok: false, refusal: { code: PROXY_ERRORS.integrity } }, 'the recorded signature, not the annotation');
  t.like(planAdmittedConfig(pod, { uid: UID_A, signature: '' }, options), { ok: false, refusal: { code: PROXY_ERRORS.integrity } });
  t.like(planAdmittedConfig(pod, { uid: UID_B, signature: a.signature }, options), { ok: false, refusal: { code: PROXY_ERRORS.integrity } }, 'unknown uid');
  const twice = { ...pod, containers: [{ name: 'app', env }, { name: 'copy', env }] };
  t.like(planAdmittedConfig(twice, { uid: UID_A, signature: a.signature }, options), { ok: false, refusal: { code: PROXY_ERRORS.integrity } }, 'two containers with one uid');
  const otherUid = { ...pod, containers: [{ name: 'app', env: { ...env, PIGGY_UID: UID_B } }] };
  t.like(planAdmittedConfig(otherUid, { uid: UID_B, signature: a.signature }, options), { ok: false, refusal: { code: PROXY_ERRORS.integrity } }, 'a record copied under another uid');
});

test('planAdmittedConfig: a container without a record is refused (ERR_PROXY_NOT_ADMITTED) unless PROXY_ACCEPT_LEGACY_PODS', (t) => {
  const a = signedContainer(UID_A);
  const pod = {
    namespace: 'shop', name: 'cart-0', uid: 'pod-uid-1', serviceAccountName: 'cart',
    annotations: { ...piggyUidAnnotation([a]), 'piggysec.com/aws-secret-name': 'shop/db' },
    containers: [{ name: 'app', env: { PIGGY_UID: UID_A } }],
  };
  const refused = planAdmittedConfig(pod, { uid: UID_A, signature: a.signature }, { acceptLegacyPods: false, defaults: {} });
  t.like(refused, { ok: false, refusal: { code: PROXY_ERRORS.notAdmitted, status: 403 } });
  t.regex(!refused.ok ? refused.refusal.message : '', /container "app" carries no valid PIGGY_ADMISSION.*PROXY_ACCEPT_LEGACY_PODS/);
  const legacy = planAdmittedConfig(pod, { uid: UID_A, signature: a.signature }, { acceptLegacyPods: true, defaults: {} });
  t.like(legacy, { ok: true, legacy: true, record: { target: { secretId: 'shop/db' } } });
  t.like(planAdmittedConfig(pod, { uid: UID_A, signature: '' }, { acceptLegacyPods: true, defaults: {} }), { ok: false, refusal: { code: PROXY_ERRORS.integrity } }, 'the legacy path still checks the annotation\'s signature');
});

test('buildSecretTarget is what the proxy judged before the record: default name with prefix and suffix, SSM wins', (t) => {
  t.deepEqual(buildSecretTarget(config({}, { 'piggysec.com/piggy-default-secret-name-prefix': 'p-' }), 'shop', 'cart'), {
    kind: 'secretsManager', secretId: 'p-shop/cart', region: undefined, version: { kind: 'stage', value: 'AWSCURRENT' },
  });
  t.deepEqual(buildSecretTarget(config({ 'piggysec.com/aws-ssm-parameter-path': '/shop/app', 'piggysec.com/aws-secret-name': 'shop/db' }), 'shop', 'cart'), { kind: 'ssm', path: '/shop/app', region: undefined });
});
