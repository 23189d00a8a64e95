// Journeys on the real nodes: piggy installed with its Helm chart from the images this checkout
// builds, and what a user sees. One installation for the file, the journeys in order (the
// failure journeys last). AWS is a private moto, so stopping it disturbs no other test.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { AdmissionregistrationV1Api, AppsV1Api, CoordinationV1Api } from '@kubernetes/client-node';
import test from 'ava';
import { buildAwsEnv, motoSpec } from '../../scripts/local/components.ts';
import { startInstance, type Instance } from '../../scripts/local/instance.ts';
import { httpGet, run } from '../../scripts/local/procs.ts';
import { privateDir } from '../../scripts/local/stack.ts';
import { createSecretVersions } from '../helpers/aws.ts';
import { PIGGY_BIN } from '../helpers/controller.ts';
import { appImage, appOutput, apply, controllerPods, envDigests, fileDigests, installPiggy, isReady, runningPods, sha256, uninstallPiggy, type Installation } from '../helpers/journey.ts';
import { kube } from '../helpers/kube.ts';
import { onRealNode } from '../helpers/real-node.ts';
import { eventually, kubectl, testStack, uniqueName } from '../helpers/stack.ts';

const ctx: { moto?: Instance; inst?: Installation } = {};

test.before(async () => {
  const dir = path.join(privateDir(testStack().dir), uniqueName('journey-moto'));
  mkdirSync(dir, { recursive: true });
  ctx.moto = await startInstance(motoSpec(testStack().tools), { dir });
  ctx.inst = await installPiggy(ctx.moto.info.url);
});

test.after.always(async () => {
  if (ctx.inst) await uninstallPiggy(ctx.inst);
  await ctx.moto?.stop();
});

const installation = (): Installation => {
  if (!ctx.inst) throw new Error('piggy is not installed');
  return ctx.inst;
};

/** A metric summed over both replicas' /metrics. */
async function metricOfBoth(inst: Installation, name: string): Promise<number> {
  let sum = 0;
  for (const node of ['127.0.0.1', '127.0.0.2']) {
    const res = await httpGet(`http://${node}:${inst.metricsPort}/metrics`);
    for (const line of res.body.split('\n')) if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.split(' ').pop());
  }
  return sum;
}

/** piggy_leader of the replica on node NODE (each listens on its pod IP, the node's address). */
async function leaderGauge(node: string, port: number): Promise<number> {
  const res = await httpGet(`http://${node}:${port}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics on ${node} answered ${res.status}`);
  const line = res.body.split('\n').find((l) => l.startsWith('piggy_leader '));
  if (line === undefined) throw new Error(`no piggy_leader on ${node}`);
  return Number(line.split(' ')[1]);
}

test.serial('helm install: 2 replicas Ready on the two nodes, exactly one leader, the caBundle set, /metrics answering', async (t) => {
  const inst = installation();
  const pods = await controllerPods(inst);
  t.is(pods.length, 2);
  t.true(pods.every(isReady), 'both replicas Ready');
  t.deepEqual(pods.map((p) => p.spec?.nodeName).sort(), ['127.0.0.1', '127.0.0.2'], 'one replica per node');
  t.deepEqual(pods.map((p) => p.status?.podIP).sort(), ['127.0.0.1', '127.0.0.2']);
  t.true(pods.every((p) => p.spec?.containers[0]?.image === `${inst.images.images.piggy.pushed?.repository ?? ''}@${inst.images.images.piggy.pushed?.digest ?? ''}`), 'the image just built, by digest');

  const gauges = await eventually(async () => {
    const both = await Promise.all(['127.0.0.1', '127.0.0.2'].map((node) => leaderGauge(node, inst.metricsPort)));
    if (both.reduce((a, b) => a + b, 0) !== 1) throw new Error(`piggy_leader ${both.join(', ')}`);
    return both;
  });
  const leaderNode = gauges[0] === 1 ? '127.0.0.1' : '127.0.0.2';
  const lease = await kube().kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: inst.namespace, name: `${inst.release}-operator` });
  const leaderPod = pods.find((p) => p.spec?.nodeName === leaderNode);
  t.is(lease.spec?.holderIdentity, leaderPod?.metadata?.name, 'the Lease names the replica whose piggy_leader is 1');

  const webhook = await eventually(async () => {
    const config = await kube().kc.makeApiClient(AdmissionregistrationV1Api).readMutatingWebhookConfiguration({ name: inst.release });
    const bundle = config.webhooks?.[0]?.clientConfig.caBundle;
    if (bundle === undefined || bundle === '') throw new Error('no caBundle yet');
    return config;
  });
  t.is(webhook.webhooks?.[0]?.clientConfig.url, `https://127.0.0.1:${inst.httpsPort}/mutate`);
  const ca = Buffer.from(webhook.webhooks?.[0]?.clientConfig.caBundle ?? '', 'base64').toString('utf8');
  for (const node of ['127.0.0.1', '127.0.0.2']) {
    const ready = await httpGet(`https://${node}:${inst.httpsPort}/readyz`, { ca });
    t.is(ready.status, 200, `the caBundle verifies the replica on ${node}`);
  }
  const deployment = await kube().kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: inst.namespace, name: inst.release });
  t.is(deployment.status?.readyReplicas, 2);
});

