// The whole injection path with real processes: a Pod created through the real API server, mutated
// by the real webhook (`piggy controller`), then run by the test kubelet (test/helpers/kubelet.ts):
// `install-piggy-env` from the piggy-env image root, then each container's command and env in a root
// holding only a static busybox and the launcher volume — no Node.js — with a pod-bound token from
// TokenRequest. The launcher calls the same controller's /secret (real TokenReview, pod binding,
// integrity, policy) or, in standalone mode, STS + Secrets Manager on the AWS emulator.
// Apps print sha256 digests of what they received, so no value is printed anywhere; a canary is
// checked against every output at the end.
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import test, { type ExecutionContext } from 'ava';
import { createSandbox, sandboxProblems, type RootResult, type Sandbox } from '../../bench/env/sandbox.ts';
import { ensurePiggyEnvBuild, IMAGE_LAUNCHER_DIR } from '../../scripts/build-piggy-env.ts';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { createSecretVersions } from '../helpers/aws.ts';
import { freePort } from '../../scripts/local/procs.ts';
import { APP_IMAGE, digestScript, lines, mustGet, sha256, shell } from '../helpers/launch.ts';
import { podIdentityPatch } from '../helpers/pod-identity.ts';
import { createKubelet, type ContainerOverride, type Kubelet, type PodRun } from '../helpers/kubelet.ts';
import { createTestNamespace, kube } from '../helpers/kube.ts';
import { awsEnv, eventually, uniqueName } from '../helpers/stack.ts';
import { makeServingCertificate } from '../helpers/tls.ts';
import { createPodDenied, createScope, ENV_IMAGE, startPatchingWebhook, startWebhookController, type WebhookController } from '../helpers/webhook.ts';

const CANARY = 'canary-7f3e91b2-launch-e2e-value';
const problems = sandboxProblems();
if (problems.length > 0) console.warn(`proxy-launch: SKIPPED — this machine lacks: ${problems.join(', ')}`);
const sandboxTest = problems.length === 0 ? test : test.skip;
/** For tests that compare the controller's counters: ava runs serial tests before the concurrent ones. */
const sandboxSerial = problems.length === 0 ? test.serial : test.skip;

const scope = createScope();
let controller: WebhookController;
let sandbox: Sandbox;
let kubelet: Kubelet;
let namespace: string;
/** Every stdout/stderr of a launcher or app process, for the canary check. */
const outputs: string[] = [];


test.before(async (t) => {
  if (problems.length > 0) return;
  namespace = await createTestNamespace(t, 'launch');
  for (const name of ['app', 'other']) await kube().core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  await createSecretVersions(`${namespace}/app`, [JSON.stringify({ db: CANARY, api: 'api-value', user: 'app-user' })]);
  await createSecretVersions(`${namespace}/restricted`, [JSON.stringify({ db: CANARY, PIGGY_ALLOWED_SA: `${namespace}:other` })]);
  const build = await ensurePiggyEnvBuild();
  const launcherDir = join(build.imageRoot, IMAGE_LAUNCHER_DIR.slice(1));
  sandbox = await createSandbox(launcherDir);
  scope.teardown(() => sandbox.dispose());
  kubelet = createKubelet(join(sandbox.base, 'pods'), {
    [ENV_IMAGE]: {
      root: sandbox.imageRoot,
      entrypoint: [`${IMAGE_LAUNCHER_DIR}/piggy-env`],
      user: '65532:65532',
      binds: [{ source: launcherDir, target: IMAGE_LAUNCHER_DIR, readOnly: true }],
    },
    [APP_IMAGE]: { root: sandbox.appRoot, cmd: ['/bin/busybox', 'sh'], env: { PATH: '/bin' }, user: '1000:1000' },
  });
  // The webhook injects PIGGY_ADDRESS from the controller's default: this very process, on loopback.
  const port = await freePort();
  controller = await startWebhookController(scope, {
    namespace,
    env: { LISTEN_ADDRESS: `127.0.0.1:${port}`, PIGGY_ADDRESS: `https://127.0.0.1:${port}` },
  });
});

test.after.always('stop the controller, remove the roots', () => scope.close());

