// PooledKubeConfig: every request after the first reuses the first request's dispatcher and still
// gets its own credentials headers (bearer token or basic auth), as the library sets them.
import test from 'ava';
import { HttpMethod, KubeConfig, RequestContext } from '@kubernetes/client-node';
import { PooledKubeConfig } from '../../src/kube/pooled-kube-config.ts';

const CA = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64');

function load<T extends KubeConfig>(kc: T, user: Record<string, string>): T {
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:6443', caData: CA }],
    users: [{ name: 'u', ...user }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

async function contexts(kc: KubeConfig, count: number): Promise<RequestContext[]> {
  const made: RequestContext[] = [];
  for (let i = 0; i < count; i++) {
    const context = new RequestContext('https://127.0.0.1:6443/api/v1/secrets', HttpMethod.GET);
    await kc.applySecurityAuthentication(context);
    made.push(context);
  }
  return made;
}

/** Counts the library's own dispatcher builds (a private method, wrapped on the instance). */
function countDispatcherBuilds(kc: KubeConfig): () => number {
  const target = kc as unknown as { createDispatcher: (...args: unknown[]) => unknown };
  const original = target.createDispatcher;
  let builds = 0;
  target.createDispatcher = (...args) => {
    builds++;
    return original.apply(kc, args);
  };
  return () => builds;
}

test('one dispatcher for every request, built once, each request with the bearer token', async (t) => {
  const kc = load(new PooledKubeConfig(), { token: 'the-token' });
  const builds = countDispatcherBuilds(kc);
  const made = await contexts(kc, 3);
  t.is(builds(), 1, 'later requests do not build (and then destroy) an Agent of their own');
  const first = made[0]?.getDispatcher();
  t.truthy(first);
  for (const context of made) {
    t.is(context.getDispatcher(), first);
    t.is(context.getHeaders().Authorization, 'Bearer the-token');
  }
  await kc.close();
});

test('basic auth is set on the pooled requests too', async (t) => {
  const kc = load(new PooledKubeConfig(), { username: 'admin', password: 'pw' });
  const made = await contexts(kc, 2);
  const expected = `Basic ${Buffer.from('admin:pw').toString('base64')}`;
  t.deepEqual(made.map((context) => context.getHeaders().Authorization), [expected, expected]);
  t.is(made[1]?.getDispatcher(), made[0]?.getDispatcher());
  await kc.close();
});

test('why it exists: the library alone builds a new dispatcher per request', async (t) => {
  const kc = load(new KubeConfig(), { token: 'the-token' });
  const builds = countDispatcherBuilds(kc);
  const made = await contexts(kc, 2);
  t.is(builds(), 2);
  t.not(made[0]?.getDispatcher(), made[1]?.getDispatcher());
  for (const context of made) {
    const dispatcher = context.getDispatcher();
    if (dispatcher !== undefined) await new Promise<void>((resolve) => dispatcher.close(() => resolve()));
  }
});
