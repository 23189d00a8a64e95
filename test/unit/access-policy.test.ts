import test from 'ava';
import { isSecretAllowed, parseAccessPolicy, secretNameOf } from '../../src/shared/access-policy.ts';

test('the default policy allows names under the namespace only', (t) => {
  const policy = ['{namespace}/*'];
  t.true(isSecretAllowed(policy, 'team', 'team/db'));
  t.true(isSecretAllowed(policy, 'team', 'team/nested/db'));
  t.false(isSecretAllowed(policy, 'team', 'team-b/db'));
  t.false(isSecretAllowed(policy, 'team', 'other/db'));
  t.false(isSecretAllowed(policy, 'team', 'team'));
  t.false(isSecretAllowed(policy, 'team', 'team/../other/db'));
});

test('ARNs are judged by their name, without the random suffix', (t) => {
  const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:team/db-AbC123';
  t.is(secretNameOf(arn), 'team/db');
  t.true(isSecretAllowed(['{namespace}/*'], 'team', arn));
  t.false(isSecretAllowed(['{namespace}/*'], 'other', arn));
});

test('patterns: several, literal, and * to turn the restriction off', (t) => {
  t.true(isSecretAllowed(['shared/*', '{namespace}/*'], 'team', 'shared/ca'));
  t.true(isSecretAllowed(['*'], 'team', 'anything/at/all'));
  t.false(isSecretAllowed(['shared/ca'], 'team', 'shared/cab'));
  t.true(isSecretAllowed(['prod-{namespace}'], 'team', 'prod-team'));
  t.false(isSecretAllowed(['{namespace}.*'], 'team', 'teamX'), 'regex metacharacters are literal');
});

test('policy text parses into patterns', (t) => {
  t.deepEqual(parseAccessPolicy(' {namespace}/* , shared/* '), { ok: true, value: ['{namespace}/*', 'shared/*'] });
  t.false(parseAccessPolicy(' , ').ok);
});
