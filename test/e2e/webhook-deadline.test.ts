// The injection webhook end to end, its own deadline: when the controller's reads through the API
// server hang (ConfigMap/Secret lookups, the pull secrets of an image read), the webhook still
// answers within WEBHOOK_DEADLINE with a denial that says what timed out, well before the API
// server's own timeout turns it into an opaque "context deadline exceeded".
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import type { Pod } from '../../src/webhook/pod.ts';
import { createTestNamespace, kube } from '../helpers/kube.ts';
import { pushImage } from '../helpers/registry.ts';
import { kubeConfigPath, registryHost, uniqueName } from '../helpers/stack.ts';
import { makeServingCertificate } from '../helpers/tls.ts';
import { createPodDenied, startWebhookController } from '../helpers/webhook.ts';

/** A TCP pass-through to the API server; once frozen, no byte moves on any connection, old or new. */
async function freezableApiserver(t: ExecutionContext): Promise<{ kubeconfig: string; freeze: () => void }> {
  const upstream = new URL(kube().kc.getCurrentCluster()?.server ?? '');
  const sockets = new Set<Socket>();
  const pairs: [Socket, Socket][] = [];
  let frozen = false;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  const server = createServer((client) => {
    track(client);
    client.on('error', () => client.destroy());
    if (frozen) return;
    const target = connect(Number(upstream.port), upstream.hostname);
    track(target);
    target.on('error', () => client.destroy());
    client.pipe(target).pipe(client);
    pairs.push([client, target]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const dir = (await makeServingCertificate()).dir;
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, readFileSync(kubeConfigPath(), 'utf8').replaceAll(upstream.origin, `https://127.0.0.1:${port}`));
  const freeze = () => {
    frozen = true;
    for (const [client, target] of pairs) {
      client.unpipe(target).pause();
      target.unpipe(client).pause();
    }
  };
  return { kubeconfig, freeze };
}

test('API reads that hang: the webhook denies within its deadline, naming what timed out (lookups and pull secrets alike)', async (t) => {
  const namespace = await createTestNamespace(t, 'e2e-wh-deadline');
  const apiserver = await freezableApiserver(t);
  const repo = uniqueName('deadline');
  await pushImage(registryHost(), `${repo}/app`, '1', { entrypoint: ['/bin/app'] });
  await startWebhookController(t, { namespace, env: { KUBECONFIG: apiserver.kubeconfig, WEBHOOK_DEADLINE: '2s' } });
  apiserver.freeze();
  const pod = (container: NonNullable<Pod['spec']>['containers'][number]): Pod => ({
    metadata: { name: uniqueName('deadline'), annotations: { 'piggysec.com/aws-secret-name': `${namespace}/app` } },
    spec: { containers: [container] },
  });

  let started = Date.now();
  const lookup = await createPodDenied(namespace, pod({ name: 'app', image: 'app:1', command: ['/app'], env: [{ name: 'K', valueFrom: { configMapKeyRef: { name: 'cm', key: 'k' } } }] }));
  t.regex(lookup, /cannot read the ConfigMaps\/Secrets the containers' env refers to: timed out/);
  t.true(Date.now() - started < 8_000, `ConfigMap lookup: denied after ${Date.now() - started} ms`);

  started = Date.now();
  const image = `${registryHost()}/${repo}/app:1`;
  const pullSecrets = await createPodDenied(namespace, pod({ name: 'app', image, env: [{ name: 'T', value: 'piggy:t' }] }));
  t.false(/context deadline exceeded/.test(pullSecrets), `the webhook answered itself: ${pullSecrets}`);
  t.true(pullSecrets.includes(`image "${image}" could not be read: timed out`), pullSecrets);
  t.true(Date.now() - started < 8_000, `pull-secret read: denied after ${Date.now() - started} ms`);
});
