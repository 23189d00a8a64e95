// Journeys on the real nodes: piggy installed with its Helm chart from the images this checkout
// builds, and what a user sees. One installation for the file, the journeys in order (the
// failure journeys last). AWS is a private moto, so stopping it disturbs no other test.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
