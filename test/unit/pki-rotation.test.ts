// The webhook certificates' decisions, pure: rotation planning from (now, serving expiry, CA expiry,
// rotation stage), the Secret layout, the caBundle patch, and a simulated decade of rotations.
import { X509Certificate } from 'node:crypto';
import test from 'ava';
import type { V1MutatingWebhookConfiguration, V1Secret } from '@kubernetes/client-node';
import { planCaBundlePatch } from '../../src/kube/webhook-ca-bundle.ts';
import {
  CLOCK_SKEW_MS,
  DEFAULT_ROTATION_POLICY,
  buildNextState,
  buildServingNames,
  checkRotationPolicy,
  describeState,
  planRotation,
  type RotationFacts,
  type RotationPolicy,
} from '../../src/kube/webhook-cert-plan.ts';
import { buildTlsSecret, buildTrustBundle, parseTlsSecret, type WebhookTlsState } from '../../src/kube/webhook-cert-state.ts';
import { splitPemCertificates } from '../../src/shared/pki.ts';

const DAY = 86_400_000;
const T0 = Date.UTC(2030, 0, 1);
const POLICY: RotationPolicy = { caValidityMs: 100 * DAY, servingValidityMs: 30 * DAY, caRenewBeforeMs: 40 * DAY, servingRenewBeforeMs: 5 * DAY, caOverlapMs: 10 * DAY };
const NAMES = buildServingNames('piggy', 'piggy-system', ['localhost'], ['127.0.0.1']);

function facts(overrides: Partial<RotationFacts> = {}): RotationFacts {
  return {
    now: T0,
    signer: { notAfter: T0 + 90 * DAY },
    serving: { notAfter: T0 + 20 * DAY, issuedBySigner: true, coversNames: true },
    next: undefined,
    retired: { count: 0, promotedAt: T0 },
    bundlePublished: true,
    ...overrides,
  };
}

const kind = (input: RotationFacts): string => planRotation(input, POLICY).kind;

test('the default policy is consistent; inconsistent ones are named', (t) => {
  t.deepEqual(checkRotationPolicy(DEFAULT_ROTATION_POLICY), []);
  t.deepEqual(checkRotationPolicy(POLICY), []);
  t.true(checkRotationPolicy({ ...POLICY, servingRenewBeforeMs: 30 * DAY }).some((p) => p.includes('servingRenewBefore')));
  t.true(checkRotationPolicy({ ...POLICY, caRenewBeforeMs: 100 * DAY }).some((p) => p.includes('caRenewBefore must be shorter')));
  t.true(checkRotationPolicy({ ...POLICY, caOverlapMs: 36 * DAY }).some((p) => p.includes('caOverlap')));
  t.true(checkRotationPolicy({ ...POLICY, caOverlapMs: 0 }).some((p) => p.includes('caOverlapMs must be a positive duration')));
});

test('nothing usable → create; a healthy pair → none, with the next due time', (t) => {
  t.is(kind(facts({ signer: undefined, serving: undefined })), 'create');
  const none = planRotation(facts(), POLICY);
  t.deepEqual(none, { kind: 'none', nextCheckAt: T0 + 15 * DAY }, 'serving renewal is the first thing due');
  const later = planRotation(facts({ serving: { notAfter: T0 + 80 * DAY, issuedBySigner: true, coversNames: true } }), POLICY);
  t.deepEqual(later, { kind: 'none', nextCheckAt: T0 + 50 * DAY }, 'then staging the next CA (90 - 40 days)');
});

test('the serving certificate is renewed near expiry, when not issued by the signer, or missing names — same CA', (t) => {
  t.is(kind(facts({ serving: { notAfter: T0 + 5 * DAY, issuedBySigner: true, coversNames: true } })), 'renew-serving');
  t.is(kind(facts({ serving: { notAfter: T0 + 6 * DAY, issuedBySigner: true, coversNames: true } })), 'none');
  t.is(kind(facts({ serving: { notAfter: T0 - DAY, issuedBySigner: true, coversNames: true } })), 'renew-serving', 'expired');
  t.is(kind(facts({ serving: { notAfter: T0 + 20 * DAY, issuedBySigner: false, coversNames: true } })), 'renew-serving');
  t.is(kind(facts({ serving: { notAfter: T0 + 20 * DAY, issuedBySigner: true, coversNames: false } })), 'renew-serving');
});

