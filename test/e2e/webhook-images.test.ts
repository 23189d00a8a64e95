// The injection webhook end to end, image entrypoints: a container without `command` is wrapped with
// the ENTRYPOINT/CMD read from the real registry (open and htpasswd-protected, single- and
// multi-arch), following Kubernetes command/args semantics; credentials come from the pod's
// imagePullSecrets, its service account's, or the image-pull-secret annotation.
import test from 'ava';
import type { Pod } from '../../src/webhook/pod.ts';
import { createTestNamespace, kube } from '../helpers/kube.ts';
import { OCI_INDEX, pushImage, pushManifest, type BasicAuth, type Descriptor } from '../helpers/registry.ts';
import { registryAuth, registryHost, uniqueName } from '../helpers/stack.ts';
import {
  assertInjectedOnce,
  assertNoLeak,
  assertWrapped,
  containerOf,
  createPod,
  createPodDenied,
  createScope,
  startWebhookController,
  type WebhookController,
} from '../helpers/webhook.ts';

const scope = createScope();
let controller: WebhookController;
let namespace: string;
const images: Record<string, string> = {};
const digests: Record<string, string> = {};
let auth: (BasicAuth & { host: string }) | undefined;
const PULL_SECRET = 'regcred';
const SERVICE_ACCOUNT = 'puller';

async function pushMultiArch(host: string, repo: string, credentials?: BasicAuth): Promise<Descriptor> {
  const amd64 = await pushImage(host, repo, 'amd64', { entrypoint: ['/amd64/app'], cmd: ['--amd64'] }, credentials);
  const arm64 = await pushImage(host, repo, 'arm64', { entrypoint: ['/arm64/app'], cmd: ['--arm64'], architecture: 'arm64' }, credentials);
  return pushManifest(host, repo, '1', OCI_INDEX, { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [amd64, arm64] }, credentials);
}

test.before(async (t) => {
  namespace = await createTestNamespace(t, 'e2e-wh-images');
  const host = registryHost();
  const repo = uniqueName('wh');
  const single = await pushImage(host, `${repo}/app`, '1', { entrypoint: ['/bin/app', '--serve'], cmd: ['--port', '8080'] });
  await pushImage(host, `${repo}/dollar`, '1', { entrypoint: ['/bin/sh', '-c', 'echo $(HOME) $$PATH'] });
  await pushImage(host, `${repo}/cmd-only`, '1', { cmd: ['/bin/run', 'x'] });
  await pushImage(host, `${repo}/empty`, '1', {});
  const multi = await pushMultiArch(host, `${repo}/multi`);
  Object.assign(images, { app: `${host}/${repo}/app:1`, dollar: `${host}/${repo}/dollar:1`, cmdOnly: `${host}/${repo}/cmd-only:1`, empty: `${host}/${repo}/empty:1`, multi: `${host}/${repo}/multi:1`, missing: `${host}/${repo}/missing:1` });
  Object.assign(digests, { app: single.digest, multi: multi.digest });
  auth = registryAuth();
  if (auth !== undefined) {
    await pushImage(auth.host, `${repo}/private`, '1', { entrypoint: ['/private/app'], cmd: ['--private'] }, auth);
    await pushMultiArch(auth.host, `${repo}/private-multi`, auth);
    Object.assign(images, { private: `${auth.host}/${repo}/private:1`, privateMulti: `${auth.host}/${repo}/private-multi:1` });
    const { core } = kube();
    const dockerConfig = (password: string) => JSON.stringify({ auths: { [auth?.host ?? '']: { username: auth?.username, password, auth: Buffer.from(`${auth?.username ?? ''}:${password}`).toString('base64') } } });
    const secret = (name: string, password: string) => core.createNamespacedSecret({ namespace, body: { metadata: { name }, type: 'kubernetes.io/dockerconfigjson', stringData: { '.dockerconfigjson': dockerConfig(password) } } });
    await secret(PULL_SECRET, auth.password);
    await secret('wrongcred', 'not-the-password');
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: SERVICE_ACCOUNT }, imagePullSecrets: [{ name: PULL_SECRET }] } });
  }
  controller = await startWebhookController(scope, { namespace });
});
test.after.always(() => scope.close());

