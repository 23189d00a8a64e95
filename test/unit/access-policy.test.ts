import test from 'ava';
import {
  buildAccessPolicy,
  judgeSecret,
  isNameAllowed,
  isSecretAllowed,
  parseAccessPolicy,
  parseAccountId,
  partitionOf,
  secretNameOf,
} from '../../src/shared/access-policy.ts';
import { FOREIGN_ACCOUNT, MOTO_ACCOUNT as OWN } from '../helpers/aws-account.ts';

const DEFAULT = buildAccessPolicy(['{namespace}/*'], OWN);
const arn = (name: string, { account = OWN, region = 'eu-west-1', partition = 'aws' } = {}) =>
  `arn:${partition}:secretsmanager:${region}:${account}:secret:${name}-AbC123`;

test('the default policy allows names under the namespace only', (t) => {
  t.true(isSecretAllowed(DEFAULT, 'team', 'team/db'));
  t.true(isSecretAllowed(DEFAULT, 'team', 'team/nested/db'));
  t.false(isSecretAllowed(DEFAULT, 'team', 'team-b/db'));
  t.false(isSecretAllowed(DEFAULT, 'team', 'other/db'));
  t.false(isSecretAllowed(DEFAULT, 'team', 'team'));
  t.false(isSecretAllowed(DEFAULT, 'team', 'team/../other/db'));
});

test('ARNs in the own account are judged by their name, without the random suffix', (t) => {
  t.is(secretNameOf(arn('team/db')), 'team/db');
  t.true(isSecretAllowed(DEFAULT, 'team', arn('team/db')));
  t.true(isSecretAllowed(DEFAULT, 'team', arn('team/db', { region: 'us-east-1' })), 'any region, as for a name');
  t.false(isSecretAllowed(DEFAULT, 'other', arn('team/db')));
});

