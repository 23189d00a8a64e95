// Every refusal of POST /secret against the real API server and moto, over real HTTPS: another pod's
// token, a token bound to a deleted pod, no pod binding, wrong/empty/unknown signature, enforce-integrity
// false, a secret outside the namespace policy (no AWS call), PIGGY_ALLOWED_SA, enforce-service-account,
// unauthenticated callers (no names), audiences, oversized and malformed bodies. A canary never leaks.
import test, { type ExecutionContext } from 'ava';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { FOREIGN_ACCOUNT, MOTO_ACCOUNT } from '../helpers/aws-account.ts';
import { createSecretVersions, secretArnOf } from '../helpers/aws.ts';
import { createTestNamespace, kube } from '../helpers/kube.ts';
import {
  createPiggyPod,
  createServiceAccount,
  newContainerUid,
  podToken,
  proxyKubeConfig,
  requestFor,
  signedContainer,
  startProxy,
  type Reply,
  type RunningProxy,
} from '../helpers/proxy.ts';
import { eventually } from '../helpers/stack.ts';

const CANARY = 'canary-5e2d-proxy-refusal-value';
let proxy: RunningProxy;
let namespace: string;
let other: string;
const replies: Reply[] = [];

test.before(async (t) => {
  namespace = await createTestNamespace(t, 'proxy-refuse');
  other = await createTestNamespace(t, 'proxy-other');
  await createServiceAccount(namespace, 'app');
  await createServiceAccount(namespace, 'intruder');
  await createSecretVersions(`${namespace}/app`, [JSON.stringify({ SECRET: CANARY, PIGGY_ALLOWED_SA: `${namespace}:app` })]);
  await createSecretVersions(`${other}/bank`, [JSON.stringify({ SECRET: CANARY })]);
  proxy = await startProxy(undefined, await proxyKubeConfig(namespace), { tokenReviewCacheTtlMs: 30_000 });
});

test.after.always('stop the proxy', async () => {
  await proxy.close();
});

test.after.always('no secret value in any log line or answer', (t) => {
  t.false(proxy.logs().includes(CANARY));
  for (const reply of replies.filter((item) => item.status !== 200)) t.false(reply.body.includes(CANARY), reply.body);
});

async function send(token: string | undefined, body: unknown, headers?: Record<string, string>): Promise<Reply> {
  const reply = await proxy.send(token, body, headers);
  replies.push(reply);
  return reply;
}

function refused(t: ExecutionContext, reply: Reply, status: number, code: string): void {
  t.is(reply.status, status, reply.body);
  t.is(reply.json().code, code, reply.body);
  t.is(typeof reply.json().message, 'string');
  t.false(reply.body.includes(CANARY));
}

test('another pod\'s token: bound to pod A, the request names pod B', async (t) => {
  const a = await createPiggyPod(namespace, { serviceAccount: 'app' });
  const b = await createPiggyPod(namespace, { serviceAccount: 'app' });
  refused(t, await send(await podToken(a), requestFor(b)), 403, 'ERR_PROXY_POD_MISMATCH');
  t.is((await send(await podToken(b), requestFor(b))).status, 200, 'B\'s own token works');
});

test('a token bound to a deleted pod: 401 from the API server; a cached review still meets the pod check (403)', async (t) => {
  const used = await createPiggyPod(namespace, { serviceAccount: 'app' });
  const usedToken = await podToken(used);
  t.is((await send(usedToken, requestFor(used))).status, 200); // now in the review cache
  const fresh = await createPiggyPod(namespace, { serviceAccount: 'app' });
  const freshToken = await podToken(fresh);
  await kube().core.deleteNamespacedPod({ name: used.name, namespace, gracePeriodSeconds: 0 });
  await kube().core.deleteNamespacedPod({ name: fresh.name, namespace, gracePeriodSeconds: 0 });
  refused(t, await send(usedToken, requestFor(used)), 403, 'ERR_PROXY_POD_MISMATCH');
  await eventually(async () => {
    const reply = await send(freshToken, requestFor(fresh));
    if (reply.status !== 401) throw new Error(`still ${reply.status}`);
  });
  const last = replies.at(-1)!;
  refused(t, last, 401, 'ERR_PROXY_UNAUTHENTICATED');
  t.false(last.body.includes(fresh.name) || last.body.includes(namespace), 'no names to an unauthenticated caller');
});

