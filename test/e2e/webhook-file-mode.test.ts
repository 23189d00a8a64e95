// The injection webhook end to end, file mode (aws-secret-sidecar-injector's `secrets.k8s.aws/*`
// annotations): an init container writes each secret into an in-memory volume mounted read-only in
// every app container, readable by the app's user only; the region comes from the ARN.
import test from 'ava';
import type { Pod } from '../../src/webhook/pod.ts';
import { createTestNamespace } from '../helpers/kube.ts';
import { uniqueName } from '../helpers/stack.ts';
import { ENV_IMAGE, assertInjectedOnce, assertNotWrapped, assertWrapped, containerOf, createPod, createPodDenied, createScope, envOf, startWebhookController } from '../helpers/webhook.ts';

const scope = createScope();
let namespace: string;

test.before(async (t) => {
  namespace = await createTestNamespace(t, 'e2e-wh-files');
  await startWebhookController(scope, { namespace });
});
test.after.always(() => scope.close());

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop/db-AbCdEf';
const ARN2 = 'arn:aws:secretsmanager:ap-southeast-2:123456789012:secret:shop/api-key-XyZ123';

type Spec = NonNullable<Pod['spec']>;

function filePod(annotations: Record<string, string>, spec: Partial<Spec> = {}): Pod {
  return {
    metadata: { name: uniqueName('files'), annotations },
    spec: {
      containers: [
        { name: 'app', image: 'registry.example.com/shop/app:1', command: ['/app'] },
        { name: 'side', image: 'registry.example.com/shop/side:1', command: ['/side'] },
      ],
      ...spec,
    },
  };
}

const files = (stored: Pod) => JSON.parse(envOf(containerOf(stored, 'piggy-secret-files')).PIGGY_FILES ?? '[]') as unknown;

test('one ARN with fsGroup: 0440 files in a memory volume at /tmp, mounted read-only in every app container', async (t) => {
  const stored = await createPod(namespace, filePod({ 'secrets.k8s.aws/secret-arn': ARN }, { securityContext: { fsGroup: 2000 } }));
  t.like(containerOf(stored, 'piggy-secret-files'), {
    image: ENV_IMAGE,
    args: ['write-files'],
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
    volumeMounts: [{ name: 'piggy-secret-files', mountPath: '/tmp' }],
  });
  t.deepEqual(files(stored), [{ secretId: ARN, region: 'eu-west-1', path: '/tmp/secret' }]);
  t.is(envOf(containerOf(stored, 'piggy-secret-files')).PIGGY_FILE_MODE, '0440');
  t.deepEqual(stored.spec?.volumes?.filter((volume) => volume.name === 'piggy-secret-files'), [{ name: 'piggy-secret-files', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } }]);
  for (const name of ['app', 'side']) {
    t.deepEqual(containerOf(stored, name).volumeMounts?.filter((mount) => mount.name === 'piggy-secret-files'), [{ name: 'piggy-secret-files', mountPath: '/tmp', readOnly: true }], name);
    assertNotWrapped(t, stored, name);
    t.deepEqual(containerOf(stored, name).command, [`/${name}`]);
  }
  t.is(stored.spec?.volumes?.find((volume) => volume.name === 'piggy-env'), undefined, 'no launcher without piggy: references');
  t.deepEqual(stored.spec?.initContainers?.map((item) => item.name), ['piggy-secret-files']);
});

test('one non-root runAsUser and no fsGroup: 0400 files written as that user', async (t) => {
  const stored = await createPod(namespace, filePod({ 'secrets.k8s.aws/secret-arn': ARN }, { securityContext: { runAsUser: 1000 } }));
  t.is(envOf(containerOf(stored, 'piggy-secret-files')).PIGGY_FILE_MODE, '0400');
  t.is(containerOf(stored, 'piggy-secret-files').securityContext?.runAsUser, 1000);
});

