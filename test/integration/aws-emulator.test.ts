import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import test from 'ava';
import { uniqueName } from '../helpers/stack.ts';

// The SDK's standard chain picks up AWS_ENDPOINT_URL, AWS_REGION and the test credentials that the
// test runner exported from the stack's aws.env.
test('a secret with two versions reads back by VersionId and by stage', async (t) => {
  t.truthy(process.env.AWS_ENDPOINT_URL, 'AWS_ENDPOINT_URL comes from the stack');
  const client = new SecretsManagerClient({});
  const name = `${uniqueName('ns')}/db`;
  const first = await client.send(new CreateSecretCommand({ Name: name, SecretString: '{"user":"a","port":5432}' }));
  const second = await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: '{"user":"b","port":5433}' }));
  t.truthy(first.VersionId);
  t.truthy(second.VersionId);
  t.not(first.VersionId, second.VersionId);

  const byFirstId = await client.send(new GetSecretValueCommand({ SecretId: name, VersionId: first.VersionId }));
  t.is(byFirstId.SecretString, '{"user":"a","port":5432}');
  t.is(byFirstId.VersionId, first.VersionId);

  const current = await client.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSCURRENT' }));
  t.is(current.VersionId, second.VersionId);
  t.is(current.SecretString, '{"user":"b","port":5433}');

  const previous = await client.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPREVIOUS' }));
  t.is(previous.VersionId, first.VersionId);

  const missing = await t.throwsAsync(
    client.send(new GetSecretValueCommand({ SecretId: name, VersionId: '00000000-0000-0000-0000-000000000000' })),
  );
  t.is(missing.name, 'ResourceNotFoundException');
  client.destroy();
});

test('STS answers through the same endpoint', async (t) => {
  const sts = new STSClient({});
  const identity = await sts.send(new GetCallerIdentityCommand({}));
  t.regex(identity.Account ?? '', /^\d{12}$/);
  sts.destroy();
});