test.after.always('the canary never appears in the controller\'s log or any process output', (t) => {
  if (problems.length > 0) return; // the tests were skipped, loudly (see above): nothing ran to check
  t.true(controller.output().includes(namespace), 'the controller logged about the namespace (the check is not vacuous)');
  t.false(controller.output().includes(CANARY), 'canary in the controller output');
  t.true(outputs.length > 10);
  for (const output of outputs) t.false(output.includes(CANARY), 'canary in a launcher or app output');
});


const SECRET_ENV = { DB_PASSWORD: 'piggy:db', ALIAS: 'piggy:db', API_KEY: 'piggy:api\n', PLAIN: 'plain', GREETING: 'hello' };

async function createPod(spec: { annotations?: Record<string, string>; serviceAccount?: string; initContainers?: unknown[]; containers: unknown[]; volumes?: unknown[] }, ns = namespace): Promise<V1Pod> {
  const pod = {
    metadata: { name: uniqueName('app'), namespace: ns, annotations: { 'piggysec.com/aws-secret-name': `${ns}/app`, ...spec.annotations } },
    spec: {
      serviceAccountName: spec.serviceAccount ?? 'app',
      ...(spec.initContainers === undefined ? {} : { initContainers: spec.initContainers }),
      containers: spec.containers,
      ...(spec.volumes === undefined ? {} : { volumes: spec.volumes }),
    },
  };
  const created = await kube().core.createNamespacedPod({ namespace: ns, body: pod as V1Pod });
  return kube().core.readNamespacedPod({ namespace: ns, name: created.metadata?.name ?? '' });
}

/** Runs the pod to completion; every output is kept for the canary check. */
async function runToEnd(t: ExecutionContext, pod: V1Pod, overrides?: Readonly<Record<string, ContainerOverride>>): Promise<{ run: PodRun; results: Map<string, RootResult> }> {
  const run = await kubelet.runPod(pod, overrides);
  const results = await run.finished();
  for (const item of [...run.init, ...results.values()]) outputs.push(item.stdout, item.stderr);
  t.teardown(() => run.dispose());
  return { run, results };
}


async function proxyResults(): Promise<Record<string, number>> {
  const text = await controller.metrics();
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(/^piggy_proxy_requests_total\{result="([^"]+)"\} (\d+)/gm)) counts[match[1] ?? ''] = Number(match[2]);
  return counts;
}


sandboxTest('a mutated pod runs: every wrapped container gets its values through /secret, as the launcher\'s PID, without PIGGY_*', async (t) => {
  const pod = await createPod({
    initContainers: [shell('migrate', digestScript(['DB_PASSWORD']), { DB_PASSWORD: 'piggy:db' })],
    containers: [
      // $(GREETING) and $(POD) are the kubelet's references in args: the webhook escapes them, the launcher expands them.
      shell('web', digestScript(Object.keys(SECRET_ENV), 'echo "arg1=$1"; echo "arg2=$2"'), { ...SECRET_ENV, POD: { fieldPath: 'metadata.name' } }, ['$(GREETING)', '$(POD)']),
      shell('worker', digestScript(['API_KEY', 'USER_NAME']), { API_KEY: 'piggy:api', USER_NAME: 'piggy:user' }),
    ],
  });
  t.deepEqual(pod.spec?.initContainers?.map((item) => item.name), ['install-piggy-env', 'migrate'], 'mutated by the webhook');
  const { run, results } = await runToEnd(t, pod);
  t.deepEqual(run.init.map((item) => [item.name, item.code]), [['install-piggy-env', 0], ['migrate', 0]], run.init.map((item) => item.stderr).join('\n'));
  t.is(lines(run.init[1]?.stdout ?? '').DB_PASSWORD, sha256(CANARY), 'the init container got its value');
  const web = mustGet(results, 'web');
  t.is(web.code, 0, web.stderr);
  const got = lines(web.stdout);
  t.is(got.pid, String(web.pid), 'the app runs with the launcher\'s PID');
  t.is(got.DB_PASSWORD, sha256(CANARY));
  t.is(got.ALIAS, sha256(CANARY), 'aliasing: the variable keeps its own name');
  t.is(got.API_KEY, sha256('api-value'), 'a trailing newline after the reference is tolerated');
  t.is(got.PLAIN, sha256('plain'));
  t.is(got.piggy_vars, '0', 'no PIGGY_* variable reaches the app');
  t.is(got.arg1, 'hello', '$(GREETING) in args expanded once, by the launcher');
  t.is(got.arg2, pod.metadata?.name, '$(POD) (downward API) expanded');
  const worker = mustGet(results, 'worker');
  t.is(worker.code, 0, worker.stderr);
  t.deepEqual([lines(worker.stdout).API_KEY, lines(worker.stdout).USER_NAME], [sha256('api-value'), sha256('app-user')]);
  t.regex(web.stderr, /"msg":"starting the app"/);
});