/**
 * Every test stack starts the htpasswd registry (`npm run local -- up`; only the demo's stack goes
 * without): its absence is a broken harness, so these tests fail saying so (ava has no runtime skip).
 */
const requireAuth = (): void => {
  if (auth === undefined) throw new Error('the test stack has no htpasswd registry (registryAuth in the stack record): restart it with `npm run local -- up`');
};

function imagePod(containers: NonNullable<Pod['spec']>['containers'], extra: { annotations?: Record<string, string>; spec?: Partial<NonNullable<Pod['spec']>> } = {}): Pod {
  return {
    metadata: { name: uniqueName('img'), annotations: { 'piggysec.com/aws-secret-name': `${namespace}/app`, ...extra.annotations } },
    spec: { containers, ...extra.spec },
  };
}
const TOKEN = [{ name: 'TOKEN', value: 'piggy:token' }];
const app = (image: string, more: Partial<NonNullable<Pod['spec']>['containers'][number]> = {}) => ({ name: 'app', image, env: TOKEN, ...more });

test('no command: ENTRYPOINT + CMD read from the open registry', async (t) => {
  const stored = await createPod(namespace, imagePod([app(images.app ?? '')]));
  assertWrapped(t, stored, 'app', ['/bin/app', '--serve', '--port', '8080']);
  assertInjectedOnce(t, stored, ['app']);
  t.is(containerOf(stored, 'app').image, images.app, 'the image is left as written without image-pin-digest');
});

test('Kubernetes command/args semantics: args replace CMD, $(VAR) in args stays for expansion, image strings stay literal, CMD alone runs', async (t) => {
  const stored = await createPod(namespace, imagePod([
    { ...app(images.app ?? ''), name: 'args-only', args: ['--queue', '$(QUEUE)'], env: [{ name: 'QUEUE', value: 'orders' }, ...TOKEN] },
    { ...app(images.dollar ?? ''), name: 'dollar' },
    { ...app(images.cmdOnly ?? ''), name: 'cmd-only' },
    { ...app(images.cmdOnly ?? ''), name: 'cmd-only-args', args: ['/bin/other'] },
  ]));
  assertWrapped(t, stored, 'args-only', ['/bin/app', '--serve', '--queue', '$(QUEUE)']);
  t.deepEqual(containerOf(stored, 'args-only').args, ['--', '/bin/app', '--serve', '--queue', '$$(QUEUE)'], 'the kubelet hands $(QUEUE) to the launcher, which expands it');
  assertWrapped(t, stored, 'dollar', ['/bin/sh', '-c', 'echo $$(HOME) $$$$PATH']);
  assertWrapped(t, stored, 'cmd-only', ['/bin/run', 'x']);
  assertWrapped(t, stored, 'cmd-only-args', ['/bin/other']);
  assertInjectedOnce(t, stored, ['args-only', 'dollar', 'cmd-only', 'cmd-only-args']);
});

test('a container with a command never needs the registry: an unreachable image is wrapped all the same', async (t) => {
  const stored = await createPod(namespace, imagePod([app('127.0.0.1:1/nowhere/app:1', { command: ['/run'], args: ['a b', 'c'] })]));
  assertWrapped(t, stored, 'app', ['/run', 'a b', 'c']);
});

test('multi-arch: linux/amd64 by default, the nodeSelector\'s architecture when the pod pins one', async (t) => {
  const [amd, arm] = await Promise.all([
    createPod(namespace, imagePod([app(images.multi ?? '')])),
    createPod(namespace, imagePod([app(images.multi ?? '')], { spec: { nodeSelector: { 'kubernetes.io/arch': 'arm64' } } })),
  ]);
  assertWrapped(t, amd, 'app', ['/amd64/app', '--amd64']);
  assertWrapped(t, arm, 'app', ['/arm64/app', '--arm64']);
});

