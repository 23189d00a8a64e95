import test from 'ava';
import { keysWithReferences } from '../../src/webhook/ref-lookup.ts';

const b64 = (text: string) => Buffer.from(text).toString('base64');

test('ConfigMap data: keys whose value starts with piggy:', (t) => {
  t.deepEqual([...keysWithReferences({ a: 'piggy:x', b: 'plain', c: 'PIGGY:x', d: ' piggy:x' }, 'text')], ['a']);
  t.deepEqual([...keysWithReferences(undefined, 'text')], []);
});

test('Secret data: only the first bytes are decoded, the prefix must be exact', (t) => {
  const data = { ref: b64('piggy:db-password'), newline: b64('piggy:TEST_ENV\n'), plain: b64('hunter2'), short: b64('pig'), empty: '', near: b64('piggy-x') };
  t.deepEqual([...keysWithReferences(data, 'base64')].sort(), ['newline', 'ref']);
});