sandboxTest('exit codes and signals are the app\'s', async (t) => {
  const pod = await createPod({
    containers: [
      shell('fails', 'exit 42', { DB_PASSWORD: 'piggy:db' }),
      shell('serves', 'echo ready; exec /bin/busybox sleep 600', { DB_PASSWORD: 'piggy:db' }),
    ],
  });
  const run = await kubelet.runPod(pod);
  t.teardown(() => run.dispose());
  const serving = mustGet(run.containers, 'serves');
  await eventually(async () => {
    if (!serving.stdout().includes('ready')) throw new Error('not ready');
  });
  process.kill(serving.pid, 'SIGTERM');
  const results = await run.finished();
  for (const item of results.values()) outputs.push(item.stdout, item.stderr);
  t.is(mustGet(results, 'fails').code, 42);
  t.is(mustGet(results, 'serves').signal, 'SIGTERM', 'the signal reached the app, which is the process the kubelet started');
});

sandboxSerial('standalone mode: the kubelet projects the IRSA token, the launcher assumes the role on STS and reads Secrets Manager (exit 0)', async (t) => {
  const aws = awsEnv();
  const before = await proxyResults();
  const pod = await createPod({
    annotations: { 'piggysec.com/standalone': 'true' },
    containers: [
      {
        ...shell('app', digestScript(['DB_PASSWORD', 'USER_NAME']), { DB_PASSWORD: 'piggy:db', USER_NAME: 'piggy:user' }),
        env: [
          { name: 'DB_PASSWORD', value: 'piggy:db' },
          { name: 'USER_NAME', value: 'piggy:user' },
          // What EKS's pod identity webhook adds, plus the emulator's endpoint.
          { name: 'AWS_ROLE_ARN', value: 'arn:aws:iam::123456789012:role/piggy-e2e-app' },
          { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token' },
          { name: 'AWS_REGION', value: aws.AWS_REGION ?? 'us-east-1' },
          { name: 'AWS_ENDPOINT_URL', value: aws.AWS_ENDPOINT_URL ?? '' },
        ],
        volumeMounts: [{ name: 'aws-iam-token', mountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount', readOnly: true }],
      },
    ],
    volumes: [{ name: 'aws-iam-token', projected: { sources: [{ serviceAccountToken: { audience: 'sts.amazonaws.com', expirationSeconds: 3600, path: 'token' } }] } }],
  });
  const { results } = await runToEnd(t, pod);
  const app = mustGet(results, 'app');
  t.is(app.code, 0, app.stderr);
  t.deepEqual([lines(app.stdout).DB_PASSWORD, lines(app.stdout).USER_NAME], [sha256(CANARY), sha256('app-user')]);
  t.is(lines(app.stdout).piggy_vars, '0');
  t.deepEqual(await proxyResults(), before, 'the proxy was not asked');
});

sandboxTest('file mode (secrets.k8s.aws/*), next to a pod identity webhook: the init container writes the file with the pod\'s role, the app reads it', async (t) => {
  const ns = await createTestNamespace(t, 'launch-files');
  await kube().core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'app' } } });
  const registration = await controller.register(t, ns);
  // Named to run after piggy's configuration: reinvocation must still give piggy's init container the role.
  await startPatchingWebhook(t, { name: `zz-${uniqueName('pod-identity')}`, namespace: ns, namespaceSelector: registration.namespaceSelector, patch: (pod) => podIdentityPatch(pod, 'arn:aws:iam::123456789012:role/piggy-e2e-files', awsEnv()) });
  const client = new SecretsManagerClient({});
  t.teardown(() => client.destroy());
  const created = await client.send(new CreateSecretCommand({ Name: `${ns}/file`, SecretString: `-----BEGIN KEY-----\n${CANARY}\n` }));
  const body = {
    metadata: { name: uniqueName('files'), namespace: ns, annotations: { 'secrets.k8s.aws/secret-arn': created.ARN ?? '', 'secrets.k8s.aws/mount-path': '/tmp/secrets' } },
    spec: {
      serviceAccountName: 'app',
      securityContext: { runAsUser: 1000, runAsGroup: 1000 },
      containers: [shell('app', 'echo "file=$(/bin/busybox sha256sum /tmp/secrets/secret | /bin/busybox cut -c1-64)"; /bin/busybox stat -c "mode=%a owner=%u" /tmp/secrets/secret', {})],
    },
  };
  const stored = await kube().core.createNamespacedPod({ namespace: ns, body: body });
  const pod = await kube().core.readNamespacedPod({ namespace: ns, name: stored.metadata?.name ?? '' });
  t.deepEqual(pod.spec?.initContainers?.map((item) => item.name), ['piggy-secret-files']);
  t.true(pod.spec?.initContainers?.[0]?.env?.some((item) => item.name === 'AWS_ROLE_ARN'), 'the pod identity webhook gave piggy\'s init container the role');
  const { run, results } = await runToEnd(t, pod);
  t.deepEqual(run.init.map((item) => [item.name, item.code]), [['piggy-secret-files', 0]], run.init[0]?.stderr);
  const app = mustGet(results, 'app');
  t.is(app.code, 0, app.stderr);
  t.is(lines(app.stdout).file, sha256(`-----BEGIN KEY-----\n${CANARY}\n`), 'the SecretString verbatim');
  t.is(lines(app.stdout).mode, '400 owner=1000', 'readable by the app\'s user only');
});