test('several ARNs: one file each, named by secret-filename under mount-path, each with the region of its ARN', async (t) => {
  const stored = await createPod(namespace, filePod({ 'secrets.k8s.aws/secret-arn': `${ARN}, ${ARN2}`, 'secrets.k8s.aws/mount-path': '/etc/secrets/', 'secrets.k8s.aws/secret-filename': 'db.json,api/token' }, { securityContext: { fsGroup: 2000 } }));
  t.deepEqual(files(stored), [
    { secretId: ARN, region: 'eu-west-1', path: '/etc/secrets/db.json' },
    { secretId: ARN2, region: 'ap-southeast-2', path: '/etc/secrets/api/token' },
  ]);
  t.deepEqual(containerOf(stored, 'app').volumeMounts?.find((mount) => mount.name === 'piggy-secret-files'), { name: 'piggy-secret-files', mountPath: '/etc/secrets', readOnly: true });
  t.deepEqual(stored.spec?.volumes?.find((volume) => volume.name === 'piggy-secret-files')?.emptyDir, { medium: 'Memory', sizeLimit: '2Mi' });
});

test('several ARNs without file names: each file is named after its secret', async (t) => {
  const stored = await createPod(namespace, filePod({ 'secrets.k8s.aws/secret-arn': `${ARN},${ARN2}` }, { securityContext: { fsGroup: 2000 } }));
  t.deepEqual(files(stored), [
    { secretId: ARN, region: 'eu-west-1', path: '/tmp/shop/db' },
    { secretId: ARN2, region: 'ap-southeast-2', path: '/tmp/shop/api-key' },
  ]);
});

test('file mode and env mode together: both init containers, the launcher first, both volumes once', async (t) => {
  const pod = filePod({ 'secrets.k8s.aws/secret-arn': ARN, 'piggysec.com/aws-secret-name': `${namespace}/app` }, { securityContext: { fsGroup: 2000 } });
  const app = pod.spec?.containers[0];
  if (app !== undefined) app.env = [{ name: 'TOKEN', value: 'piggy:token' }];
  const stored = await createPod(namespace, pod);
  t.deepEqual(stored.spec?.initContainers?.map((item) => item.name), ['install-piggy-env', 'piggy-secret-files']);
  assertWrapped(t, stored, 'app', ['/app']);
  assertNotWrapped(t, stored, 'side');
  assertInjectedOnce(t, stored, ['app']);
  t.is(stored.spec?.volumes?.filter((volume) => volume.name === 'piggy-secret-files').length, 1);
});

test('a pod whose files cannot be private to one user is admitted with 0444 files (the sidecar injector\'s walkthrough pod)', async (t) => {
  for (const securityContext of [undefined, { runAsUser: 0 }]) {
    const stored = await createPod(namespace, filePod({ 'secrets.k8s.aws/secret-arn': ARN }, securityContext === undefined ? {} : { securityContext }));
    const writer = stored.spec?.initContainers?.find((item) => item.name === 'piggy-secret-files');
    t.is(writer?.env?.find((e) => e.name === 'PIGGY_FILE_MODE')?.value, '0444');
    t.is(writer?.securityContext?.runAsNonRoot, true);
  }
});

test('bad ARNs and bad mount paths are denied with the annotation named', async (t) => {
  const name = await createPodDenied(namespace, filePod({ 'secrets.k8s.aws/secret-arn': 'shop/db' }, { securityContext: { fsGroup: 2000 } }));
  t.regex(name, /annotation secrets\.k8s\.aws\/secret-arn: expected full Secrets Manager ARNs/);
  const launcher = await createPodDenied(namespace, filePod({ 'secrets.k8s.aws/secret-arn': ARN, 'secrets.k8s.aws/mount-path': '/piggy' }, { securityContext: { fsGroup: 2000 } }));
  t.regex(launcher, /annotation secrets\.k8s\.aws\/mount-path: must not be \/piggy/);
  const traversal = await createPodDenied(namespace, filePod({ 'secrets.k8s.aws/secret-arn': ARN, 'secrets.k8s.aws/secret-filename': '../etc/passwd' }, { securityContext: { fsGroup: 2000 } }));
  t.regex(traversal, /annotation secrets\.k8s\.aws\/secret-filename: expected relative file names/);
});

test('a mount path an app container already uses is denied, naming the container and the volume', async (t) => {
  const pod = filePod({ 'secrets.k8s.aws/secret-arn': ARN }, { securityContext: { fsGroup: 2000 }, volumes: [{ name: 'scratch', emptyDir: {} }] });
  const app = pod.spec?.containers[0];
  if (app !== undefined) app.volumeMounts = [{ name: 'scratch', mountPath: '/tmp' }];
  const message = await createPodDenied(namespace, pod);
  t.regex(message, /container "app" already mounts volume "scratch" at \/tmp; choose another secrets\.k8s\.aws\/mount-path/);
});