test('CA rotation: stage when the CA nears expiry, promote after the overlap once published, retire after another', (t) => {
  t.is(kind(facts({ signer: { notAfter: T0 + 40 * DAY } })), 'stage-ca');
  t.is(kind(facts({ signer: { notAfter: T0 + 41 * DAY } })), 'none');
  const staged = { notAfter: T0 + 100 * DAY, stagedAt: T0 };
  t.is(kind(facts({ signer: { notAfter: T0 + 40 * DAY }, next: staged, now: T0 + 9 * DAY })), 'none', 'overlap not over');
  t.is(kind(facts({ signer: { notAfter: T0 + 40 * DAY }, next: staged, now: T0 + 10 * DAY })), 'promote-ca');
  t.deepEqual(
    planRotation(facts({ signer: { notAfter: T0 + 40 * DAY }, next: staged, now: T0 + 10 * DAY, bundlePublished: false }), POLICY).kind,
    'none',
    'never switch before the webhook configuration trusts the new CA',
  );
  t.is(
    kind(facts({ signer: { notAfter: T0 + 14 * DAY }, next: staged, now: T0 + 10 * DAY, bundlePublished: false, serving: { notAfter: T0 + 14 * DAY, issuedBySigner: true, coversNames: true } })),
    'promote-ca',
    'unless the old CA is about to become unusable',
  );
  t.is(kind(facts({ retired: { count: 1, promotedAt: T0 - 9 * DAY } })), 'none');
  t.is(kind(facts({ retired: { count: 1, promotedAt: T0 - 10 * DAY } })), 'retire-ca');
});

test('an expired signer CA: promote the staged one if any, else start over', (t) => {
  t.is(kind(facts({ signer: { notAfter: T0 } })), 'create');
  t.is(kind(facts({ signer: { notAfter: T0 }, next: { notAfter: T0 + 50 * DAY, stagedAt: T0 - DAY } })), 'promote-ca');
  t.is(kind(facts({ signer: { notAfter: T0 }, next: { notAfter: T0, stagedAt: T0 - DAY } })), 'create', 'the staged CA expired too');
});

test('service names: the four cluster forms, extras, a CN that fits 64 characters', (t) => {
  t.deepEqual(buildServingNames('piggy', 'piggy-system').dnsNames, ['piggy', 'piggy.piggy-system', 'piggy.piggy-system.svc', 'piggy.piggy-system.svc.cluster.local']);
  t.is(buildServingNames('piggy', 'piggy-system').commonName, 'piggy.piggy-system.svc');
  t.true(buildServingNames('s'.repeat(40), 'n'.repeat(40)).commonName.length <= 64);
  t.deepEqual(NAMES.ipAddresses, ['127.0.0.1']);
});

function build(state: WebhookTlsState | undefined, action: Parameters<typeof buildNextState>[1], now: number): WebhookTlsState {
  return buildNextState(state, action, { now, policy: POLICY, names: NAMES, caName: 'test-ca' });
}

