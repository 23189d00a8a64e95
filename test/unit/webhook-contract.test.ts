import { createHash } from 'node:crypto';
import test from 'ava';
import {
  LAUNCHER_ENV_NAMES,
  buildCommandSignature,
  buildContainerUid,
  buildExecArgv,
  escapeKubernetesReferences,
  expandKubernetesReferences,
  formatFileSpecs,
  formatPiggyUids,
  isPiggyReference,
  parseFileSpecs,
  parsePiggyUids,
  readPiggyReference,
  splitLauncherArgv,
} from '../../src/shared/injection-contract.ts';

const vars: Record<string, string> = { VAR_A: 'A', VAR_B: 'B', VAR_C: 'C', EMPTY: '', BIG_MONEY: '$()' };
const lookup = (name: string) => vars[name];

test('$(VAR) expansion matches the kubelet (k8s third_party/forked/golang/expansion cases)', (t) => {
  const cases: [string, string][] = [
    ['$(VAR_A)', 'A'],
    ['___$(VAR_B)___', '___B___'],
    ['$(VAR_A)-$(VAR_A)', 'A-A'],
    ['f000-$$VAR_A', 'f000-$VAR_A'],
    ['foo\\$(VAR_C)bar', 'foo\\Cbar'],
    ['foo\\\\$(VAR_C)bar', 'foo\\\\Cbar'],
    ['$$$$$$(BIG_MONEY)', '$$$(BIG_MONEY)'],
    ['$$$$$$$(BIG_MONEY)', '$$$$()'],
    ['$(VAR_DNE)', '$(VAR_DNE)'],
    ['$(EMPTY)', ''],
    ['$(', '$('],
    ['$(VAR_A', '$(VAR_A'],
    ['$', '$'],
    ['$$', '$'],
    ['$VAR_A', '$VAR_A'],
    ['$()', '$()'],
    ['$(VAR_A)$', 'A$'],
    ['$(VAR_A)$$', 'A$'],
    ['$$(VAR_A)', '$(VAR_A)'],
    ['$(VAR_A)$(VAR_B', 'A$(VAR_B'],
    ['no references', 'no references'],
    ['', ''],
  ];
  for (const [input, expected] of cases) t.is(expandKubernetesReferences(input, lookup), expected, input);
});

test('escaped strings come back unchanged from expansion', (t) => {
  const samples = ['', '$', '$$', '$(VAR_A)', '$$(VAR_A)', 'a$(b', 'price: $5', '$(VAR_A)$', 'ünïcødé $(VAR_B) ✓', '\\$(VAR_C)'];
  for (const sample of samples) t.is(expandKubernetesReferences(escapeKubernetesReferences(sample), lookup), sample, sample);
});

test('the command signature is sha256 over the JSON array, so element boundaries count', (t) => {
  t.is(buildCommandSignature(['a b']), createHash('sha256').update('["a b"]').digest('hex'));
  t.not(buildCommandSignature(['a b']), buildCommandSignature(['a', 'b']));
  t.not(buildCommandSignature([]), buildCommandSignature(['']));
  t.is(buildCommandSignature(['x', '$(Y)']), buildCommandSignature(['x', '$(Y)']));
  t.regex(buildCommandSignature([]), /^[0-9a-f]{64}$/);
});

test('the launcher splits its argv at the first -- and expands the template with its env', (t) => {
  t.deepEqual(splitLauncherArgv(['--standalone', '--', 'sh', '-c', 'echo -- x']), { flags: ['--standalone'], template: ['sh', '-c', 'echo -- x'] });
  t.is(splitLauncherArgv(['install', '/piggy']), undefined);
  t.deepEqual(buildExecArgv(['echo', '$(HOME)', '$$(HOME)', '$(MISSING)'], { HOME: '/home/app' }), ['echo', '/home/app', '$(HOME)', '$(MISSING)']);
  t.deepEqual(buildExecArgv(['$(toString)'], {}), ['$(toString)'], 'prototype names are not variables');
});

test('piggy: references', (t) => {
  t.is(readPiggyReference('piggy:db-password'), 'db-password');
  t.is(readPiggyReference('piggy:TEST_ENV\n'), 'TEST_ENV');
  t.is(readPiggyReference('piggy:'), undefined);
  t.is(readPiggyReference('PIGGY:x'), undefined);
  t.is(readPiggyReference('x piggy:y'), undefined);
  t.true(isPiggyReference('piggy:x'));
  t.false(isPiggyReference(undefined));
  t.false(isPiggyReference('Piggy:x'));
});

test('piggy-uid annotation: sorted JSON of uid → signature, strictly parsed', (t) => {
  const uidA = buildContainerUid('0F8FAD5B-D9CB-469F-A165-70867728950E');
  t.is(uidA, '0f8fad5bd9cb469fa16570867728950e');
  const uidB = 'f'.repeat(32);
  const signature = buildCommandSignature(['app']);
  const text = formatPiggyUids({ [uidB]: signature, [uidA]: signature });
  t.is(text, JSON.stringify({ [uidA]: signature, [uidB]: signature }));
  t.deepEqual(parsePiggyUids(text), { [uidA]: signature, [uidB]: signature });
  for (const bad of ['', 'null', '[]', '{"x":"y"}', `{"${uidA}":""}`, `{"${uidA}":1}`, 'not json']) t.is(parsePiggyUids(bad), undefined, bad);
  t.is(parsePiggyUids(undefined), undefined);
  t.throws(() => buildContainerUid('not-a-uuid'));
});

test('file specs round-trip through PIGGY_FILES', (t) => {
  const specs = [{ secretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:a-AbCdEf', region: 'eu-west-1', path: '/tmp/secret' }];
  t.deepEqual(parseFileSpecs(formatFileSpecs(specs)), specs);
  for (const bad of ['[]', '{}', '[{"secretId":"x","region":"r","path":"relative"}]', '[null]', 'nope']) t.is(parseFileSpecs(bad), undefined, bad);
});

test('every launcher variable is a PIGGY_ name and listed once', (t) => {
  t.true(LAUNCHER_ENV_NAMES.every((name) => name.startsWith('PIGGY_')));
  t.is(new Set(LAUNCHER_ENV_NAMES).size, LAUNCHER_ENV_NAMES.length);
  for (const name of ['PIGGY_AWS_SECRET_NAME', 'PIGGY_AWS_REGION', 'PIGGY_ADDRESS', 'PIGGY_UID', 'PIGGY_NUMBER_OF_RETRY', 'PIGGY_INITIAL_DELAY', 'PIGGY_IGNORE_NO_ENV', 'PIGGY_STANDALONE', 'PIGGY_POD_NAME', 'PIGGY_ENFORCE_INTEGRITY', 'PIGGY_DEBUG', 'PIGGY_CA_BUNDLE']) {
    t.true((LAUNCHER_ENV_NAMES as readonly string[]).includes(name), name);
  }
});