/** `piggy bump FILE` against the private moto (what a user runs in their git checkout). */
async function piggyBump(file: string): Promise<string> {
  const res = await run(process.execPath, [PIGGY_BIN, 'bump', file], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...buildAwsEnv(ctx.moto?.info.url ?? '') } });
  if (res.code !== 0) throw new Error(`piggy bump exited ${res.code}: ${res.stderr}`);
  return res.stdout;
}

/** The app's view of the newest Running pod of Deployment APP once its env shows WANT (name → sha256). */
async function seenByNewestPod(namespace: string, app: string, want: Readonly<Record<string, string>>): Promise<{ pod: string; lines: string[] }> {
  return eventually(async () => {
    const [pod] = await runningPods(namespace, app);
    const name = pod?.metadata?.name;
    if (name === undefined) throw new Error(`no running pod of ${app}`);
    const lines = await appOutput(namespace, name);
    const seen = { ...envDigests(lines), ...Object.fromEntries(Object.entries(fileDigests(lines)).map(([file, d]) => [file, d.sha256])) };
    const wrong = Object.keys(want).filter((key) => seen[key] !== want[key]);
    if (wrong.length > 0) throw new Error(`${name}: ${wrong.join(', ')} not as expected yet`);
    return { pod: name, lines };
  }, { timeoutMs: 120_000 });
}

test.serial("operator: mumoshu's README AWSSecret → Secret → a Deployment (envFrom and volume); piggy bump + kubectl apply rolls it out; deleting the AWSSecret garbage-collects the Secret", async (t) => {
  t.timeout(300_000);
  const inst = installation();
  const secretId = `${inst.apps}/mysecret`;
  const [v1 = '', v2 = ''] = await createSecretVersions(secretId, [JSON.stringify({ username: 'admin', password: 'first-pass' }), JSON.stringify({ username: 'admin', password: 'second-pass' })], ctx.moto?.info.url);
  // mumoshu/aws-secret-operator's README example; only apiVersion changes.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'piggy-journey-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'awssecret.yaml');
  const manifest = (version: string) => `apiVersion: piggysec.com/v1alpha1\nkind: AWSSecret\nmetadata:\n  name: example\n  namespace: ${inst.apps}\nspec:\n  stringDataFrom:\n    secretsManagerSecretRef:\n      secretId: ${secretId}\n      versionId: ${version}\n`;
  writeFileSync(file, manifest(v1));
  t.is((await kubectl(['apply', '-f', file])).code, 0);
  const secret = await eventually(async () => {
    const s = await kube().core.readNamespacedSecret({ namespace: inst.apps, name: 'example' });
    if (s.data?.password === undefined) throw new Error('no password key yet');
    return s;
  });
  t.is(sha256(Buffer.from(secret.data?.password ?? '', 'base64').toString('utf8')), sha256('first-pass'));
  t.is(secret.metadata?.ownerReferences?.[0]?.kind, 'AWSSecret');

  const image = await appImage();
  await apply(inst.apps, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', annotations: { 'piggysec.com/restart-on-awssecret': 'example' } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: onRealNode({
          terminationGracePeriodSeconds: 0,
          containers: [{
            name: 'app', image,
            env: [{ name: 'SHOW', value: 'password username' }, { name: 'SHOW_FILES', value: '/etc/example/password' }],
            envFrom: [{ secretRef: { name: 'example' } }],
            volumeMounts: [{ name: 'example', mountPath: '/etc/example', readOnly: true }],
          }],
          volumes: [{ name: 'example', secret: { secretName: 'example' } }],
        }),
      },
    },
  });
  const first = await seenByNewestPod(inst.apps, 'web', { password: sha256('first-pass'), username: sha256('admin'), '/etc/example/password': sha256('first-pass') });

  const bumped = await piggyBump(file);
  t.true(bumped.includes(`${v1} -> ${v2}`), 'piggy bump names the change');
  t.is(readFileSync(file, 'utf8'), manifest(v2));
  t.is((await kubectl(['apply', '-f', file])).code, 0);
  const second = await seenByNewestPod(inst.apps, 'web', { password: sha256('second-pass'), '/etc/example/password': sha256('second-pass') });
  t.not(second.pod, first.pod, 'a new pod, rolled out by the real Deployment controller');
  const deployment = await kube().kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: inst.apps, name: 'web' });
  t.is(deployment.spec?.template.metadata?.annotations?.['awssecret.piggysec.com/example'], v2, 'the pod template records the version it runs');

  t.is((await kubectl(['delete', '-f', file, '--wait=true'])).code, 0);
  await eventually(async () => {
    const left = await kube().core.readNamespacedSecret({ namespace: inst.apps, name: 'example' }).then(() => true, () => false);
    if (left) throw new Error('the Secret is still there');
  });
  t.pass('the Secret was garbage-collected with its AWSSecret');
});