sandboxTest('SSM Parameter Store by path in proxy mode: the last path element is the key, SecureStrings decrypted', async (t) => {
  const ssm = new SSMClient({});
  t.teardown(() => ssm.destroy());
  await ssm.send(new PutParameterCommand({ Name: `/${namespace}/ssm/db/password`, Value: CANARY, Type: 'SecureString' }));
  await ssm.send(new PutParameterCommand({ Name: `/${namespace}/ssm/user`, Value: 'ssm-user', Type: 'String' }));
  const pod = await createPod({
    annotations: { 'piggysec.com/aws-ssm-parameter-path': `/${namespace}/ssm` },
    containers: [shell('app', digestScript(['DB_PASSWORD', 'USER_NAME']), { DB_PASSWORD: 'piggy:password', USER_NAME: 'piggy:user' })],
  });
  const { results } = await runToEnd(t, pod);
  const app = mustGet(results, 'app');
  t.is(app.code, 0, app.stderr);
  t.deepEqual([lines(app.stdout).DB_PASSWORD, lines(app.stdout).USER_NAME], [sha256(CANARY), sha256('ssm-user')]);
});

/** The launcher refused before the app started: exit 1, the code in its log, no app output. */
function refusedAtStart(t: ExecutionContext, result: RootResult, pattern: RegExp): void {
  t.is(result.code, 1, result.stderr);
  t.regex(result.stderr, pattern);
  t.false(result.stdout.includes('pid='), 'the app never started');
}

sandboxTest('another pod\'s token: refused (ERR_PROXY_POD_MISMATCH), the app never starts', async (t) => {
  const victim = await createPod({ containers: [shell('app', digestScript(['DB_PASSWORD']), { DB_PASSWORD: 'piggy:db' })] });
  const intruder = await createPod({ serviceAccount: 'app', containers: [shell('app', digestScript(['DB_PASSWORD']), { DB_PASSWORD: 'piggy:db' })] });
  const { results } = await runToEnd(t, victim, { app: { token: await kubelet.podToken(intruder, ['piggysec.com']) } });
  refusedAtStart(t, mustGet(results, 'app'), /ERR_ENV_PROXY_REFUSED.*403.*ERR_PROXY_POD_MISMATCH/);
  const own = await runToEnd(t, intruder);
  t.is(mustGet(own.results, 'app').code, 0, 'the intruder pod with its own token is served');
});

