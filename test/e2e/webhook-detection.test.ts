// The injection webhook end to end, detection: `piggy controller` registered with the real API
// server; Pods created through the API; the persisted spec asserted. Every way a container can draw
// a `piggy:` value (env, valueFrom configMapKeyRef/secretKeyRef, envFrom configMapRef/secretRef),
// init containers, a pod that needs nothing, and a canary that never reaches the controller's output.
import type { V1Pod } from '@kubernetes/client-node';
import test from 'ava';
import type { Pod } from '../../src/webhook/pod.ts';
import { createTestNamespace, kube } from '../helpers/kube.ts';
import { uniqueName } from '../helpers/stack.ts';
import {
  ENV_IMAGE,
  PIGGY_ADDRESS,
  assertInjectedOnce,
  assertNoLeak,
  assertNotWrapped,
  assertWrapped,
  containerOf,
  createPod,
  createScope,
  envOf,
  plain,
  startWebhookController,
  type WebhookController,
} from '../helpers/webhook.ts';

const scope = createScope();
let controller: WebhookController;
let namespace: string;

test.before(async (t) => {
  namespace = await createTestNamespace(t, 'e2e-wh-detect');
  controller = await startWebhookController(scope, { namespace });
  t.log(`webhook registration from ${controller.source}`);
});
test.after.always(() => scope.close());

const annotated = (extra: Record<string, string> = {}) => ({ 'piggysec.com/aws-secret-name': `${namespace}/app`, ...extra });

function pod(containers: NonNullable<Pod['spec']>['containers'], extra: Partial<NonNullable<Pod['spec']>> = {}): Pod {
  return { metadata: { name: uniqueName('pod'), annotations: annotated() }, spec: { containers, ...extra } };
}

test('a piggy: literal in env: the container runs the launcher with the full PIGGY_* contract and a restricted install container', async (t) => {
  const stored = await createPod(
    namespace,
    pod([{ name: 'app', image: 'registry.example.com/shop/app:1', command: ['/app', '--port=$(PORT)'], args: ['$$literal'], env: [{ name: 'PORT', value: '8080' }, { name: 'TOKEN', value: 'piggy:token' }] }]),
  );
  assertWrapped(t, stored, 'app', ['/app', '--port=$(PORT)', '$$literal']);
  assertInjectedOnce(t, stored, ['app']);
  const env = containerOf(stored, 'app').env ?? [];
  t.deepEqual(env.slice(0, 2), [{ name: 'PORT', value: '8080' }, { name: 'TOKEN', value: 'piggy:token' }], 'the app env is kept, the reference unresolved in the spec');
  t.like(envOf(containerOf(stored, 'app')), {
    PIGGY_AWS_SECRET_NAME: `${namespace}/app`,
    PIGGY_AWS_REGION: 'us-east-1',
    PIGGY_ADDRESS,
    PIGGY_CA_BUNDLE: controller.ca,
    PIGGY_POD_NAME: JSON.stringify({ fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } }),
  });
  const install = containerOf(stored, 'install-piggy-env');
  t.like(install, {
    image: ENV_IMAGE,
    imagePullPolicy: 'IfNotPresent',
    args: ['install', '/piggy-volume', '--mount-path', '/piggy'],
    resources: { limits: { cpu: '200m', memory: '128Mi' }, requests: { cpu: '50m', memory: '64Mi' } },
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: [{ name: 'piggy-env', mountPath: '/piggy-volume' }],
  });
  t.is(install.command, undefined, 'the piggy-env image ENTRYPOINT is the launcher');
});

test('valueFrom configMapKeyRef and secretKeyRef are read through the API: only containers whose key holds piggy: are wrapped', async (t) => {
  const { core } = kube();
  const configMap = uniqueName('cm');
  const secret = uniqueName('secret');
  await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: configMap }, data: { 'api-key': 'piggy:api-key', level: 'debug' } } });
  await core.createNamespacedSecret({ namespace, body: { metadata: { name: secret }, stringData: { db: 'piggy:db-password', user: 'app' } } });
  const keyRef = (kind: 'configMapKeyRef' | 'secretKeyRef', name: string, key: string) => [{ name: 'VALUE', valueFrom: { [kind]: { name, key } } }];
  const stored = await createPod(namespace, pod([
    { name: 'cm-ref', image: 'app:1', command: ['app'], env: keyRef('configMapKeyRef', configMap, 'api-key') },
    { name: 'secret-ref', image: 'app:1', command: ['app'], env: keyRef('secretKeyRef', secret, 'db') },
    { name: 'cm-plain', image: 'app:1', command: ['app'], env: keyRef('configMapKeyRef', configMap, 'level') },
    { name: 'secret-plain', image: 'app:1', command: ['app'], env: keyRef('secretKeyRef', secret, 'user') },
  ]));
  assertWrapped(t, stored, 'cm-ref', ['app']);
  assertWrapped(t, stored, 'secret-ref', ['app']);
  assertNotWrapped(t, stored, 'cm-plain');
  assertNotWrapped(t, stored, 'secret-plain');
  assertInjectedOnce(t, stored, ['cm-ref', 'secret-ref']);
  t.deepEqual(containerOf(stored, 'secret-ref').env?.[0], { name: 'VALUE', valueFrom: { secretKeyRef: { name: secret, key: 'db' } } });
});