test('an ARN in another account is denied by default, whatever its name', (t) => {
  const foreign = arn('team/db', { account: FOREIGN_ACCOUNT });
  t.false(isSecretAllowed(DEFAULT, 'team', foreign));
  t.false(isSecretAllowed(buildAccessPolicy(['*'], OWN), 'team', foreign), '* lifts the namespace restriction, not the account one');
  t.regex((judgeSecret(DEFAULT, 'team', foreign) as { reason: string }).reason, /account 210987654321 is not the controller's own account/);
});

test('while the own account is unknown, no ARN passes a name pattern (fail closed); names still do', (t) => {
  const unknown = buildAccessPolicy(['{namespace}/*']);
  t.false(isSecretAllowed(unknown, 'team', arn('team/db')));
  t.regex((judgeSecret(unknown, 'team', arn('team/db')) as { reason: string }).reason, /own AWS account is unknown \(set AWS_ACCOUNT_ID\)/);
  t.true(isSecretAllowed(unknown, 'team', 'team/db'));
  t.true(isSecretAllowed(buildAccessPolicy([`arn:aws:secretsmanager:*:${OWN}:secret:{namespace}/*`]), 'team', arn('team/db')), 'an ARN pattern naming the account');
});

test('ARN patterns name partition, region and account (each a pattern)', (t) => {
  const policy = buildAccessPolicy(['{namespace}/*', `arn:aws:secretsmanager:eu-west-1:${FOREIGN_ACCOUNT}:secret:shared/{namespace}/*`], OWN);
  t.true(isSecretAllowed(policy, 'team', arn('shared/team/ca', { account: FOREIGN_ACCOUNT })));
  t.false(isSecretAllowed(policy, 'team', arn('shared/team/ca', { account: FOREIGN_ACCOUNT, region: 'us-east-1' })), 'another region');
  t.false(isSecretAllowed(policy, 'team', arn('shared/other/ca', { account: FOREIGN_ACCOUNT })), 'another namespace');
  t.false(isSecretAllowed(policy, 'team', arn('team/db', { account: FOREIGN_ACCOUNT })), 'the name pattern stays in the own account');
  t.false(isSecretAllowed(policy, 'team', arn('shared/team/ca', { account: '333333333333' })));

  const anyAccount = buildAccessPolicy(['arn:aws:secretsmanager:*:*:secret:{namespace}/*'], OWN);
  t.true(isSecretAllowed(anyAccount, 'team', arn('team/db', { account: FOREIGN_ACCOUNT, region: 'ap-south-1' })));
  t.false(isSecretAllowed(anyAccount, 'team', arn('team/db', { partition: 'aws-cn', region: 'cn-north-1' })), 'the partition is named');
});

test('ARN patterns alone restrict plain names by region (the request\'s) and account (the own)', (t) => {
  const euOnly = buildAccessPolicy(['arn:aws:secretsmanager:eu-*:*:secret:{namespace}/*'], OWN);
  t.true(isSecretAllowed(euOnly, 'team', 'team/db', 'eu-west-1'));
  t.false(isSecretAllowed(euOnly, 'team', 'team/db', 'us-east-1'));
  t.false(isSecretAllowed(euOnly, 'team', 'team/db'), 'no region known: only a * region matches');
  const ownOnly = buildAccessPolicy([`arn:aws:secretsmanager:*:${OWN}:secret:{namespace}/*`], OWN);
  t.true(isSecretAllowed(ownOnly, 'team', 'team/db', 'us-east-1'));
  t.false(isSecretAllowed(buildAccessPolicy([`arn:aws:secretsmanager:*:${FOREIGN_ACCOUNT}:secret:{namespace}/*`], OWN), 'team', 'team/db', 'us-east-1'));
  t.true(isSecretAllowed(buildAccessPolicy(['arn:aws-cn:secretsmanager:*:*:secret:{namespace}/*'], OWN), 'team', 'team/db', 'cn-north-1'));
});

test('ARNs that are not Secrets Manager secrets, or whose partition does not hold their region, are denied', (t) => {
  const open = buildAccessPolicy(['*', 'arn:*:secretsmanager:*:*:secret:*'], OWN);
  t.false(isSecretAllowed(open, 'team', `arn:aws:ssm:eu-west-1:${OWN}:parameter/team/db`));
  t.false(isSecretAllowed(open, 'team', 'arn:aws:secretsmanager:eu-west-1'));
  t.false(isSecretAllowed(open, 'team', arn('team/db', { partition: 'aws-cn', region: 'eu-west-1' })));
  t.true(isSecretAllowed(open, 'team', arn('team/db', { partition: 'aws-us-gov', region: 'us-gov-west-1' })));
  t.deepEqual(['us-east-1', 'cn-northwest-1', 'us-gov-east-1', 'us-iso-east-1', 'us-isob-east-1'].map(partitionOf), ['aws', 'aws-cn', 'aws-us-gov', 'aws-iso', 'aws-iso-b']);
});

test('name patterns: several, literal, and * to lift the namespace restriction', (t) => {
  t.true(isSecretAllowed(buildAccessPolicy(['shared/*', '{namespace}/*'], OWN), 'team', 'shared/ca'));
  t.true(isSecretAllowed(buildAccessPolicy(['*'], OWN), 'team', 'anything/at/all'));
  t.false(isSecretAllowed(buildAccessPolicy(['shared/ca'], OWN), 'team', 'shared/cab'));
  t.true(isSecretAllowed(buildAccessPolicy(['prod-{namespace}'], OWN), 'team', 'prod-team'));
  t.false(isSecretAllowed(buildAccessPolicy(['{namespace}.*'], OWN), 'team', 'teamX'), 'regex metacharacters are literal');
});

test('SSM subjects are judged by the name patterns only', (t) => {
  t.true(isNameAllowed(DEFAULT, 'team', 'team/app/'));
  t.false(isNameAllowed(buildAccessPolicy(['arn:aws:secretsmanager:*:*:secret:*'], OWN), 'team', 'team/app/'));
});

test('policy text parses into patterns; ARN patterns need every field', (t) => {
  t.deepEqual(parseAccessPolicy(' {namespace}/* , shared/* '), { ok: true, value: ['{namespace}/*', 'shared/*'] });
  t.deepEqual(parseAccessPolicy(`{namespace}/*,arn:aws:secretsmanager:*:${FOREIGN_ACCOUNT}:secret:shared/*`), {
    ok: true,
    value: ['{namespace}/*', `arn:aws:secretsmanager:*:${FOREIGN_ACCOUNT}:secret:shared/*`],
  });
  t.false(parseAccessPolicy(' , ').ok);
  t.false(parseAccessPolicy('arn:aws:secretsmanager:eu-west-1:secret:x').ok);
  t.false(parseAccessPolicy('arn:aws:ssm:*:*:parameter/x').ok);
  t.deepEqual(parseAccountId(' 123456789012 '), { ok: true, value: '123456789012' });
  t.deepEqual(parseAccountId(''), { ok: true, value: undefined });
  t.false(parseAccountId('1234').ok);
});