test('a pod re-created under the same name does not accept the old pod\'s token', async (t) => {
  const first = await createPiggyPod(namespace, { serviceAccount: 'app' });
  const token = await podToken(first);
  t.is((await send(token, requestFor(first))).status, 200);
  await kube().core.deleteNamespacedPod({ name: first.name, namespace, gracePeriodSeconds: 0 });
  const again = await eventually(() => createPiggyPod(namespace, { serviceAccount: 'app', name: first.name, containers: first.containers }));
  t.not(again.uid, first.uid);
  refused(t, await send(token, requestFor(again)), 403, 'ERR_PROXY_POD_MISMATCH');
});

test('a service-account token not bound to a pod is refused', async (t) => {
  const pod = await createPiggyPod(namespace, { serviceAccount: 'app' });
  const issued = await kube().core.createNamespacedServiceAccountToken({ name: 'app', namespace, body: { spec: { expirationSeconds: 600 } } });
  refused(t, await send(issued.status?.token, requestFor(pod)), 403, 'ERR_PROXY_TOKEN_NOT_BOUND');
});

test('integrity: wrong, empty, another container\'s and unknown signatures never pass', async (t) => {
  const mine = signedContainer(newContainerUid(), ['/app/server']);
  const sidecar = signedContainer(newContainerUid(), ['/bin/sh', '-c', 'cat /secrets']);
  const pod = await createPiggyPod(namespace, { serviceAccount: 'app', containers: [mine, sidecar] });
  const token = await podToken(pod);
  const base = { name: pod.name, uid: mine.uid };
  refused(t, await send(token, { ...base, signature: 'f'.repeat(64) }), 403, 'ERR_PROXY_INTEGRITY');
  refused(t, await send(token, { ...base, signature: '' }), 403, 'ERR_PROXY_INTEGRITY');
  refused(t, await send(token, { ...base, signature: sidecar.signature }), 403, 'ERR_PROXY_INTEGRITY');
  refused(t, await send(token, { name: pod.name, uid: newContainerUid(), signature: '' }), 403, 'ERR_PROXY_INTEGRITY');
  refused(t, await send(token, { name: pod.name, uid: newContainerUid() }), 403, 'ERR_PROXY_INTEGRITY');
  t.is((await send(token, { ...base, signature: mine.signature })).status, 200);
  t.is((await send(token, { name: pod.name, uid: sidecar.uid, signature: sidecar.signature })).status, 200);
});

test('a container without an admission record is refused (ERR_PROXY_NOT_ADMITTED); the piggy-uid annotation alone proves nothing', async (t) => {
  const pod = await createPiggyPod(namespace, { serviceAccount: 'app', withoutRecord: true });
  refused(t, await send(await podToken(pod), requestFor(pod)), 403, 'ERR_PROXY_NOT_ADMITTED');
  const blanked = await createPiggyPod(namespace, { serviceAccount: 'app', annotations: { 'piggysec.com/piggy-uid': '' } });
  t.is((await send(await podToken(blanked), requestFor(blanked))).status, 200, 'the record, not the annotation, holds the signature');
});

test('PROXY_ACCEPT_LEGACY_PODS: a pod admitted by an older piggy (automounted token, no record) is served from its annotations', async (t) => {
  const legacy = await startProxy(t, await proxyKubeConfig(namespace), { audiences: ['piggysec.com'], acceptLegacyPods: true });
  const pod = await createPiggyPod(namespace, { serviceAccount: 'app', withoutRecord: true });
  const reply = await legacy.send(await podToken(pod), requestFor(pod));
  t.is(reply.status, 200, reply.body);
  t.like(legacy.logLines().find((line) => line.msg === 'secret request' && line.pod === pod.name), { legacy: 'token,annotations' });
  const noAnnotation = await createPiggyPod(namespace, { serviceAccount: 'app', withoutRecord: true, annotations: { 'piggysec.com/piggy-uid': '' } });
  const unsigned = await legacy.send(await podToken(noAnnotation), requestFor(noAnnotation));
  t.is(unsigned.status, 403, unsigned.body);
  t.is(unsigned.json().code, 'ERR_PROXY_INTEGRITY', 'the legacy path still needs the piggy-uid annotation');
  t.false(legacy.logs().includes(CANARY));
});