test('envFrom configMapRef (with a prefix) and secretRef are read through the API', async (t) => {
  const { core } = kube();
  const configMap = uniqueName('cm');
  const secret = uniqueName('secret');
  const plainSecret = uniqueName('plain');
  await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: configMap }, data: { TOKEN: 'piggy:token', MODE: 'prod' } } });
  await core.createNamespacedSecret({ namespace, body: { metadata: { name: secret }, stringData: { PASSWORD: 'piggy:password' } } });
  await core.createNamespacedSecret({ namespace, body: { metadata: { name: plainSecret }, stringData: { USER: 'piggy', HOST: 'db' } } });
  const stored = await createPod(namespace, pod([
    { name: 'from-cm', image: 'app:1', command: ['app'], envFrom: [{ configMapRef: { name: configMap }, prefix: 'APP_' }] },
    { name: 'from-secret', image: 'app:1', command: ['app'], envFrom: [{ secretRef: { name: plainSecret } }, { secretRef: { name: secret } }] },
    { name: 'from-plain', image: 'app:1', command: ['app'], envFrom: [{ secretRef: { name: plainSecret } }] },
  ]));
  assertWrapped(t, stored, 'from-cm', ['app']);
  assertWrapped(t, stored, 'from-secret', ['app']);
  assertNotWrapped(t, stored, 'from-plain');
  assertInjectedOnce(t, stored, ['from-cm', 'from-secret']);
  t.deepEqual(containerOf(stored, 'from-cm').envFrom, [{ configMapRef: { name: configMap }, prefix: 'APP_' }], 'envFrom is left as it was');
});

test('Piggy\'s demo cases: a Secret value "piggy:TEST_ENV\\n" (base64 data) through secretKeyRef, in a pod named by generateName like a Deployment\'s', async (t) => {
  const secret = uniqueName('demo-secret');
  await kube().core.createNamespacedSecret({ namespace, body: { metadata: { name: secret }, data: { TEST_ENV: Buffer.from('piggy:TEST_ENV\n').toString('base64') } } });
  const body = pod([{ name: 'test-env', image: 'busybox:1', command: ['sh', '-c', 'echo $TEST_ENV'], env: [{ name: 'TEST_ENV', valueFrom: { secretKeyRef: { name: secret, key: 'TEST_ENV' } } }] }]);
  body.metadata = { generateName: 'demo-', annotations: annotated() };
  const stored = await createPod(namespace, body);
  t.regex(stored.metadata?.name ?? '', /^demo-/);
  assertWrapped(t, stored, 'test-env', ['sh', '-c', 'echo $TEST_ENV']);
  assertInjectedOnce(t, stored, ['test-env']);
});

test('missing optional objects, fieldRef and resourceFieldRef never wrap a container; the pod is still admitted', async (t) => {
  const stored = await createPod(namespace, pod([
    {
      name: 'app',
      image: 'app:1',
      command: ['app'],
      env: [
        { name: 'GONE', valueFrom: { configMapKeyRef: { name: 'does-not-exist', key: 'x', optional: true } } },
        { name: 'GONE_SECRET', valueFrom: { secretKeyRef: { name: 'does-not-exist', key: 'x', optional: true } } },
        { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'CPU', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } },
      ],
      envFrom: [{ configMapRef: { name: 'also-missing', optional: true } }],
    },
  ]));
  assertNotWrapped(t, stored, 'app');
  t.is(stored.spec?.volumes?.find((volume) => volume.name === 'piggy-env'), undefined);
  t.is(stored.metadata?.annotations?.['piggysec.com/piggy-uid'], undefined);
});

