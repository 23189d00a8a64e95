// POST /secret end to end over real HTTPS: real TokenReviews of pod-bound tokens (TokenRequest),
// the proxy running as a least-privilege service account (tokenreviews create, pods get), the shared
// secret source on moto. What a pod gets: by default name and AWSCURRENT, by VersionId, by stage, by
// SSM path (nested, paginated), keys filtering, control keys stripped.
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import test from 'ava';
import { createSecretVersions } from '../helpers/aws.ts';
import { createTestNamespace } from '../helpers/kube.ts';
import {
  createPiggyPod,
  createServiceAccount,
  podToken,
  proxyKubeConfig,
  requestFor,
  startProxy,
  type RunningProxy,
} from '../helpers/proxy.ts';

const CANARY = 'canary-3f9a-proxy-secret-value';
let proxy: RunningProxy;
let namespace: string;
const bodies: string[] = [];

test.before(async (t) => {
  namespace = await createTestNamespace(t, 'proxy-secret');
  await createServiceAccount(namespace, 'app');
  proxy = await startProxy(undefined, await proxyKubeConfig(namespace));
});

test.after.always('stop the proxy', async () => {
  await proxy.close();
});

test.after.always('no secret value in any log line', (t) => {
  t.false(proxy.logs().includes(CANARY), 'the canary is not in the log');
  t.true(proxy.logs().includes('"msg":"secret request"'), 'the log was captured');
  for (const body of bodies) t.false(body.includes(CANARY), 'the canary is not in an error body');
});

async function ask(pod: Awaited<ReturnType<typeof createPiggyPod>>, extra: Record<string, unknown> = {}) {
  const reply = await proxy.send(await podToken(pod), requestFor(pod, pod.containers[0], extra));
  if (reply.status !== 200) bodies.push(reply.body);
  return reply;
}

test('default secret name by AWSCURRENT: every key but the control keys', async (t) => {
  await createSecretVersions(`${namespace}/app`, [
    JSON.stringify({ DB_PASSWORD: CANARY, DB_USER: 'app', PORT: 5432, PIGGY_ALLOWED_SA: `${namespace}:app`, PIGGY_DEBUG: 'true', PIGGY_AWS_SECRET_NAME: 'x' }),
  ]);
  const pod = await createPiggyPod(namespace, { serviceAccount: 'app' });
  const reply = await ask(pod);
  t.is(reply.status, 200, reply.body);
  t.deepEqual(reply.json(), { DB_PASSWORD: CANARY, DB_USER: 'app', PORT: '5432' });
  t.is(reply.headers['cache-control'], 'no-store');
  const line = proxy.logLines().find((entry) => entry.msg === 'secret request' && entry.pod === pod.name);
  t.like(line, { level: 'info', namespace, serviceAccount: 'app', secret: `${namespace}/app`, version: 'stage:AWSCURRENT', status: 200, result: 'ok', keys: 3 });
});

test('keys: only the named keys come back, missing ones are absent, control keys never', async (t) => {
  const secret = `${namespace}/keys`;
  await createSecretVersions(secret, [JSON.stringify({ A: CANARY, B: 'b', C: 'c', PIGGY_ALLOWED_SA: `${namespace}:app` })]);
  const pod = await createPiggyPod(namespace, { serviceAccount: 'app', annotations: { 'piggysec.com/aws-secret-name': secret } });
  const reply = await ask(pod, { keys: ['B', 'MISSING', 'PIGGY_ALLOWED_SA'] });
  t.is(reply.status, 200, reply.body);
  t.deepEqual(reply.json(), { B: 'b' });
});

