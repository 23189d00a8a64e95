import test from 'ava';
import { createPullSecretReader, type PullSecretReads } from '../../src/kube/pull-secrets.ts';

/** Fake API reads over mutable maps, counting every call. */
function fakeReads() {
  const accounts = new Map<string, string[]>([['ns/default', ['regcred']]]);
  const secrets = new Map<string, string>([['ns/regcred', '{"auths":{"r":{"auth":"one"}}}']]);
  const calls = { account: 0, secret: 0 };
  let failNext = false;
  const reads: PullSecretReads = {
    readServiceAccount: (namespace, name) => {
      calls.account += 1;
      return Promise.resolve(accounts.get(`${namespace}/${name}`) ?? []);
    },
    readSecret: async (ref) => {
      calls.secret += 1;
      await Promise.resolve();
      if (failNext) {
        failNext = false;
        throw new Error('api down');
      }
      return secrets.get(`${ref.namespace}/${ref.name}`);
    },
  };
  return { reads, accounts, secrets, calls, failOnce: () => (failNext = true) };
}

const input = { namespace: 'ns', serviceAccountName: '', imagePullSecrets: [] as string[], extra: undefined };

test('answers are reused for the TTL, then read again; concurrent misses share one read', async (t) => {
  const fake = fakeReads();
  let now = 1_000;
  const lookups: string[] = [];
  const reader = createPullSecretReader(fake.reads, { ttlMs: 10_000, now: () => now, onLookup: (kind, outcome) => lookups.push(`${kind}:${outcome}`) });
  const results = await Promise.all([reader.read(input), reader.read(input), reader.read(input)]);
  t.deepEqual(results, [['{"auths":{"r":{"auth":"one"}}}'], ['{"auths":{"r":{"auth":"one"}}}'], ['{"auths":{"r":{"auth":"one"}}}']]);
  t.deepEqual(fake.calls, { account: 1, secret: 1 });
  fake.secrets.set('ns/regcred', '{"auths":{"r":{"auth":"two"}}}');
  now += 9_999;
  t.deepEqual(await reader.read(input), ['{"auths":{"r":{"auth":"one"}}}'], 'still inside the TTL');
  now += 1;
  t.deepEqual(await reader.read(input), ['{"auths":{"r":{"auth":"two"}}}'], 'expired: read again');
  t.deepEqual(fake.calls, { account: 2, secret: 2 });
  t.true(lookups.includes('secret:hit') && lookups.includes('secret:miss'));
});

test('fresh bypasses and refreshes the cache; a missing Secret (404) is cached too; failures are not', async (t) => {
  const fake = fakeReads();
  const reader = createPullSecretReader(fake.reads, { ttlMs: 60_000, now: () => 0 });
  const missing = { ...input, imagePullSecrets: ['later'] };
  t.deepEqual(await reader.read(missing), ['{"auths":{"r":{"auth":"one"}}}']);
  fake.secrets.set('ns/later', '{"auths":{"x":{}}}');
  t.deepEqual(await reader.read(missing), ['{"auths":{"r":{"auth":"one"}}}'], 'the 404 is remembered');
  t.deepEqual(await reader.read(missing, { fresh: true }), ['{"auths":{"x":{}}}', '{"auths":{"r":{"auth":"one"}}}']);
  t.deepEqual(await reader.read(missing), ['{"auths":{"x":{}}}', '{"auths":{"r":{"auth":"one"}}}'], 'the fresh answer is cached');

  const second = fakeReads();
  const reader2 = createPullSecretReader(second.reads, { ttlMs: 60_000, now: () => 0 });
  second.failOnce();
  await t.throwsAsync(reader2.read(input), { message: 'api down' });
  t.deepEqual(await reader2.read(input), ['{"auths":{"r":{"auth":"one"}}}'], 'the failure was not cached');
});

test('TTL 0 reads through every time; the entry count is bounded', async (t) => {
  const fake = fakeReads();
  const off = createPullSecretReader(fake.reads, { ttlMs: 0 });
  await off.read(input);
  await off.read(input);
  t.deepEqual(fake.calls, { account: 2, secret: 2 });

  const bounded = fakeReads();
  const small = createPullSecretReader(bounded.reads, { ttlMs: 60_000, maxEntries: 2, now: () => 0 });
  for (const account of ['a', 'b', 'c']) await small.read({ ...input, serviceAccountName: account });
  await small.read({ ...input, serviceAccountName: 'a' });
  t.is(bounded.calls.account, 4, 'the oldest entry (a) was evicted');
});
