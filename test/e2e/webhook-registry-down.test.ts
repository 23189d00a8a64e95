// The injection webhook end to end, registry failures: a container without `command` whose image
// config cannot be read is never admitted with literal `piggy:` values. Refused and hanging
// registries deny the pod with a message naming the image, within the API server's timeout; the
// image-failure-policy annotation admits it unwrapped with a warning; a registry outage after an
// image was read keeps serving the entrypoint that was read.
import { createServer, connect, type Server, type Socket } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import type { Pod } from '../../src/webhook/pod.ts';
import { createTestNamespace } from '../helpers/kube.ts';
import { pushImage } from '../helpers/registry.ts';
import { kubectl, registryHost, uniqueName } from '../helpers/stack.ts';
import { assertNotWrapped, assertWrapped, containerOf, createPod, createPodDenied, createScope, startWebhookController, type Owner, type WebhookController } from '../helpers/webhook.ts';

const scope = createScope();
let controller: WebhookController;
let namespace: string;

test.before(async (t) => {
  namespace = await createTestNamespace(t, 'e2e-wh-down');
  controller = await startWebhookController(scope, { namespace });
});
test.after.always(() => scope.close());

/** A TCP listener that owns its sockets, so stop() really makes the address refuse or hang. */
async function listen(owner: Owner, onSocket: (socket: Socket) => void): Promise<{ port: number; stop: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  owner.teardown(stop);
  return { port, stop };
}

/** A port nothing listens on (a listener opened and closed again). */
async function closedPort(t: ExecutionContext): Promise<number> {
  const { port, stop } = await listen(t, () => undefined);
  await stop();
  return port;
}

function imagePod(image: string, annotations: Record<string, string> = {}): Pod {
  return {
    metadata: { name: uniqueName('down'), annotations: { 'piggysec.com/aws-secret-name': `${namespace}/app`, ...annotations } },
    spec: { containers: [{ name: 'app', image, env: [{ name: 'TOKEN', value: 'piggy:token' }] }] },
  };
}

test('registry refuses connections: the pod is denied, the message names the image and says why', async (t) => {
  const image = `127.0.0.1:${await closedPort(t)}/shop/app:1`;
  const message = await createPodDenied(namespace, imagePod(image));
  t.true(message.includes(`container "app" sets no command and the entrypoint of image "${image}" could not be read`), message);
  t.regex(message, /set a command on the container, or piggysec\.com\/image-failure-policy: "admit"/);
  // The log line may arrive after the API server's answer: wait for it.
  const denied = await controller.piggy.waitForLog((line) => line.msg === 'admission denied' && JSON.stringify(line.reasons).includes(image), 10_000);
  t.like(denied, { code: 'ERR_WEBHOOK_UNAVAILABLE', status: 503 });
});

test('registry hangs: the pod is denied before the API server gives up (10 s), naming the image', async (t) => {
  const { port } = await listen(t, () => undefined);
  const image = `127.0.0.1:${port}/shop/app:1`;
  const started = Date.now();
  const message = await createPodDenied(namespace, imagePod(image));
  const elapsed = Date.now() - started;
  t.true(message.includes(`image "${image}" could not be read`), message);
  t.false(/context deadline exceeded|failed calling webhook/.test(message), 'the webhook answered; the API server did not time out');
  t.true(elapsed < 10_000, `denied after ${elapsed} ms`);
  t.log(`hanging registry: denied after ${elapsed} ms`);
});

test('image-failure-policy: admit lets the pod in unwrapped, with a warning naming the container', async (t) => {
  const image = `127.0.0.1:${await closedPort(t)}/shop/app:1`;
  const pod = imagePod(image, { 'piggysec.com/image-failure-policy': 'admit' });
  pod.spec?.containers.push({ name: 'with-command', image, command: ['/run'], env: [{ name: 'TOKEN', value: 'piggy:token' }] });
  const created = await kubectl(['create', '--namespace', namespace, '--output', 'json', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', ...pod }) });
  t.is(created.code, 0, created.stderr);
  t.regex(created.stderr, /Warning: piggy did not wrap container "app"/);
  const stored = JSON.parse(created.stdout) as Pod;
  assertNotWrapped(t, stored, 'app');
  assertWrapped(t, stored, 'with-command', ['/run']);
});

/** A TCP forwarder to the real registry that can be switched off. */
async function switchableRegistry(t: ExecutionContext): Promise<{ host: string; stop: () => Promise<void> }> {
  const [upstreamHost = '127.0.0.1', upstreamPort = '0'] = registryHost().split(':');
  const { port, stop } = await listen(t, (client) => {
    const upstream = connect(Number(upstreamPort), upstreamHost);
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    client.pipe(upstream).pipe(client);
  });
  return { host: `127.0.0.1:${port}`, stop };
}

test('registry goes down after an image was read: the entrypoint read before keeps pods admitted, a new image is denied', async (t) => {
  const own = await createTestNamespace(t, 'e2e-wh-stale');
  // A tag is re-validated on every admission (1 ms TTL), so the second pod meets the outage.
  const ownController = await startWebhookController(t, { namespace: own, env: { IMAGE_TAG_TTL: '1ms' } });
  const repo = uniqueName('stale');
  await pushImage(registryHost(), `${repo}/app`, '1', { entrypoint: ['/bin/app'] });
  await pushImage(registryHost(), `${repo}/other`, '1', { entrypoint: ['/bin/other'] });
  const registry = await switchableRegistry(t);
  const pod = (image: string): Pod => ({ metadata: { name: uniqueName('stale'), annotations: { 'piggysec.com/aws-secret-name': `${own}/app` } }, spec: { containers: [{ name: 'app', image, env: [{ name: 'T', value: 'piggy:t' }] }] } });
  const image = `${registry.host}/${repo}/app:1`;
  assertWrapped(t, await createPod(own, pod(image)), 'app', ['/bin/app']);
  await registry.stop();
  const during = await createPod(own, pod(image));
  assertWrapped(t, during, 'app', ['/bin/app']);
  t.is(containerOf(during, 'app').image, image);
  await ownController.piggy.waitForLog((line) => line.msg === 'registry unreachable, serving the cached tag', 10_000);
  const message = await createPodDenied(own, pod(`${registry.host}/${repo}/other:1`));
  t.true(message.includes(`image "${registry.host}/${repo}/other:1" could not be read`), message);
});
