// How the access policy learns the controller's own account: AWS_ACCOUNT_ID wins (no call); else one
// lookup; a failed lookup leaves it unknown (the policy fails closed) and says so once in the log.
import test from 'ava';
import { learnOwnAccount } from '../../src/aws/own-account.ts';
import { buildAccessPolicy, isSecretAllowed } from '../../src/shared/access-policy.ts';
import { FOREIGN_ACCOUNT, MOTO_ACCOUNT } from '../helpers/aws-account.ts';
import { captureLog } from '../helpers/proxy.ts';

const ownArn = `arn:aws:secretsmanager:us-east-1:${MOTO_ACCOUNT}:secret:team/db-AbC123`;

test('a configured account is kept and nothing is looked up', async (t) => {
  const capture = captureLog('info');
  let calls = 0;
  const configured = buildAccessPolicy(['{namespace}/*'], FOREIGN_ACCOUNT);
  const policy = await learnOwnAccount(configured, () => Promise.resolve(String(++calls)), capture.log);
  t.is(policy, configured);
  t.is(calls, 0);
});

test('an unknown account is looked up once and then judges ARNs', async (t) => {
  const capture = captureLog('info');
  const unknown = buildAccessPolicy(['{namespace}/*']);
  t.false(isSecretAllowed(unknown, 'team', ownArn));
  const policy = await learnOwnAccount(unknown, () => Promise.resolve(MOTO_ACCOUNT), capture.log);
  t.is(policy.ownAccount, MOTO_ACCOUNT);
  t.true(isSecretAllowed(policy, 'team', ownArn));
  t.like(capture.lines().find((line) => line.msg === 'aws account learned'), { account: MOTO_ACCOUNT });
});

test('a failed lookup leaves the account unknown (ARNs denied) and is logged as an error', async (t) => {
  const capture = captureLog('info');
  const policy = await learnOwnAccount(buildAccessPolicy(['{namespace}/*']), () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1')), capture.log);
  t.is(policy.ownAccount, undefined);
  t.false(isSecretAllowed(policy, 'team', ownArn));
  t.true(isSecretAllowed(policy, 'team', 'team/db'), 'plain names are unaffected');
  const line = capture.lines().find((entry) => String(entry.msg).startsWith('aws account unknown'));
  t.like(line, { level: 'error', errMessage: 'connect ECONNREFUSED 127.0.0.1:1' });
});