sandboxTest('another command in the container, an unknown PIGGY_UID or an empty signature: refused (ERR_PROXY_INTEGRITY)', async (t) => {
  const pod = await createPod({ containers: [shell('app', digestScript(['DB_PASSWORD']), { DB_PASSWORD: 'piggy:db' })] });
  const { results } = await runToEnd(t, pod, { app: { argv: (argv) => [...argv.slice(0, argv.indexOf('--') + 1), '/bin/busybox', 'env'] } });
  refusedAtStart(t, mustGet(results, 'app'), /403.*ERR_PROXY_INTEGRITY/);
  const unknown = await runToEnd(t, pod, { app: { env: { PIGGY_UID: 'ffffffffffffffffffffffffffffffff' } } });
  refusedAtStart(t, mustGet(unknown.results, 'app'), /403.*ERR_PROXY_INTEGRITY/);
  // An empty signature straight to /secret with the pod's own token (the launcher never sends one).
  const uid = pod.spec?.containers[0]?.env?.find((item) => item.name === 'PIGGY_UID')?.value ?? '';
  const reply = await controller.post(JSON.stringify({ name: pod.metadata?.name, uid, signature: '' }), {
    path: '/secret',
    headers: { 'content-type': 'application/json', 'x-token': await kubelet.podToken(pod, ['piggysec.com']) },
  });
  t.is(reply.status, 403, reply.body);
  t.is((JSON.parse(reply.body) as { code?: string }).code, 'ERR_PROXY_INTEGRITY');
  t.false(reply.body.includes(CANARY));
});

sandboxTest("the pod's own automounted token (the API server's audience) replayed to /secret: refused (ERR_PROXY_TOKEN_AUDIENCE); a pod with automountServiceAccountToken: false is served", async (t) => {
  const pod = await createPod({ containers: [shell('app', digestScript(['DB_PASSWORD']), { DB_PASSWORD: 'piggy:db' })] });
  t.like(pod.spec?.volumes?.find((volume) => volume.name === 'piggy-token')?.projected?.sources?.[0], { serviceAccountToken: { audience: 'piggysec.com', expirationSeconds: 600, path: 'token' } });
  const replayed = await runToEnd(t, pod, { app: { token: await kubelet.podToken(pod) } });
  refusedAtStart(t, mustGet(replayed.results, 'app'), /401.*ERR_PROXY_TOKEN_AUDIENCE.*not issued for audience piggysec\.com/);
  const spec = { serviceAccountName: 'app', automountServiceAccountToken: false, containers: [shell('app', digestScript(['DB_PASSWORD']), { DB_PASSWORD: 'piggy:db' })] };
  const created = await kube().core.createNamespacedPod({ namespace, body: { metadata: { name: uniqueName('app'), annotations: { 'piggysec.com/aws-secret-name': `${namespace}/app` } }, spec } });
  const quiet = await kube().core.readNamespacedPod({ namespace, name: created.metadata?.name ?? '' });
  t.false(JSON.stringify(quiet.spec?.volumes).includes('kube-api-access'), 'no automounted token');
  const { results } = await runToEnd(t, quiet);
  t.is(lines(mustGet(results, 'app').stdout).DB_PASSWORD, sha256(CANARY), mustGet(results, 'app').stderr);
});