test('init containers are wrapped too, and install-piggy-env runs before the first of them', async (t) => {
  const stored = await createPod(
    namespace,
    pod([{ name: 'app', image: 'app:1', command: ['serve'], env: [{ name: 'TOKEN', value: 'piggy:token' }] }], {
      initContainers: [
        { name: 'wait', image: 'busybox:1', command: ['true'] },
        { name: 'migrate', image: 'migrate:2', command: ['migrate', 'up'], env: [{ name: 'DATABASE_URL', value: 'piggy:database-url' }] },
      ],
    }),
  );
  t.deepEqual(stored.spec?.initContainers?.map((item) => item.name), ['install-piggy-env', 'wait', 'migrate']);
  assertWrapped(t, stored, 'migrate', ['migrate', 'up']);
  assertWrapped(t, stored, 'app', ['serve']);
  assertNotWrapped(t, stored, 'wait');
  assertInjectedOnce(t, stored, ['migrate', 'app']);
  t.not(envOf(containerOf(stored, 'migrate')).PIGGY_UID, envOf(containerOf(stored, 'app')).PIGGY_UID, 'every container has its own uid');
});

test('a pod that needs nothing is stored exactly as it is where no webhook runs', async (t) => {
  const { core } = kube();
  const configMap = uniqueName('cm');
  await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: configMap }, data: { MODE: 'prod' } } });
  const control = await createTestNamespace(t, 'e2e-wh-control');
  await core.createNamespacedConfigMap({ namespace: control, body: { metadata: { name: configMap }, data: { MODE: 'prod' } } });
  const name = uniqueName('needs-nothing');
  const body: Pod = {
    metadata: { name, annotations: annotated(), labels: { app: 'plain' } },
    spec: {
      initContainers: [{ name: 'init', image: 'busybox:1', command: ['true'] }],
      containers: [{ name: 'app', image: 'app:1', env: [{ name: 'MODE', value: 'prod' }], envFrom: [{ configMapRef: { name: configMap } }] }],
    },
  };
  const stored = await createPod(namespace, body);
  const expected = plain(await core.createNamespacedPod({ namespace: control, body: { ...body, metadata: { ...body.metadata, namespace: control } } as V1Pod, dryRun: 'All' }));
  // ServiceAccount admission names the token volume with a random suffix per pod.
  const sameTokenVolume = (spec: unknown) => JSON.parse(JSON.stringify(spec).replace(/kube-api-access-[a-z0-9]+/g, 'kube-api-access')) as unknown;
  t.deepEqual(sameTokenVolume(stored.spec), sameTokenVolume(expected.spec));
  t.deepEqual(stored.metadata?.annotations, expected.metadata?.annotations);
  t.deepEqual(stored.metadata?.labels, expected.metadata?.labels);
  // The webhook did see it (so this test can fail): it answered with no patch.
  const seen = await controller.piggy.waitForLog((line) => line.msg === 'admission allowed' && line.pod === `${namespace}/${name}`, 10_000);
  t.truthy(seen, 'the controller reviewed the pod and allowed it unchanged');
});

test('canary: values in env literals, ConfigMaps and Secrets a pod references never reach the controller output', async (t) => {
  const { core } = kube();
  const canaries = [`canary-env-${uniqueName('v')}`, `canary-cm-${uniqueName('v')}`, `canary-secret-${uniqueName('v')}`];
  const [inEnv = '', inConfigMap = '', inSecret = ''] = canaries;
  const configMap = uniqueName('cm');
  const secret = uniqueName('secret');
  await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: configMap }, data: { TOKEN: 'piggy:token', CANARY: inConfigMap } } });
  await core.createNamespacedSecret({ namespace, body: { metadata: { name: secret }, stringData: { PASSWORD: 'piggy:password', CANARY: inSecret } } });
  const stored = await createPod(namespace, pod([
    { name: 'app', image: 'app:1', command: ['app'], env: [{ name: 'PLAIN', value: inEnv }, { name: 'KEY', valueFrom: { secretKeyRef: { name: secret, key: 'CANARY' } } }], envFrom: [{ configMapRef: { name: configMap } }] },
    { name: 'side', image: 'app:1', command: ['side'], envFrom: [{ secretRef: { name: secret } }], env: [{ name: 'PLAIN', value: inEnv }] },
  ]));
  assertInjectedOnce(t, stored, ['app', 'side']);
  // A denial carries the pod's text back to the user, never into the log.
  await t.throwsAsync(createPod(namespace, { ...pod([{ name: 'app', image: 'app:1', command: ['app'], env: [{ name: 'PLAIN', value: inEnv }, { name: 'T', value: 'piggy:t' }] }]), metadata: { name: uniqueName('bad'), annotations: annotated({ 'piggysec.com/debug': 'maybe' }) } }));
  assertNoLeak(t, controller, canaries);
});