/** A one-replica Deployment APP on the real nodes: the journey app image (no command), SHOW and EXTRA env. */
function injectedDeployment(app: string, annotations: Record<string, string>, container: Record<string, unknown>, pod: Record<string, unknown> = {}): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: app },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app } },
      template: {
        metadata: { labels: { app }, annotations },
        spec: onRealNode({ terminationGracePeriodSeconds: 0, containers: [{ name: 'app', ...container }], ...pod }),
      },
    },
  };
}

/** `kubectl exec POD -- env`: what a person with exec access sees (never the resolved values). */
async function execEnv(namespace: string, pod: string): Promise<string> {
  const res = await kubectl(['-n', namespace, 'exec', pod, '-c', 'app', '--', 'env']);
  if (res.code !== 0) throw new Error(`kubectl exec: ${res.stderr}`);
  return res.stdout;
}

test.serial("proxy: Piggy's README pod as a Deployment (image without a command, read from the registry): the real init container installs piggy-env, the app gets TEST_ENV, kubectl exec env shows no value", async (t) => {
  t.timeout(240_000);
  const inst = installation();
  const value = `readme-${uniqueName('v')}`;
  await createSecretVersions(`${inst.apps}/demo`, [JSON.stringify({ TEST_ENV: value })], ctx.moto?.info.url);
  await apply(inst.apps, injectedDeployment('readme', { 'piggysec.com/aws-secret-name': `${inst.apps}/demo` }, {
    image: await appImage(),
    env: [{ name: 'TEST_ENV', value: 'piggy:TEST_ENV' }, { name: 'SHOW', value: 'TEST_ENV' }],
  }));
  const { pod, lines } = await seenByNewestPod(inst.apps, 'readme', { TEST_ENV: sha256(value) });
  t.true(lines.includes('piggy-vars=0'), 'no PIGGY_* variable reaches the app');
  const stored = await kube().core.readNamespacedPod({ namespace: inst.apps, name: pod });
  t.is(stored.spec?.initContainers?.[0]?.name, 'install-piggy-env');
  t.is(stored.spec?.initContainers?.[0]?.image, `${inst.images.images['piggy-env'].pushed?.repository ?? ''}@${inst.images.images['piggy-env'].pushed?.digest ?? ''}`, 'the chart\'s own launcher image');
  t.is(stored.status?.initContainerStatuses?.[0]?.state?.terminated?.exitCode, 0, 'the install container ran and exited 0');
  t.deepEqual(stored.spec?.containers[0]?.command, ['/piggy/piggy-env'], 'the image\'s command was read from the registry and wrapped');
  const env = await execEnv(inst.apps, pod);
  t.false(env.includes(value), 'kubectl exec env does not show the value');
  t.true(env.includes('TEST_ENV=piggy:TEST_ENV'), 'only the reference');
});

