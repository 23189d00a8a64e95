import test from 'ava';
import { buildBinaryData, buildSecretData, buildStringData, hashSecretData, isValidSecretKey } from '../../src/controller/secret-data.ts';

const decode = (data: Readonly<Record<string, string>>): Record<string, string> =>
  Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]));

test('a JSON object becomes one key per field; numbers, booleans, null and nested values become JSON text', (t) => {
  const result = buildStringData({ secretString: JSON.stringify({ username: 'app', port: 5432, ssl: true, extra: null, nested: { a: [1, 'b'] } }) });
  if (!result.ok) return t.fail(result.problems.join());
  t.deepEqual(decode(result.data), { username: 'app', port: '5432', ssl: 'true', extra: 'null', nested: '{"a":[1,"b"]}' });
});

test('a non-JSON SecretString, or JSON that is not an object, becomes the single key "data"', (t) => {
  for (const text of ['hunter2', '"quoted"', '[1,2]', '42', '']) {
    const result = buildStringData({ secretString: text });
    if (!result.ok) return t.fail(result.problems.join());
    t.deepEqual(decode(result.data), { data: text }, text);
  }
});

test('a binary secret lands under "data" byte for byte', (t) => {
  const bytes = Uint8Array.from([0, 255, 1, 128]);
  const result = buildStringData({ secretBinary: bytes });
  if (!result.ok) return t.fail(result.problems.join());
  t.deepEqual([...Buffer.from(result.data.data ?? '', 'base64')], [0, 255, 1, 128]);
});

test('invalid key names are reported by name, never dropped', (t) => {
  const result = buildStringData({ secretString: JSON.stringify({ good: 'x', 'bad key': 'SECRET-1', 'a/b': 'SECRET-2', '..': 'SECRET-3' }) });
  if (result.ok) return t.fail('expected a problem');
  t.is(result.problems.length, 1);
  t.regex(result.problems[0] ?? '', /3 key\(s\) are not valid Secret keys/);
  t.regex(result.problems[0] ?? '', /"bad key"/);
  t.false((result.problems[0] ?? '').includes('SECRET-'), 'values never appear');
});

test('dataFrom decodes a JSON object of base64 values and reports invalid base64 by key', (t) => {
  const ok = buildBinaryData({ secretString: JSON.stringify({ cert: Buffer.from('PEM').toString('base64') }) });
  if (!ok.ok) return t.fail(ok.problems.join());
  t.deepEqual(decode(ok.data), { cert: 'PEM' });
  const bad = buildBinaryData({ secretString: JSON.stringify({ cert: 'not base64!', other: 42 }) });
  if (bad.ok) return t.fail('expected problems');
  t.deepEqual(bad.problems, [
    'dataFrom: the value of key "cert" is not valid base64',
    'dataFrom: the value of key "other" is not valid base64',
  ]);
  const notJson = buildBinaryData({ secretString: 'plain' });
  t.false(notJson.ok);
});

test('both sources merge; stringDataFrom wins a key collision', (t) => {
  const spec = {
    stringDataFrom: { secretsManagerSecretRef: { secretId: 'ns/a', versionId: 'v1' } },
    dataFrom: { secretsManagerSecretRef: { secretId: 'ns/b', versionId: 'v2' } },
  };
  const result = buildSecretData(spec, {
    stringDataFrom: { secretString: JSON.stringify({ shared: 'from-string', s: '1' }) },
    dataFrom: { secretString: JSON.stringify({ shared: Buffer.from('from-data').toString('base64'), d: Buffer.from('2').toString('base64') }) },
  });
  if (!result.ok) return t.fail(result.problems.join());
  t.deepEqual(decode(result.data), { shared: 'from-string', s: '1', d: '2' });
});

const KEY = Buffer.alloc(32, 1);

test('the data hash depends on keys, values, type and key, not on key order', (t) => {
  const a = hashSecretData({ x: 'MQ==', y: 'Mg==' }, 'Opaque', KEY);
  t.is(a, hashSecretData({ y: 'Mg==', x: 'MQ==' }, 'Opaque', KEY));
  t.not(a, hashSecretData({ x: 'MQ==', y: 'Mw==' }, 'Opaque', KEY));
  t.not(a, hashSecretData({ x: 'MQ==', y: 'Mg==' }, 'kubernetes.io/basic-auth', KEY));
  t.not(hashSecretData({ ab: '', c: '' }, 'Opaque', KEY), hashSecretData({ a: '', bc: '' }, 'Opaque', KEY));
  t.regex(a, /^hmac-sha256:[0-9a-f]{64}$/);
  t.not(a, hashSecretData({ x: 'MQ==', y: 'Mg==' }, 'Opaque', Buffer.alloc(32, 2)), 'another key, another hash');
});

test('Secret key rules', (t) => {
  for (const key of ['a', 'A-b_c.d', '.dotfile', 'x'.repeat(253)]) t.true(isValidSecretKey(key), key);
  for (const key of ['', '.', '..', 'a b', 'a/b', 'é', 'x'.repeat(254)]) t.false(isValidSecretKey(key), key);
});
