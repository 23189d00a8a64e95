// diffJson's patches, applied by an independent RFC 6902 implementation (fast-json-patch, with its
// validation on: a path that does not exist or an index out of range throws), must give the target.
import test from 'ava';
import jsonPatch from 'fast-json-patch';
import { diffJson, escapePointerSegment } from '../../src/webhook/json-patch.ts';

const { applyPatch, validate } = jsonPatch;

/** `document` after `ops`, by fast-json-patch; the input is not touched. */
function applyIndependently(document: unknown, ops: ReturnType<typeof diffJson>): unknown {
  return applyPatch(document, ops, true, false).newDocument;
}

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

test('documents that differ anywhere give operations', (t) => {
  t.notDeepEqual(diffJson({ a: [1, { b: 'x' }] }, { a: [1, { b: 'y' }] }), []);
  t.notDeepEqual(diffJson({ a: null }, { a: 0 }), []);
  t.notDeepEqual(diffJson({ a: [] }, { a: {} }), []);
});

const pairs: [string, unknown, unknown][] = [
  ['add a key', { a: 1 }, { a: 1, b: { c: [1] } }],
  ['remove a key', { a: 1, b: 2 }, { a: 1 }],
  ['replace a scalar', { a: 1 }, { a: '1' }],
  ['add a key with / and ~', { metadata: {} }, { metadata: { annotations: { 'piggysec.com/piggy-uid': '{}', 'x~y': 'z' } } }],
  ['add to an existing map with /', { m: { 'a/b': '1' } }, { m: { 'a/b': '2', 'c/d': '3' } }],
  ['keys that look like escapes', { m: { '~1': 'a', '~0': 'b' } }, { m: { '~1': 'c', '/': 'd' } }],
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
  test(`diff then apply (fast-json-patch) reproduces the target: ${title}`, (t) => {
    const untouched = structuredClone(before);
    const ops = diffJson(before, after);
    t.true(ops.length > 0);
    const problem: unknown = validate(ops, before);
    t.is(problem, undefined, 'every operation is valid against the original document');
    t.deepEqual(applyIndependently(before, ops), after, JSON.stringify(ops));
    t.deepEqual(before, untouched, 'diffJson does not modify its input');
  });
}

test('prepending init containers becomes adds at the front, not a replace', (t) => {
  const before = { spec: { initContainers: [{ name: 'user' }] } };
  const after = { spec: { initContainers: [{ name: 'install-piggy-env' }, { name: 'user' }] } };
  const ops = diffJson(before, after);
  t.deepEqual(ops, [{ op: 'add', path: '/spec/initContainers/0', value: { name: 'install-piggy-env' } }]);
  t.deepEqual(applyIndependently(before, ops), after);
});