test('annotations patched after admission redirect nothing: /secret reads the secret admission recorded', async (t) => {
  await createSecretVersions(`${namespace}/elsewhere`, [JSON.stringify({ SECRET: 'patched-target' })]);
  const pod = await createPiggyPod(namespace, { serviceAccount: 'app' });
  // No ValidatingAdmissionPolicy in this namespace's way: the patch itself goes through.
  await kube().core.patchNamespacedPod(
    { namespace, name: pod.name, body: { metadata: { annotations: { 'piggysec.com/aws-secret-name': `${namespace}/elsewhere`, 'piggysec.com/piggy-enforce-integrity': 'false' } } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  const reply = await send(await podToken(pod), requestFor(pod));
  t.is(reply.status, 200, reply.body);
  t.is(reply.json().SECRET, CANARY, 'the recorded secret');
  refused(t, await send(await podToken(pod), requestFor(pod, pod.containers[0], { signature: '' })), 403, 'ERR_PROXY_INTEGRITY');
});

test('piggy-enforce-integrity "false" relaxes only the signature: the uid must still be the pod\'s', async (t) => {
  const pod = await createPiggyPod(namespace, { serviceAccount: 'app', annotations: { 'piggysec.com/piggy-enforce-integrity': 'false' } });
  const token = await podToken(pod);
  t.is((await send(token, { name: pod.name, uid: pod.containers[0]!.uid, signature: '' })).status, 200);
  t.is((await send(token, { name: pod.name, uid: pod.containers[0]!.uid, signature: 'a'.repeat(64) })).status, 200);
  refused(t, await send(token, { name: pod.name, uid: newContainerUid(), signature: '' }), 403, 'ERR_PROXY_INTEGRITY');
});

test.serial('a secret outside the namespace policy: 403 and no AWS call, even though it exists', async (t) => {
  const before = await proxy.metric('piggy_aws_calls_total');
  const cases: Record<string, string>[] = [
    { 'piggysec.com/aws-secret-name': `${other}/bank` },
    { 'piggysec.com/aws-secret-name': `arn:aws:secretsmanager:us-east-1:123456789012:secret:${other}/bank-AbCdEf` },
    { 'piggysec.com/aws-ssm-parameter-path': `/${other}` },
    { 'piggysec.com/piggy-default-secret-name-prefix': `${other}/` },
  ];
  for (const annotations of cases) {
    const pod = await createPiggyPod(namespace, { serviceAccount: 'app', annotations });
    const reply = await send(await podToken(pod), requestFor(pod));
    refused(t, reply, 403, 'ERR_PROXY_POLICY_DENIED');
  }
  t.is(await proxy.metric('piggy_aws_calls_total'), before, 'no AWS call was made');
});

test.serial('an ARN in another account: 403 and no AWS call, though its name is the namespace\'s; the own account\'s ARN is served', async (t) => {
  const arn = await secretArnOf(`${namespace}/app`);
  t.true(arn.includes(`:${MOTO_ACCOUNT}:`), arn);
  const before = await proxy.metric('piggy_aws_calls_total');
  const foreign = await createPiggyPod(namespace, { serviceAccount: 'app', annotations: { 'piggysec.com/aws-secret-name': arn.replace(`:${MOTO_ACCOUNT}:`, `:${FOREIGN_ACCOUNT}:`) } });
  refused(t, await send(await podToken(foreign), requestFor(foreign)), 403, 'ERR_PROXY_POLICY_DENIED');
  t.is(await proxy.metric('piggy_aws_calls_total'), before, 'no AWS call was made');
  const own = await createPiggyPod(namespace, { serviceAccount: 'app', annotations: { 'piggysec.com/aws-secret-name': arn } });
  t.is((await send(await podToken(own), requestFor(own))).status, 200);
});

test('PIGGY_ALLOWED_SA: a service account that is not listed is refused', async (t) => {
  const pod = await createPiggyPod(namespace, { serviceAccount: 'intruder', annotations: { 'piggysec.com/aws-secret-name': `${namespace}/app` } });
  refused(t, await send(await podToken(pod), requestFor(pod)), 403, 'ERR_PROXY_SA_NOT_ALLOWED');
});

test('piggy-enforce-service-account: a secret without PIGGY_ALLOWED_SA is refused', async (t) => {
  const secret = `${namespace}/unlisted`;
  await createSecretVersions(secret, [JSON.stringify({ SECRET: CANARY })]);
  const open = await createPiggyPod(namespace, { serviceAccount: 'app', annotations: { 'piggysec.com/aws-secret-name': secret } });
  t.is((await send(await podToken(open), requestFor(open))).status, 200, 'allowed when not enforced');
  const enforced = await createPiggyPod(namespace, {
    serviceAccount: 'app',
    annotations: { 'piggysec.com/aws-secret-name': secret, 'piggysec.com/piggy-enforce-service-account': 'true' },
  });
  refused(t, await send(await podToken(enforced), requestFor(enforced)), 403, 'ERR_PROXY_SA_NOT_ALLOWED');
});

test('unauthenticated: no token, a garbage token, a forged JWT → 401 naming nothing', async (t) => {
  const pod = await createPiggyPod(namespace, { serviceAccount: 'app' });
  const forged = `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: `system:serviceaccount:${namespace}:app` })).toString('base64url')}.AAAA`;
  for (const token of [undefined, 'garbage', forged]) {
    const reply = await send(token, requestFor(pod));
    refused(t, reply, 401, 'ERR_PROXY_UNAUTHENTICATED');
    t.false(reply.body.includes(pod.name) || reply.body.includes(namespace) || reply.body.includes('app'), reply.body);
  }
});

test('bodies: oversized → 413, malformed JSON → 400, missing fields → 400, wrong method → 405', async (t) => {
  const pod = await createPiggyPod(namespace, { serviceAccount: 'app' });
  const token = await podToken(pod);
  refused(t, await send(token, JSON.stringify({ ...requestFor(pod), padding: 'x'.repeat(64 * 1024) })), 413, 'ERR_PROXY_BODY_TOO_LARGE');
  refused(t, await send(token, '{"name": "x",'), 400, 'ERR_PROXY_BAD_REQUEST');
  refused(t, await send(token, { uid: pod.containers[0]!.uid }), 400, 'ERR_PROXY_BAD_REQUEST');
  refused(t, await send(token, requestFor(pod), { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'ERR_PROXY_UNSUPPORTED_MEDIA_TYPE');
  const get = await proxy.send(token, '', {}, 'GET');
  t.is(get.status, 405);
});

test('audiences: a proxy that demands its own audience refuses the default token and accepts its own', async (t) => {
  const strict = await startProxy(t, await proxyKubeConfig(namespace), { audiences: ['piggy-proxy'] });
  const pod = await createPiggyPod(namespace, { serviceAccount: 'app' });
  const wrong = await strict.send(await podToken(pod), requestFor(pod));
  t.is(wrong.status, 401, wrong.body);
  t.is(wrong.json().code, 'ERR_PROXY_TOKEN_AUDIENCE', 'the automounted token gets its own refusal');
  t.regex(String(wrong.json().message), /not issued for audience piggy-proxy.*automounted/);
  t.notRegex(wrong.body, new RegExp(`${namespace}|${pod.name}`), 'naming nothing of the caller');
  const right = await strict.send(await podToken(pod, ['piggy-proxy']), requestFor(pod));
  t.is(right.status, 200, right.body);
  t.false(strict.logs().includes(CANARY));
});

test('each refusal was logged once at info with its code, the token never', async (t) => {
  const pod = await createPiggyPod(namespace, { serviceAccount: 'app' });
  const token = await podToken(pod);
  await send(token, { ...requestFor(pod), signature: '' });
  const lines = proxy.logLines().filter((line) => line.msg === 'secret request' && line.pod === pod.name);
  t.is(lines.length, 1);
  t.like(lines[0], { level: 'info', namespace, serviceAccount: 'app', status: 403, code: 'ERR_PROXY_INTEGRITY', result: 'integrity' });
  t.false(proxy.logs().includes(token), 'the token is never logged');
});