test.serial('standalone: the pod\'s own role through STS web identity (a projected token) on the emulator; the proxy is not asked', async (t) => {
  t.timeout(240_000);
  const inst = installation();
  const value = `standalone-${uniqueName('v')}`;
  await createSecretVersions(`${inst.apps}/own-role`, [JSON.stringify({ API_KEY: value })], ctx.moto?.info.url);
  const tokenDir = '/var/run/secrets/eks.amazonaws.com/serviceaccount';
  const proxied = await metricOfBoth(inst, 'piggy_proxy_requests_total');
  await apply(inst.apps, injectedDeployment('standalone', { 'piggysec.com/aws-secret-name': `${inst.apps}/own-role`, 'piggysec.com/standalone': 'true' }, {
    image: await appImage(),
    env: [
      { name: 'API_KEY', value: 'piggy:API_KEY' }, { name: 'SHOW', value: 'API_KEY' },
      { name: 'AWS_ROLE_ARN', value: 'arn:aws:iam::123456789012:role/journey' },
      { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: `${tokenDir}/token` },
      { name: 'AWS_ENDPOINT_URL', value: ctx.moto?.info.url ?? '' },
    ],
    volumeMounts: [{ name: 'aws-iam-token', mountPath: tokenDir, readOnly: true }],
  }, {
    serviceAccountName: 'default',
    volumes: [{ name: 'aws-iam-token', projected: { sources: [{ serviceAccountToken: { audience: 'sts.amazonaws.com', expirationSeconds: 3600, path: 'token' } }] } }],
  }));
  const { lines } = await seenByNewestPod(inst.apps, 'standalone', { API_KEY: sha256(value) });
  t.true(lines.includes('piggy-vars=0'));
  t.is(await metricOfBoth(inst, 'piggy_proxy_requests_total'), proxied, 'no /secret request');
});

test.serial('SSM path under limits: the chart\'s init-container resources and an app with runAsNonRoot, readOnlyRootFilesystem and drop ALL', async (t) => {
  t.timeout(240_000);
  const inst = installation();
  const ssm = new SSMClient({ endpoint: ctx.moto?.info.url, region: 'us-east-1' });
  t.teardown(() => ssm.destroy());
  const [host, password] = ['db.internal', `ssm-${uniqueName('v')}`];
  await ssm.send(new PutParameterCommand({ Name: `/${inst.apps}/db/DB_HOST`, Value: host, Type: 'String' }));
  await ssm.send(new PutParameterCommand({ Name: `/${inst.apps}/db/DB_PASSWORD`, Value: password, Type: 'SecureString' }));
  const restricted = { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } };
  await apply(inst.apps, injectedDeployment('ssm', { 'piggysec.com/aws-ssm-parameter-path': `/${inst.apps}/db` }, {
    image: await appImage(),
    env: [{ name: 'DB_HOST', value: 'piggy:DB_HOST' }, { name: 'DB_PASSWORD', value: 'piggy:DB_PASSWORD' }, { name: 'SHOW', value: 'DB_HOST DB_PASSWORD' }],
    securityContext: restricted,
  }));
  const { pod, lines } = await seenByNewestPod(inst.apps, 'ssm', { DB_HOST: sha256(host), DB_PASSWORD: sha256(password) });
  t.true(lines.includes('uid=1000'));
  const stored = await kube().core.readNamespacedPod({ namespace: inst.apps, name: pod });
  const install = stored.spec?.initContainers?.[0];
  const piggyEnv = (inst.values.piggyEnv as { resources?: unknown } | undefined)?.resources;
  t.deepEqual({ ...install?.resources }, piggyEnv ?? { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '200m', memory: '128Mi' } }, 'the chart\'s launcher resources');
  t.is(stored.status?.initContainerStatuses?.[0]?.state?.terminated?.exitCode, 0);
  t.is(stored.status?.containerStatuses?.[0]?.restartCount, 0);
});
