// Journeys on the real nodes: piggy installed with its Helm chart from the images this checkout
// builds, and what a user sees. One installation for the file, the journeys in order (the
// failure journeys last). AWS is a private moto, so stopping it disturbs no other test.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { AdmissionregistrationV1Api, AppsV1Api, CoordinationV1Api } from '@kubernetes/client-node';
import test from 'ava';
import { motoSpec } from '../../scripts/local/components.ts';
import { startInstance, type Instance } from '../../scripts/local/instance.ts';
import { httpGet } from '../../scripts/local/procs.ts';
import { privateDir } from '../../scripts/local/stack.ts';
import { controllerPods, installPiggy, isReady, uninstallPiggy, type Installation } from '../helpers/journey.ts';
import { kube } from '../helpers/kube.ts';
import { eventually, testStack, uniqueName } from '../helpers/stack.ts';

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
