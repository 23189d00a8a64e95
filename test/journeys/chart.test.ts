// Journeys on the real nodes: piggy installed with its Helm chart from the images this checkout
// builds, and what a user sees. One installation for the file, the journeys in order (the
// failure journeys last). AWS is a private moto, so stopping it disturbs no other test.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { AdmissionregistrationV1Api, AppsV1Api, CoordinationV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import test from 'ava';
import { stringify } from 'yaml';
import { requestPodToken } from '../../scripts/local/kube-objects.ts';
import { httpGet } from '../../scripts/local/procs.ts';
import { createSecretVersions } from '../helpers/aws.ts';
import { appImage, appOutput, apply, controllerPods, isReady, sha256, startJourney, stopJourney, type Installation, type JourneyContext } from '../helpers/journey.ts';
import { execEnv, injectedDeployment, launcherImage, piggyBump, postSecret, leaderGauge, metricOfBoth, readyReason, seenByNewestPod, watchSecrets } from '../helpers/journey-checks.ts';
import { kube, waitForDefaultServiceAccount } from '../helpers/kube.ts';
import { podIdentityPatch } from '../helpers/pod-identity.ts';
import { onRealNode } from '../helpers/real-node.ts';
import { eventually, kubectl, uniqueName } from '../helpers/stack.ts';
import { startPatchingWebhook } from '../helpers/webhook.ts';

const ctx: JourneyContext = {};


test.before(() => startJourney(ctx, 'journey-moto'));
test.after.always(() => stopJourney(ctx));

const installation = (): Installation => {
  if (!ctx.inst) throw new Error('piggy is not installed');
  return ctx.inst;
};


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

  const bumped = await piggyBump(file, ctx.moto?.info.url ?? '');
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

test.serial("proxy: Piggy's README pod as a Deployment (image without a command, read from the registry): the chart's default delivery on 1.37 mounts the piggy-env image as an image volume (no init container, nothing copied), the app gets TEST_ENV, kubectl exec env shows no value", async (t) => {
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
  t.is(stored.spec?.initContainers, undefined, 'no install-piggy-env: nothing is copied');
  t.like(stored.spec?.volumes?.find((volume) => volume.name === 'piggy-env')?.image, { reference: launcherImage(inst), pullPolicy: 'IfNotPresent' }, 'the chart\'s own launcher image, as an image volume');
  t.like(stored.spec?.containers[0]?.volumeMounts?.find((mount) => mount.name === 'piggy-env'), { mountPath: '/piggy', subPath: 'piggy', readOnly: true });
  t.deepEqual(stored.spec?.containers[0]?.command, ['/piggy/piggy-env'], 'the image\'s command was read from the registry and wrapped');
  const env = await execEnv(inst.apps, pod);
  t.false(env.includes(value), 'kubectl exec env does not show the value');
  t.true(env.includes('TEST_ENV=piggy:TEST_ENV'), 'only the reference');
});

test.serial('an image-volume pod passes the restricted Pod Security Standard (server-side dry run: the real nodes need hostNetwork, which restricted forbids)', async (t) => {
  const inst = installation();
  const namespace = uniqueName('journey-restricted');
  await kube().core.createNamespace({ body: { metadata: { name: namespace, labels: { 'piggysec.com/journey': inst.release, 'pod-security.kubernetes.io/enforce': 'restricted' } } } });
  t.teardown(() => kube().core.deleteNamespace({ name: namespace }).then(() => undefined, () => undefined));
  await waitForDefaultServiceAccount(namespace);
  const restricted = { runAsNonRoot: true, runAsUser: 1000, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } };
  const created = await kube().core.createNamespacedPod({
    namespace,
    dryRun: 'All',
    body: {
      metadata: { name: 'restricted', annotations: { 'piggysec.com/aws-secret-name': `${namespace}/demo` } },
      spec: { containers: [{ name: 'app', image: await appImage(), command: ['/bin/sh', '-c', 'true'], env: [{ name: 'TOKEN', value: 'piggy:TOKEN' }], securityContext: restricted }] },
    },
  });
  t.like(created.spec?.volumes?.find((volume) => volume.name === 'piggy-env')?.image, { reference: launcherImage(inst), pullPolicy: 'IfNotPresent' }, 'mutated to an image volume and admitted under restricted');
  t.deepEqual(created.spec?.containers[0]?.command, ['/piggy/piggy-env']);
  t.is(created.spec?.initContainers, undefined);
});