test('aws-secret-version: a VersionId reads that version, a stage label the labelled one', async (t) => {
  const secret = `${namespace}/versions`;
  const [first, second] = await createSecretVersions(secret, [JSON.stringify({ V: 'one' }), JSON.stringify({ V: 'two' })]);
  const byId = await createPiggyPod(namespace, {
    serviceAccount: 'app',
    annotations: { 'piggysec.com/aws-secret-name': secret, 'piggysec.com/aws-secret-version': first ?? '' },
  });
  t.deepEqual((await ask(byId)).json(), { V: 'one' });
  const byPrevious = await createPiggyPod(namespace, {
    serviceAccount: 'app',
    annotations: { 'piggysec.com/aws-secret-name': secret, 'piggysec.com/aws-secret-version': 'AWSPREVIOUS' },
  });
  t.deepEqual((await ask(byPrevious)).json(), { V: 'one' });
  const byCurrent = await createPiggyPod(namespace, { serviceAccount: 'app', annotations: { 'piggysec.com/aws-secret-name': secret } });
  t.deepEqual((await ask(byCurrent)).json(), { V: 'two' });
  const explicitId = await createPiggyPod(namespace, {
    serviceAccount: 'app',
    annotations: { 'piggysec.com/aws-secret-name': secret, 'piggysec.com/aws-secret-version': `id:${second ?? ''}` },
  });
  t.deepEqual((await ask(explicitId)).json(), { V: 'two' });
  const missing = await createPiggyPod(namespace, {
    serviceAccount: 'app',
    annotations: { 'piggysec.com/aws-secret-name': secret, 'piggysec.com/aws-secret-version': '00000000-0000-0000-0000-000000000000' },
  });
  const reply = await ask(missing);
  t.is(reply.status, 404);
  t.is(reply.json().code, 'ERR_PROXY_VERSION_NOT_FOUND');
});

test('a missing secret is 404 naming the secret (the caller is authenticated)', async (t) => {
  const pod = await createPiggyPod(namespace, { serviceAccount: 'app', annotations: { 'piggysec.com/aws-secret-name': `${namespace}/nothing-here` } });
  const reply = await ask(pod);
  t.is(reply.status, 404);
  t.deepEqual(reply.json(), { code: 'ERR_PROXY_SECRET_NOT_FOUND', message: `secret "${namespace}/nothing-here" was not found` });
});

test('a plain-text SecretString comes back under "data"', async (t) => {
  const secret = `${namespace}/plain`;
  await createSecretVersions(secret, ['just-a-token']);
  const pod = await createPiggyPod(namespace, { serviceAccount: 'app', annotations: { 'piggysec.com/aws-secret-name': secret } });
  t.deepEqual((await ask(pod)).json(), { data: 'just-a-token' });
});

test('SSM path: recursive, decrypted, last path element as key, every page, control keys stripped', async (t) => {
  const path = `/${namespace}/app`;
  const ssm = new SSMClient({});
  t.teardown(() => ssm.destroy());
  const parameters: [string, string, 'String' | 'SecureString'][] = [
    [`${path}/DB_HOST`, 'db.internal', 'String'],
    [`${path}/DB_PASSWORD`, CANARY, 'SecureString'],
    [`${path}/nested/deeper/DEEP_KEY`, 'deep', 'String'],
    [`${path}/PIGGY_ALLOWED_SA`, `${namespace}:app`, 'String'],
    ...Array.from({ length: 12 }, (_v, index): [string, string, 'String'] => [`${path}/bulk/K${index}`, `v${index}`, 'String']),
  ];
  for (const [name, value, type] of parameters) await ssm.send(new PutParameterCommand({ Name: name, Value: value, Type: type }));
  const pod = await createPiggyPod(namespace, { serviceAccount: 'app', annotations: { 'piggysec.com/aws-ssm-parameter-path': path } });
  const before = await proxy.metric('piggy_aws_calls_total', { api: 'GetParametersByPath' });
  const reply = await ask(pod);
  t.is(reply.status, 200, reply.body);
  const body = reply.json();
  t.like(body, { DB_HOST: 'db.internal', DB_PASSWORD: CANARY, DEEP_KEY: 'deep', K0: 'v0', K11: 'v11' });
  t.is(Object.keys(body).length, 15);
  t.false('PIGGY_ALLOWED_SA' in body);
  t.true((await proxy.metric('piggy_aws_calls_total', { api: 'GetParametersByPath' })) - before >= 2, '16 parameters take at least two pages');
  const line = proxy.logLines().find((entry) => entry.msg === 'secret request' && entry.pod === pod.name);
  t.like(line, { secret: path, result: 'ok', keys: 15 });
});

test.serial('the same pod and token asked twice: the second answer comes from the caches (no AWS call)', async (t) => {
  const secret = `${namespace}/twice`;
  await createSecretVersions(secret, [JSON.stringify({ A: 'a' })]);
  const pod = await createPiggyPod(namespace, { serviceAccount: 'app', annotations: { 'piggysec.com/aws-secret-name': secret } });
  const token = await podToken(pod);
  t.is((await proxy.send(token, requestFor(pod))).status, 200);
  const calls = await proxy.metric('piggy_aws_calls_total', { api: 'GetSecretValue' });
  t.is((await proxy.send(token, requestFor(pod))).status, 200);
  t.is(await proxy.metric('piggy_aws_calls_total', { api: 'GetSecretValue' }), calls);
});
