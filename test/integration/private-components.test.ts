import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { isRunning } from '../../scripts/local/procs.ts';
import { kube } from '../helpers/kube.ts';
import { startPrivateApiserver, startPrivateMoto } from '../helpers/private-components.ts';
import { awsEnv, uniqueName } from '../helpers/stack.ts';

const seconds = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(2)}s`;

/** Runs fn and logs how long it took. */
async function timed<T>(t: ExecutionContext, what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const result = await fn();
  t.log(`${what}: ${seconds(t0)}`);
  return result;
}

const status = (err: unknown): number | undefined => (err instanceof ApiException ? err.code : undefined);

test('a private moto stops for real and comes back empty on the same endpoint', async (t) => {
  const moto = await timed(t, 'private moto start', () => startPrivateMoto(t));
  t.not(moto.endpoint, awsEnv().AWS_ENDPOINT_URL, 'not the shared moto');
  t.is(moto.env.AWS_ENDPOINT_URL, moto.endpoint);
  const client = new SecretsManagerClient({ endpoint: moto.endpoint, region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  t.teardown(() => client.destroy());
  const name = `${uniqueName('private')}/db`;
  await client.send(new CreateSecretCommand({ Name: name, SecretString: 'before' }));
  t.is((await client.send(new GetSecretValueCommand({ SecretId: name }))).SecretString, 'before');

  const pid = moto.pid;
  if (pid === undefined) return t.fail('a started moto has a pid');
  await timed(t, 'private moto stop', () => moto.stop());
  t.false(isRunning(pid), 'the moto process is gone (or a zombie)');
  t.is(moto.pid, undefined);
  const down = await t.throwsAsync(client.send(new GetSecretValueCommand({ SecretId: name })));
  t.regex(`${down.name} ${down.message} ${String((down as NodeJS.ErrnoException).code)}`, /ECONNREFUSED/);

  await timed(t, 'private moto restart', () => moto.start());
  t.not(moto.pid, undefined);
  t.not(moto.pid, pid);
  // moto keeps state in memory: the restarted server is empty, the same client works again.
  const gone = await t.throwsAsync(client.send(new GetSecretValueCommand({ SecretId: name })));
  t.is(gone.name, 'ResourceNotFoundException');
  await client.send(new CreateSecretCommand({ Name: name, SecretString: 'after' }));
  t.is((await client.send(new GetSecretValueCommand({ SecretId: name }))).SecretString, 'after');
});

test('a private apiserver restarts on the same port with its data, apart from the shared one', async (t) => {
  const apiserver = await timed(t, 'private apiserver start', () => startPrivateApiserver(t));
  const kc = new KubeConfig();
  kc.loadFromFile(apiserver.kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  t.is(kc.getCurrentCluster()?.server, apiserver.url);
  t.not(apiserver.url, kube().kc.getCurrentCluster()?.server, 'not the shared apiserver');

  const namespace = uniqueName('private');
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'kept' }, data: { key: 'value' } } });

  // Prefix isolation: the shared apiserver on the same etcd sees neither object.
  const sharedNs = await t.throwsAsync(kube().core.readNamespace({ name: namespace }));
  t.is(status(sharedNs), 404);
  const sharedCm = await t.throwsAsync(kube().core.readNamespacedConfigMap({ namespace, name: 'kept' }));
  t.is(status(sharedCm), 404);

  const pid = apiserver.pid;
  if (pid === undefined) return t.fail('a started apiserver has a pid');
  await timed(t, 'private apiserver stop', () => apiserver.stop());
  t.false(isRunning(pid), 'the apiserver process is gone (or a zombie)');
  const down = await t.throwsAsync(core.readNamespacedConfigMap({ namespace, name: 'kept' }));
  t.is(status(down), undefined, 'a connection error, not an HTTP answer');

  await timed(t, 'private apiserver restart', () => apiserver.start());
  t.not(apiserver.pid, pid);
  const again = new KubeConfig();
  again.loadFromFile(apiserver.kubeconfig);
  t.is(again.getCurrentCluster()?.server, apiserver.url, 'the kubeconfig still names the same port');
  const cm = await core.readNamespacedConfigMap({ namespace, name: 'kept' });
  t.deepEqual(cm.data, { key: 'value' });
  t.is(status(await t.throwsAsync(kube().core.readNamespacedConfigMap({ namespace, name: 'kept' }))), 404);
});