test.serial("proxy identity on the real kubelet: a pod with automountServiceAccountToken: false is served through piggy's projected token; the API server's audience is refused at /secret; the chart's policy refuses an annotation patch", async (t) => {
  t.timeout(240_000);
  const inst = installation();
  const value = `quiet-${uniqueName('v')}`;
  await createSecretVersions(`${inst.apps}/quiet`, [JSON.stringify({ TEST_ENV: value })], ctx.moto?.info.url);
  await apply(inst.apps, injectedDeployment('quiet', { 'piggysec.com/aws-secret-name': `${inst.apps}/quiet` }, {
    image: await appImage(),
    env: [{ name: 'TEST_ENV', value: 'piggy:TEST_ENV' }, { name: 'SHOW', value: 'TEST_ENV' }],
  }, { automountServiceAccountToken: false }));
  const { pod } = await seenByNewestPod(inst.apps, 'quiet', { TEST_ENV: sha256(value) });
  const stored = await kube().core.readNamespacedPod({ namespace: inst.apps, name: pod });
  t.false(JSON.stringify(stored.spec?.volumes).includes('kube-api-access'), 'the kubelet mounted no automounted token');
  t.like(stored.spec?.volumes?.find((volume) => volume.name === 'piggy-token')?.projected?.sources?.[0], { serviceAccountToken: { audience: 'piggysec.com', expirationSeconds: 600 } });
  const token = await requestPodToken(kube().kc, { namespace: inst.apps, name: pod, uid: stored.metadata?.uid ?? '', serviceAccount: stored.spec?.serviceAccountName ?? 'default' }, { audiences: [] });
  const envValue = (name: string) => stored.spec?.containers[0]?.env?.find((item) => item.name === name)?.value ?? '';
  const reply = await postSecret(inst.httpsPort, envValue('PIGGY_CA_BUNDLE'), token, { name: pod, uid: envValue('PIGGY_UID'), signature: '' });
  t.is(reply.status, 401, reply.body);
  t.regex(reply.body, /ERR_PROXY_TOKEN_AUDIENCE.*not issued for audience piggysec\.com/);
  const patched = await kubectl(['-n', inst.apps, 'annotate', 'pod', pod, '--overwrite', `piggysec.com/aws-secret-name=${inst.apps}/demo`]);
  t.not(patched.code, 0, 'refused');
  t.regex(patched.stderr, /fixed at admission \(changed: piggysec\.com\/aws-secret-name\)/);
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

test.serial('SSM path under limits, piggy-env-delivery init-container: the launcher copied by the init container with the chart\'s resources, into an app with runAsNonRoot, readOnlyRootFilesystem and drop ALL', async (t) => {
  t.timeout(240_000);
  const inst = installation();
  const ssm = new SSMClient({ endpoint: ctx.moto?.info.url, region: 'us-east-1' });
  t.teardown(() => ssm.destroy());
  const [host, password] = ['db.internal', `ssm-${uniqueName('v')}`];
  await ssm.send(new PutParameterCommand({ Name: `/${inst.apps}/db/DB_HOST`, Value: host, Type: 'String' }));
  await ssm.send(new PutParameterCommand({ Name: `/${inst.apps}/db/DB_PASSWORD`, Value: password, Type: 'SecureString' }));
  const restricted = { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } };
  await apply(inst.apps, injectedDeployment('ssm', { 'piggysec.com/aws-ssm-parameter-path': `/${inst.apps}/db`, 'piggysec.com/piggy-env-delivery': 'init-container' }, {
    image: await appImage(),
    env: [{ name: 'DB_HOST', value: 'piggy:DB_HOST' }, { name: 'DB_PASSWORD', value: 'piggy:DB_PASSWORD' }, { name: 'SHOW', value: 'DB_HOST DB_PASSWORD' }],
    securityContext: restricted,
  }));
  const { pod, lines } = await seenByNewestPod(inst.apps, 'ssm', { DB_HOST: sha256(host), DB_PASSWORD: sha256(password) });
  t.true(lines.includes('uid=1000'));
  const stored = await kube().core.readNamespacedPod({ namespace: inst.apps, name: pod });
  const install = stored.spec?.initContainers?.[0];
  t.is(install?.name, 'install-piggy-env');
  t.is(install?.image, launcherImage(inst), 'the chart\'s own launcher image');
  t.like(stored.spec?.volumes?.find((volume) => volume.name === 'piggy-env'), { emptyDir: { sizeLimit: '256Mi' } });
  const piggyEnv = (inst.values.piggyEnv as { resources?: unknown } | undefined)?.resources;
  t.deepEqual({ ...install?.resources }, piggyEnv ?? { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '200m', memory: '128Mi' } }, 'the chart\'s launcher resources');
  t.is(stored.status?.initContainerStatuses?.[0]?.state?.terminated?.exitCode, 0);
  t.is(stored.status?.containerStatuses?.[0]?.restartCount, 0);
});

