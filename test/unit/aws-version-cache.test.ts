import test from 'ava';
import { createVersionCache, measureVersionBytes, type SecretVersionValue, type VersionKey } from '../../src/aws/version-cache.ts';

const key = (versionId: string, secretId = 's'): VersionKey => ({ region: 'r', secretId, versionId });

/** A value whose measured size is exactly `bytes` (versionId "v" + name "n" + empty arn = 2 bytes). */
function valueOf(bytes: number): SecretVersionValue {
  return { versionId: 'v', name: 'n', arn: '', secretString: 'x'.repeat(bytes - 2) };
}

test('the size of a value counts its payload and metadata in UTF-8 bytes', (t) => {
  t.is(measureVersionBytes({ versionId: 'ab', name: 'cd', arn: 'ef', secretString: 'é' }), 8);
  t.is(measureVersionBytes({ versionId: 'v', name: 'n', arn: 'a', secretBinary: new Uint8Array(10) }), 13);
  t.is(measureVersionBytes(valueOf(100)), 100);
});

test('entries beyond the byte cap are evicted least recently used first', (t) => {
  const cache = createVersionCache({ maxBytes: 300 });
  t.true(cache.set(key('a'), valueOf(100)));
  t.true(cache.set(key('b'), valueOf(100)));
  t.true(cache.set(key('c'), valueOf(100)));
  t.is(cache.bytes(), 300);
  t.truthy(cache.get(key('a')), 'a is now the most recently used');
  t.true(cache.set(key('d'), valueOf(100)));
  t.false(cache.has(key('b')), 'b was the least recently used');
  t.true(cache.has(key('a')));
  t.true(cache.has(key('c')));
  t.true(cache.has(key('d')));
  t.is(cache.size(), 3);
  t.is(cache.bytes(), 300);

  t.true(cache.set(key('e'), valueOf(250)));
  t.deepEqual(['a', 'c', 'd', 'e'].filter((id) => cache.has(key(id))), ['e'], 'as many as needed are evicted');
  t.is(cache.bytes(), 250);
});

test('has() does not refresh an entry; get() does', (t) => {
  const cache = createVersionCache({ maxBytes: 200 });
  cache.set(key('a'), valueOf(100));
  cache.set(key('b'), valueOf(100));
  t.true(cache.has(key('a')));
  cache.set(key('c'), valueOf(100));
  t.false(cache.has(key('a')));
  t.true(cache.has(key('b')));
});

test('a value larger than the cap is not cached and evicts nothing', (t) => {
  const cache = createVersionCache({ maxBytes: 100 });
  cache.set(key('a'), valueOf(60));
  t.false(cache.set(key('big'), valueOf(101)));
  t.false(cache.has(key('big')));
  t.true(cache.has(key('a')));
  t.is(cache.bytes(), 60);
});

test('replacing and deleting keep the byte total right', (t) => {
  const changes: number[] = [];
  const cache = createVersionCache({ maxBytes: 1000, onBytesChange: (bytes) => changes.push(bytes) });
  cache.set(key('a'), valueOf(100));
  cache.set(key('a'), valueOf(40));
  t.is(cache.size(), 1);
  t.is(cache.bytes(), 40);
  t.true(cache.delete(key('a')));
  t.false(cache.delete(key('a')));
  t.is(cache.bytes(), 0);
  t.is(cache.size(), 0);
  t.deepEqual(changes, [100, 40, 0]);
});

test('keys are (region, secretId, versionId) without collisions', (t) => {
  const cache = createVersionCache({ maxBytes: 1000 });
  cache.set({ region: 'r', secretId: 'a/b', versionId: 'c' }, valueOf(10));
  t.false(cache.has({ region: 'r', secretId: 'a', versionId: 'b/c' }));
  t.false(cache.has({ region: 'x', secretId: 'a/b', versionId: 'c' }));
  t.true(cache.has({ region: 'r', secretId: 'a/b', versionId: 'c' }));
});

test('a cap of 0 caches nothing; a negative cap is refused', (t) => {
  const cache = createVersionCache({ maxBytes: 0 });
  t.false(cache.set(key('a'), valueOf(10)));
  t.is(cache.size(), 0);
  t.throws(() => createVersionCache({ maxBytes: -1 }), { instanceOf: RangeError });
});