test('the Secret round-trips; unusable Secrets are reported by key name, never by value', (t) => {
  const state = build(build(undefined, { kind: 'create', reason: '' }, T0), { kind: 'stage-ca', reason: '' }, T0 + DAY);
  const secret = buildTlsSecret(state, 'piggy-system', 'piggy-webhook-tls');
  t.is(secret.type, 'kubernetes.io/tls');
  t.deepEqual(Object.keys(secret.data ?? {}).sort(), ['ca-next.key', 'ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
  t.is(secret.metadata?.annotations?.['piggysec.com/ca-staged-at'], new Date(T0 + DAY).toISOString());
  const parsed = parseTlsSecret(secret);
  if (!parsed.ok) return t.fail(parsed.problem);
  t.is(parsed.state.signer.cert.fingerprint, state.signer.cert.fingerprint);
  t.is(parsed.state.next?.cert.fingerprint, state.next?.cert.fingerprint);
  t.is(parsed.state.serving.cert.fingerprint, state.serving.cert.fingerprint);
  t.is(parsed.state.stagedAt, T0 + DAY);
  t.is(splitPemCertificates(buildTrustBundle(parsed.state)).length, 2);

  const broken = (mutate: (copy: V1Secret) => void): string => {
    const copy = structuredClone(secret);
    mutate(copy);
    const result = parseTlsSecret(copy);
    return result.ok ? 'ok' : result.problem;
  };
  const data = (copy: V1Secret) => copy.data ?? {};
  t.regex(broken((copy) => (copy.type = 'Opaque')), /type is Opaque/);
  t.regex(broken((copy) => delete data(copy)['ca.key']), /missing ca\.key/);
  t.regex(broken((copy) => (data(copy)['tls.key'] = data(copy)['ca.key'] ?? '')), /not a key pair/);
  t.regex(broken((copy) => (data(copy)['ca.key'] = data(copy)['tls.key'] ?? '')), /ca\.key matches no certificate/);
  t.regex(broken((copy) => (data(copy)['ca.crt'] = data(copy)['tls.crt'] ?? '')), /not a bundle of CA certificates/);
  const problems = [broken((copy) => (data(copy)['tls.key'] = data(copy)['ca.key'] ?? '')), broken((copy) => delete data(copy)['tls.crt'])];
  for (const problem of problems) t.false(/BEGIN|PRIVATE|[A-Za-z0-9+/]{40}/.test(problem), 'no PEM or base64 material in problems');
});

test('caBundle patch: only the webhooks that differ, each guarded by its name', (t) => {
  const bundle = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
  const config: V1MutatingWebhookConfiguration = {
    webhooks: [
      { name: 'a.example.com', admissionReviewVersions: ['v1'], sideEffects: 'None', clientConfig: { caBundle: Buffer.from(bundle).toString('base64') } },
      { name: 'b.example.com', admissionReviewVersions: ['v1'], sideEffects: 'None', clientConfig: {} },
      { name: 'c.example.com', admissionReviewVersions: ['v1'], sideEffects: 'None', clientConfig: { caBundle: Buffer.from('old').toString('base64') } },
    ],
  };
  t.deepEqual(planCaBundlePatch(config, bundle), [
    { op: 'test', path: '/webhooks/1/name', value: 'b.example.com' },
    { op: 'add', path: '/webhooks/1/clientConfig/caBundle', value: Buffer.from(bundle).toString('base64') },
    { op: 'test', path: '/webhooks/2/name', value: 'c.example.com' },
    { op: 'add', path: '/webhooks/2/clientConfig/caBundle', value: Buffer.from(bundle).toString('base64') },
  ]);
  t.deepEqual(planCaBundlePatch({ webhooks: [config.webhooks![0]!] }, bundle), []);
  t.deepEqual(planCaBundlePatch({}, bundle), []);
});

const verifies = (bundle: string, certPem: string): boolean => {
  const cert = new X509Certificate(certPem);
  return splitPemCertificates(bundle).some((pem) => {
    const ca = new X509Certificate(pem);
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  });
};

test('a simulated 250 days, checked four times a day: every client that took the bundle within caOverlap trusts the served certificate', (t) => {
  let state: WebhookTlsState | undefined;
  // What the webhook configuration (and each newly admitted pod) trusted from `at` on.
  const history: { at: number; bundle: string }[] = [];
  const bundleAt = (time: number): string | undefined => history.filter((entry) => entry.at <= time).at(-1)?.bundle;
  const actions: string[] = [];
  let maxBundle = 0;
  for (let now = T0; now <= T0 + 250 * DAY; now += DAY / 4) {
    for (let step = 0; step < 5; step += 1) {
      const published = bundleAt(now);
      const action = planRotation(describeState(state, NAMES, now, state !== undefined && published === buildTrustBundle(state)), POLICY);
      if (action.kind === 'none') break;
      state = build(state, action, now);
      actions.push(action.kind);
      history.push({ at: now, bundle: buildTrustBundle(state) }); // the sync publishes after each step
    }
    if (state === undefined) return t.fail('no state');
    t.true(state.serving.cert.notAfter > now + POLICY.servingRenewBeforeMs - DAY, 'the serving certificate never gets close to expiry');
    t.true(state.signer.cert.notAfter > now, 'the signer never expires');
    t.true(state.serving.cert.x509.validFromDate.getTime() <= now - CLOCK_SKEW_MS + 1000, 'backdated for clock skew');
    // No dropped request: a pod admitted caOverlap ago (or since) still verifies the controller.
    const windowStart = Math.max(T0, now - POLICY.caOverlapMs);
    const clients = [bundleAt(windowStart), ...history.filter((entry) => entry.at > windowStart).map((entry) => entry.bundle)];
    for (const bundle of clients) t.true(verifies(bundle ?? '', state.serving.cert.pem), `day ${(now - T0) / DAY}: a client of the last caOverlap trusts the serving certificate`);
    maxBundle = Math.max(maxBundle, splitPemCertificates(buildTrustBundle(state)).length);
  }
  t.is(actions.filter((a) => a === 'create').length, 1, 'one CA created, every later CA came from a rotation');
  t.true(actions.filter((a) => a === 'promote-ca').length >= 3, `several CA rotations in 250 days of 100-day CAs: ${actions.join(',')}`);
  t.true(actions.filter((a) => a === 'renew-serving').length >= 4);
  t.is(maxBundle, 2, 'at most two CAs trusted at once');
  t.regex(actions.filter((a) => a.endsWith('-ca')).join(','), /^(stage-ca,promote-ca,retire-ca,?)+(stage-ca,?)?(promote-ca,?)?$/);
});