sandboxSerial('a secret outside the namespace policy: denied at admission; an annotation changed afterwards is ignored, the admitted secret is read', async (t) => {
  const other = await createTestNamespace(t, 'launch-bank');
  await createSecretVersions(`${other}/bank`, [JSON.stringify({ db: CANARY })]);
  const denied = await createPodDenied(namespace, {
    metadata: { name: uniqueName('app'), annotations: { 'piggysec.com/aws-secret-name': `${other}/bank` } },
    spec: { serviceAccountName: 'app', containers: [shell('app', 'true', { DB_PASSWORD: 'piggy:db' })] },
  });
  t.regex(denied, /access policy does not allow namespace/);
  const pod = await createPod({ containers: [shell('app', digestScript(['DB_PASSWORD']), { DB_PASSWORD: 'piggy:db' })] });
  const patched = await kube().core.patchNamespacedPod(
    { namespace, name: pod.metadata?.name ?? '', body: { metadata: { annotations: { 'piggysec.com/aws-secret-name': `${other}/bank` } } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  t.is(patched.metadata?.annotations?.['piggysec.com/aws-secret-name'], `${other}/bank`, 'the patch went through (no policy in this test)');
  const { results } = await runToEnd(t, patched);
  const app = mustGet(results, 'app');
  t.is(app.code, 0, app.stderr);
  t.is(lines(app.stdout).DB_PASSWORD, sha256(CANARY), `the value of ${namespace}/app, recorded at admission`);
  t.regex(controller.output(), new RegExp(`"secret":"${namespace}/app"`));
  t.notRegex(controller.output(), new RegExp(`"secret":"${other}/bank"`), 'the patched secret was never asked for');
});

sandboxTest('PIGGY_ALLOWED_SA in the secret names another service account: refused (ERR_PROXY_SA_NOT_ALLOWED)', async (t) => {
  const script = digestScript(['DB_PASSWORD']);
  const pod = await createPod({ annotations: { 'piggysec.com/aws-secret-name': `${namespace}/restricted` }, containers: [shell('app', script, { DB_PASSWORD: 'piggy:db' })] });
  const { results } = await runToEnd(t, pod);
  refusedAtStart(t, mustGet(results, 'app'), /403.*ERR_PROXY_SA_NOT_ALLOWED/);
  const allowed = await createPod({ serviceAccount: 'other', annotations: { 'piggysec.com/aws-secret-name': `${namespace}/restricted` }, containers: [shell('app', script, { DB_PASSWORD: 'piggy:db' })] });
  const served = await runToEnd(t, allowed);
  t.is(lines(mustGet(served.results, 'app').stdout).DB_PASSWORD, sha256(CANARY), 'the named service account is served');
});

sandboxTest('plain HTTP: denied at admission; forced into the env, the launcher refuses and sends nothing', async (t) => {
  let requests = 0;
  const plain = createHttpServer((_req, res) => {
    requests += 1;
    res.end('{}');
  });
  plain.listen(0, '127.0.0.1');
  await once(plain, 'listening');
  t.teardown(() => plain.close());
  const address = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
  const denied = await createPodDenied(namespace, {
    metadata: { name: uniqueName('app'), annotations: { 'piggysec.com/aws-secret-name': `${namespace}/app`, 'piggysec.com/piggy-address': address } },
    spec: { serviceAccountName: 'app', containers: [shell('app', 'true', { DB_PASSWORD: 'piggy:db' })] },
  });
  t.regex(denied, /must be an https URL/);
  const pod = await createPod({ containers: [shell('app', digestScript(['DB_PASSWORD']), { DB_PASSWORD: 'piggy:db' })] });
  const { results } = await runToEnd(t, pod, { app: { env: { PIGGY_ADDRESS: address } } });
  refusedAtStart(t, mustGet(results, 'app'), /plain http: is refused/);
  t.is(requests, 0, 'the token was never sent');
});

sandboxTest('an untrusted certificate (piggy-address pointing at another HTTPS server): refused, the server never sees the token', async (t) => {
  const rogue = await makeServingCertificate();
  let requests = 0;
  const server = createHttpsServer({ cert: rogue.cert, key: await readFile(rogue.keyFile) }, (_req, res) => {
    requests += 1;
    res.end(JSON.stringify({ db: 'attacker-value' }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const pod = await createPod({
    annotations: { 'piggysec.com/piggy-address': `https://127.0.0.1:${(server.address() as AddressInfo).port}` },
    containers: [shell('app', digestScript(['DB_PASSWORD']), { DB_PASSWORD: 'piggy:db' })],
  });
  const { results } = await runToEnd(t, pod);
  refusedAtStart(t, mustGet(results, 'app'), /ERR_ENV_TLS/);
  t.is(requests, 0, 'no request (and so no token) reached the untrusted server');
});
