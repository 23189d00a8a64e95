import test from 'ava';
import { applyJsonPatch, diffJson, escapePointerSegment, isJsonEqual } from '../../src/webhook/json-patch.ts';

test('pointer segments escape ~ before /', (t) => {
  t.is(escapePointerSegment('piggysec.com/piggy-uid'), 'piggysec.com~1piggy-uid');
  t.is(escapePointerSegment('a~b/c'), 'a~0b~1c');
  t.is(escapePointerSegment('~1'), '~01');
});

test('equal documents give no operations', (t) => {
  const doc = { a: [1, { b: 'x' }], c: null, d: { e: true } };
  t.deepEqual(diffJson(doc, structuredClone(doc)), []);
  t.deepEqual(diffJson({ a: 1, b: 2 }, { b: 2, a: 1 }), [], 'key order does not matter');
});

const pairs: [string, unknown, unknown][] = [
  ['add a key', { a: 1 }, { a: 1, b: { c: [1] } }],
  ['remove a key', { a: 1, b: 2 }, { a: 1 }],
  ['replace a scalar', { a: 1 }, { a: '1' }],
  ['add a key with / and ~', { metadata: {} }, { metadata: { annotations: { 'piggysec.com/piggy-uid': '{}', 'x~y': 'z' } } }],
  ['add to an existing map with /', { m: { 'a/b': '1' } }, { m: { 'a/b': '2', 'c/d': '3' } }],
  ['prepend to an array', { l: [{ n: 'b' }, { n: 'c' }] }, { l: [{ n: 'a' }, { n: 'b' }, { n: 'c' }] }],
  ['prepend two', { l: [3] }, { l: [1, 2, 3] }],
  ['append to an array', { l: [1] }, { l: [1, 2, 3] }],
  ['insert at both ends', { l: [2] }, { l: [1, 2, 3] }],
  ['change inside an array element', { l: [{ env: [{ name: 'a' }] }] }, { l: [{ env: [{ name: 'a' }, { name: 'b' }] }] }],
  ['reorder an array', { l: [1, 2, 3] }, { l: [3, 1, 2, 4] }],
  ['shrink an array', { l: [1, 2, 3] }, { l: [1] }],
  ['object to array', { a: { b: 1 } }, { a: [1] }],
  ['null to object', { a: null }, { a: { b: 1 } }],
  ['root replace', [1], { a: 1 }],
];

for (const [title, before, after] of pairs) {
  test(`diff then apply reproduces the target: ${title}`, (t) => {
    const ops = diffJson(before, after);
    t.true(ops.length > 0);
    t.true(isJsonEqual(applyJsonPatch(before, ops), after), JSON.stringify(ops));
    t.deepEqual(before, structuredClone(before), 'the input is not modified');
  });
}

test('prepending init containers becomes adds at the front, not a replace', (t) => {
  const ops = diffJson({ spec: { initContainers: [{ name: 'user' }] } }, { spec: { initContainers: [{ name: 'install-piggy-env' }, { name: 'user' }] } });
  t.deepEqual(ops, [{ op: 'add', path: '/spec/initContainers/0', value: { name: 'install-piggy-env' } }]);
});

test('applying rejects paths that do not exist', (t) => {
  t.throws(() => applyJsonPatch({ a: {} }, [{ op: 'replace', path: '/a/b', value: 1 }]));
  t.throws(() => applyJsonPatch({ a: [] }, [{ op: 'add', path: '/a/2', value: 1 }]));
  t.throws(() => applyJsonPatch({}, [{ op: 'add', path: '/x/y', value: 1 }]));
});