test('image-pin-digest pins the container to the digest that was read (the index digest for multi-arch)', async (t) => {
  const pin = { annotations: { 'piggysec.com/image-pin-digest': 'true' } };
  const stored = await createPod(namespace, imagePod([app(images.app ?? ''), { ...app(images.multi ?? ''), name: 'multi' }, { ...app('registry.example.com/x:1'), name: 'with-command', command: ['/x'] }], pin));
  t.is(containerOf(stored, 'app').image, `${images.app ?? ''}@${digests.app ?? ''}`);
  t.is(containerOf(stored, 'multi').image, `${images.multi ?? ''}@${digests.multi ?? ''}`);
  t.is(containerOf(stored, 'with-command').image, 'registry.example.com/x:1', 'an image that was not inspected is not pinned');
});

test('htpasswd registry: the pod\'s imagePullSecrets, even after a missing one (Piggy regression: such pods were never wrapped)', async (t) => {
  requireAuth();
  const stored = await createPod(namespace, imagePod([app(images.private ?? ''), { ...app(images.privateMulti ?? ''), name: 'multi' }], { spec: { imagePullSecrets: [{ name: 'does-not-exist' }, { name: PULL_SECRET }] } }));
  assertWrapped(t, stored, 'app', ['/private/app', '--private']);
  assertWrapped(t, stored, 'multi', ['/amd64/app', '--amd64']);
  assertInjectedOnce(t, stored, ['app', 'multi']);
});

test('htpasswd registry: the service account\'s imagePullSecrets, and the image-pull-secret annotation', async (t) => {
  requireAuth();
  const [viaAccount, viaAnnotation] = await Promise.all([
    createPod(namespace, imagePod([app(images.private ?? '')], { spec: { serviceAccountName: SERVICE_ACCOUNT } })),
    createPod(namespace, imagePod([app(images.privateMulti ?? '')], { annotations: { 'piggysec.com/image-pull-secret': PULL_SECRET }, spec: { nodeSelector: { 'kubernetes.io/arch': 'arm64' } } })),
  ]);
  assertWrapped(t, viaAccount, 'app', ['/private/app', '--private']);
  assertWrapped(t, viaAnnotation, 'app', ['/arm64/app', '--arm64']);
  assertNoLeak(t, controller, [auth?.password ?? '', Buffer.from(`${auth?.username ?? ''}:${auth?.password ?? ''}`).toString('base64')]);
});

test('htpasswd registry: no or wrong credentials deny the pod naming the image, even after another pod read it with credentials', async (t) => {
  requireAuth();
  await createPod(namespace, imagePod([app(images.private ?? '')], { spec: { imagePullSecrets: [{ name: PULL_SECRET }] } }));
  const anonymous = await createPodDenied(namespace, imagePod([app(images.private ?? '')]));
  t.true(anonymous.includes(`container "app" sets no command and the entrypoint of image "${images.private ?? ''}" could not be read`), anonymous);
  t.regex(anonymous, /answered 401 .*no pull secret has credentials for this registry/);
  const wrong = await createPodDenied(namespace, imagePod([app(images.private ?? '')], { spec: { imagePullSecrets: [{ name: 'wrongcred' }] } }));
  t.regex(wrong, /the 1 matching credential from the pull secrets was refused/);
  t.false(wrong.includes('not-the-password'));
});

test('an image the registry does not have, or one with no ENTRYPOINT or CMD, is denied with the reason', async (t) => {
  const missing = await createPodDenied(namespace, imagePod([app(images.missing ?? '')]));
  t.true(missing.includes(`image "${images.missing ?? ''}" could not be read`), missing);
  t.regex(missing, /404/);
  const empty = await createPodDenied(namespace, imagePod([app(images.empty ?? '')]));
  t.true(empty.includes(`image "${images.empty ?? ''}" has no ENTRYPOINT or CMD`), empty);
});