test.serial("file mode: the sidecar injector's walkthrough Deployment (no runAsUser, no fsGroup) next to a pod identity webhook stand-in: the file is written before the app starts", async (t) => {
  t.timeout(240_000);
  const inst = installation();
  const value = `file-${uniqueName('v')}`;
  const sm = new SecretsManagerClient({ endpoint: ctx.moto?.info.url, region: 'us-east-1' });
  t.teardown(() => sm.destroy());
  const created = await sm.send(new CreateSecretCommand({ Name: `${inst.apps}/database-password`, SecretString: value }));
  const aws = { AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: ctx.moto?.info.url ?? '' };
  await startPatchingWebhook(t, { name: `zz-${uniqueName('pod-identity')}`, namespace: inst.apps, namespaceSelector: { matchLabels: { 'piggysec.com/journey': inst.release } }, patch: (pod) => podIdentityPatch(pod, 'arn:aws:iam::123456789012:role/webserver', aws) });
  await kube().core.createNamespacedServiceAccount({ namespace: inst.apps, body: { metadata: { name: 'webserver-service-account' } } });
  // The walkthrough's Deployment; only its image and command are the journey app's (it printed the secret).
  const rendered = await kubectl(['-n', inst.apps, 'apply', '-f', '-'], { input: stringify({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'webserver' },
    spec: {
      selector: { matchLabels: { app: 'webserver' } },
      template: {
        metadata: { labels: { app: 'webserver' }, annotations: { 'secrets.k8s.aws/sidecarInjectorWebhook': 'enabled', 'secrets.k8s.aws/secret-arn': created.ARN ?? '' } },
        spec: onRealNode({ serviceAccountName: 'webserver-service-account', terminationGracePeriodSeconds: 0, containers: [{ name: 'webserver', image: await appImage(), env: [{ name: 'SHOW_FILES', value: '/tmp/secret' }] }] }),
      },
    },
  }) });
  t.is(rendered.code, 0, rendered.stderr);
  const { pod, lines } = await seenByNewestPod(inst.apps, 'webserver', { '/tmp/secret': sha256(value) }, 'webserver');
  t.true(lines.some((line) => line.startsWith('file /tmp/secret ') && line.endsWith('mode=444')), 'readable by the app that runs as root (no runAsUser)');
  const stored = await kube().core.readNamespacedPod({ namespace: inst.apps, name: pod });
  t.true(stored.spec?.initContainers?.some((c) => c.name === 'piggy-secret-files') === true, 'piggy\'s writer ran as an init container');
  t.deepEqual(stored.status?.initContainerStatuses?.map((s) => [s.name, s.state?.terminated?.exitCode]), [['install-piggy-env', 0], ['piggy-secret-files', 0]].filter(([name]) => stored.spec?.initContainers?.some((c) => c.name === name)));
  t.is(stored.spec?.volumes?.find((v) => v.name === 'piggy-secret-files')?.emptyDir?.medium, 'Memory', 'the file lives in memory only');
});

