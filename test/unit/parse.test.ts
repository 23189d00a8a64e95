import test from 'ava';
import {
  parseBoolean,
  parseDuration,
  parseEnum,
  parseHostPort,
  parseInteger,
  parseNonEmpty,
} from '../../src/config/parse.ts';

test('durations in Go syntax become milliseconds', (t) => {
  t.deepEqual(parseDuration('500ms'), { ok: true, value: 500 });
  t.deepEqual(parseDuration('30s'), { ok: true, value: 30_000 });
  t.deepEqual(parseDuration('1h30m'), { ok: true, value: 5_400_000 });
  t.deepEqual(parseDuration('1.5s'), { ok: true, value: 1_500 });
  for (const bad of ['', '30', 's', '5 m', '1d', '-1s', '1s2']) t.false(parseDuration(bad).ok, bad);
});

test('booleans follow Go strconv.ParseBool and never default to false', (t) => {
  for (const yes of ['1', 't', 'T', 'true', 'TRUE', 'True']) t.deepEqual(parseBoolean(yes), { ok: true, value: true });
  for (const no of ['0', 'f', 'F', 'false', 'FALSE', 'False']) t.deepEqual(parseBoolean(no), { ok: true, value: false });
  for (const bad of ['yes', 'no', '', 'tru', 'on']) t.false(parseBoolean(bad).ok, bad);
});

test('integers are bounded', (t) => {
  t.deepEqual(parseInteger('3', 0, 10), { ok: true, value: 3 });
  t.false(parseInteger('11', 0, 10).ok);
  t.false(parseInteger('-1', 0, 10).ok);
  t.false(parseInteger('2.5', 0, 10).ok);
  t.false(parseInteger('x', 0, 10).ok);
});

test('host:port accepts empty hosts and bracketed IPv6', (t) => {
  t.deepEqual(parseHostPort(':8443'), { ok: true, value: { host: '', port: 8443 } });
  t.deepEqual(parseHostPort('127.0.0.1:0'), { ok: true, value: { host: '127.0.0.1', port: 0 } });
  t.deepEqual(parseHostPort('[::1]:443'), { ok: true, value: { host: '::1', port: 443 } });
  for (const bad of ['8443', 'host', ':', ':70000', '::1:443', 'a b:1']) t.false(parseHostPort(bad).ok, bad);
});

test('enums and non-empty strings', (t) => {
  t.deepEqual(parseEnum('b', ['a', 'b'] as const), { ok: true, value: 'b' });
  t.false(parseEnum('c', ['a', 'b'] as const).ok);
  t.deepEqual(parseNonEmpty(' x '), { ok: true, value: 'x' });
  t.false(parseNonEmpty('   ').ok);
});
