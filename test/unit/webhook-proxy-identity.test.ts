// The webhook's side of the proxy identity: the projected token of piggy's audience, the admission
// record each wrapped container carries (what /secret trusts), and the Piggy options piggy refuses.
import test from 'ava';
import { parseAdmissionRecord } from '../../src/shared/admission-record.ts';
import { buildCommandSignature } from '../../src/shared/injection-contract.ts';
import { readWrappedTemplate } from '../../src/webhook/command.ts';
import { handleAdmission } from '../../src/webhook/review.ts';
import { buildDeps, buildReview, containerOf as container, envOf, loadPod, mutatedPod, valueOf } from '../fixtures/admission/build.ts';


test('proxy mode: each wrapped container carries the admission record /secret trusts (secret, signature, integrity flags)', async (t) => {
  const pod = loadPod('pod-env-literal');
  Object.assign(pod.metadata?.annotations ?? {}, { 'piggysec.com/aws-secret-version': 'AWSPREVIOUS', 'piggysec.com/piggy-enforce-integrity': 'false' });
  const out = mutatedPod(pod, await handleAdmission(buildReview(pod), buildDeps()));
  const app = container(out, 'app');
  const record = parseAdmissionRecord(valueOf(app, 'PIGGY_ADMISSION'));
  t.deepEqual(record, {
    uid: valueOf(app, 'PIGGY_UID'),
    signature: buildCommandSignature(readWrappedTemplate(app)),
    target: { kind: 'secretsManager', secretId: 'shop/demo', region: 'eu-west-1', version: { kind: 'stage', value: 'AWSPREVIOUS' } },
    enforceIntegrity: false,
    enforceServiceAccount: false,
  });
  const defaulted = loadPod('pod-env-literal');
  Reflect.deleteProperty(defaulted.metadata?.annotations ?? {}, 'piggysec.com/aws-secret-name');
  defaulted.spec = { ...defaulted.spec, containers: defaulted.spec?.containers ?? [], serviceAccountName: 'cart' };
  const named = container(mutatedPod(defaulted, await handleAdmission(buildReview(defaulted), buildDeps())), 'app');
  t.like(parseAdmissionRecord(valueOf(named, 'PIGGY_ADMISSION')), { target: { secretId: 'shop/cart' } }, 'the default name is fixed at admission: ${namespace}/${serviceAccount}');
});

test('a hand-written PIGGY_ADMISSION is dropped from every container; the webhook writes its own', async (t) => {
  const pod = loadPod('pod-env-literal');
  const forged = JSON.stringify({ v: 1, uid: 'f'.repeat(32), signature: '', target: { kind: 'secretsManager', secretId: 'shop/payments', version: { kind: 'stage', value: 'AWSCURRENT' } }, enforceIntegrity: false, enforceServiceAccount: false });
  for (const item of pod.spec?.containers ?? []) item.env = [...(item.env ?? []), { name: 'PIGGY_ADMISSION', value: forged }];
  const out = mutatedPod(pod, await handleAdmission(buildReview(pod), buildDeps()));
  t.false('PIGGY_ADMISSION' in envOf(container(out, 'metrics')), 'an unwrapped container keeps no record');
  t.like(parseAdmissionRecord(valueOf(container(out, 'app'), 'PIGGY_ADMISSION')), { target: { secretId: 'shop/demo' }, enforceIntegrity: true });
});

test('PROXY_TOKEN_AUDIENCE and PROXY_TOKEN_EXPIRATION shape the projected token', async (t) => {
  const pod = loadPod('pod-env-literal');
  const out = mutatedPod(pod, await handleAdmission(buildReview(pod), { ...buildDeps(), proxyToken: { audience: 'piggy.example', expirationSeconds: 3600 } }));
  t.deepEqual(out.spec?.volumes?.find((volume) => volume.name === 'piggy-token')?.projected?.sources, [{ serviceAccountToken: { audience: 'piggy.example', expirationSeconds: 3600, path: 'token' } }]);
});

test('image-skip-verify-registry "true" and piggy-dns-resolver are refused with a message, never accepted and ignored', async (t) => {
  for (const [annotation, value, expected] of [
    ['piggysec.com/image-skip-verify-registry', 'true', /image-skip-verify-registry: piggy always verifies registry TLS/],
    ['piggysec.com/piggy-dns-resolver', 'tcp4', /piggy-dns-resolver: is not supported: piggy-env resolves names with the system resolver/],
  ] as const) {
    const pod = loadPod('pod-env-literal');
    Object.assign(pod.metadata?.annotations ?? {}, { [annotation]: value });
    const review = await handleAdmission(buildReview(pod), buildDeps());
    t.like(review.response, { allowed: false, status: { code: 400 } }, annotation);
    t.regex(review.response.status?.message ?? '', expected);
  }
  const pod = loadPod('pod-env-literal');
  Object.assign(pod.metadata?.annotations ?? {}, { 'piggysec.com/image-skip-verify-registry': 'false', 'piggysec.com/piggy-dns-resolver': '' });
  t.true((await handleAdmission(buildReview(pod), buildDeps())).response.allowed, 'values that ask for nothing pass');
  t.false('PIGGY_DNS_RESOLVER' in envOf(container(mutatedPod(pod, await handleAdmission(buildReview(pod), buildDeps())), 'app')));
});