test.serial('the leader pod deleted while AWSSecrets sync: the other replica takes over, every Secret synced, none lost or emptied', async (t) => {
  t.timeout(240_000);
  const inst = installation();
  const count = 20;
  const [version = ''] = await createSecretVersions(`${inst.apps}/fleet`, [JSON.stringify({ token: 'fleet-value' })], ctx.moto?.info.url);
  const watcher = watchSecrets(inst.apps);
  const leaderNode = (await leaderGauge('127.0.0.1', inst.metricsPort)) === 1 ? '127.0.0.1' : '127.0.0.2';
  const leader = (await controllerPods(inst)).find((p) => p.spec?.nodeName === leaderNode)?.metadata?.name ?? '';
  for (let i = 0; i < count; i++) {
    await apply(inst.apps, { apiVersion: 'piggysec.com/v1alpha1', kind: 'AWSSecret', metadata: { name: `fleet-${i}` }, spec: { stringDataFrom: { secretsManagerSecretRef: { secretId: `${inst.apps}/fleet`, versionId: version } } } });
    if (i === count / 2) t.is((await kubectl(['-n', inst.namespace, 'delete', 'pod', leader, '--wait=false'])).code, 0, 'leader deleted mid-sync');
  }
  const other = leaderNode === '127.0.0.1' ? '127.0.0.2' : '127.0.0.1';
  await eventually(async () => {
    if ((await leaderGauge(other, inst.metricsPort)) !== 1) throw new Error(`the replica on ${other} is not the leader yet`);
  });
  await eventually(async () => {
    const list = await kube().core.listNamespacedSecret({ namespace: inst.apps, labelSelector: 'app.kubernetes.io/managed-by=piggy' });
    const synced = list.items.filter((s) => s.metadata?.name?.startsWith('fleet-') === true && s.data?.token !== undefined);
    if (synced.length < count) throw new Error(`${synced.length}/${count} Secrets synced`);
  }, { timeoutMs: 120_000 });
  t.deepEqual(await watcher.stop(), [], 'no Secret vanished or emptied during the take-over');
  await eventually(async () => {
    const pods = await controllerPods(inst);
    if (pods.length !== 2 || !pods.every(isReady)) throw new Error('the Deployment has not replaced the deleted replica yet');
  }, { timeoutMs: 120_000 });
});

test.serial('the AWS emulator down: Secrets intact, the AWSSecret that needs AWS says why', async (t) => {
  t.timeout(240_000);
  const inst = installation();
  const [version = ''] = await createSecretVersions(`${inst.apps}/late`, [JSON.stringify({ k: 'late-value' })], ctx.moto?.info.url);
  const before = await kube().core.readNamespacedSecret({ namespace: inst.apps, name: 'fleet-0' });
  await ctx.moto?.stop();
  t.teardown(() => ctx.moto?.start());
  await apply(inst.apps, { apiVersion: 'piggysec.com/v1alpha1', kind: 'AWSSecret', metadata: { name: 'late' }, spec: { stringDataFrom: { secretsManagerSecretRef: { secretId: `${inst.apps}/late`, versionId: version } } } });
  const reason = await eventually(async () => {
    const awsSecret = (await kube().kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ group: 'piggysec.com', version: 'v1alpha1', namespace: inst.apps, plural: 'awssecrets', name: 'late' })) as Parameters<typeof readyReason>[0];
    const why = readyReason(awsSecret);
    if (why === 'none') throw new Error('no Ready condition yet');
    return why;
  }, { timeoutMs: 90_000 });
  t.is(reason, 'AWSUnavailable');
  const after = await kube().core.readNamespacedSecret({ namespace: inst.apps, name: 'fleet-0' });
  t.deepEqual(after.data, before.data, 'the synced Secret is untouched');
});

test.serial('both replicas down: an opted-in pod is refused, a plain pod still starts', async (t) => {
  t.timeout(240_000);
  const inst = installation();
  t.is((await kubectl(['-n', inst.namespace, 'scale', 'deployment', inst.release, '--replicas=0'])).code, 0);
  await eventually(async () => {
    const all = await kube().core.listNamespacedPod({ namespace: inst.namespace, labelSelector: `app.kubernetes.io/instance=${inst.release}` });
    if (all.items.length > 0) throw new Error(`${all.items.length} controller pods left`);
  }, { timeoutMs: 120_000 });
  const image = await appImage();
  const pod = (name: string, annotations: Record<string, string>, env: { name: string; value: string }[]) => ({
    apiVersion: 'v1', kind: 'Pod', metadata: { name, annotations }, spec: onRealNode({ terminationGracePeriodSeconds: 0, containers: [{ name: 'app', image, env }] }),
  });
  const refused = await kubectl(['-n', inst.apps, 'apply', '-f', '-'], { input: stringify(pod('opted-in', { 'piggysec.com/aws-secret-name': `${inst.apps}/demo` }, [{ name: 'TEST_ENV', value: 'piggy:TEST_ENV' }])) });
  t.not(refused.code, 0, 'the API server refuses the opted-in pod');
  t.regex(refused.stderr, /failed calling webhook/);
  await apply(inst.apps, pod('plain', {}, [{ name: 'SHOW', value: 'HOME' }]));
  const lines = await appOutput(inst.apps, 'plain');
  t.true(lines.includes('piggy-vars=0'), 'the plain pod started on a real node');
});

