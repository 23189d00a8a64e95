import test from 'ava';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { AwsClients } from '../../src/aws/clients.ts';
import { buildDescribeSource, fetchCurrentVersions, pickCurrentVersion } from '../../src/bump/current-versions.ts';
import { versionKey } from '../../src/bump/plan.ts';
import { AppError } from '../../src/shared/errors.ts';

const V1 = 'a0000000-0000-4000-8000-000000000001';
const V2 = 'a0000000-0000-4000-8000-000000000002';

/** AwsClients whose Secrets Manager client answers every send() with `answer(input, region)`. */
function fakeAws(answer: (input: { SecretId?: string }, region: string | undefined) => unknown) {
  const sent: { region: string | undefined; command: string; input: { SecretId?: string } }[] = [];
  const clients = {
    secretsManager: (region?: string) =>
      ({
        send: (command: { constructor: { name: string }; input: { SecretId?: string } }) => {
          sent.push({ region, command: command.constructor.name, input: command.input });
          return Promise.resolve().then(() => answer(command.input, region));
        },
      }) as unknown as SecretsManagerClient,
    destroy: () => undefined,
  } as unknown as AwsClients;
  return { clients, sent };
}

function awsError(name: string, httpStatusCode: number, message = 'AWS says no'): Error {
  return Object.assign(new Error(message), { name, $fault: httpStatusCode >= 500 ? 'server' : 'client', $metadata: { httpStatusCode } });
}

test('pickCurrentVersion finds the AWSCURRENT label', (t) => {
  t.is(pickCurrentVersion({ [V1]: ['AWSPREVIOUS'], [V2]: ['AWSCURRENT', 'blue'] }), V2);
  t.is(pickCurrentVersion({ [V1]: ['AWSPENDING'] }), undefined);
  t.is(pickCurrentVersion(undefined), undefined);
});

test('the DescribeSecret source asks by SecretId in the region and returns AWSCURRENT', async (t) => {
  const { clients, sent } = fakeAws(() => ({ VersionIdsToStages: { [V1]: ['AWSPREVIOUS'], [V2]: ['AWSCURRENT'] } }));
  t.is(await buildDescribeSource(clients)('eu-west-1', 'ns/db'), V2);
  t.deepEqual(sent, [{ region: 'eu-west-1', command: 'DescribeSecretCommand', input: { SecretId: 'ns/db' } }]);
});

test('DescribeSecret failures become coded errors without stack noise or retry promises', async (t) => {
  const cases: [unknown, string, RegExp][] = [
    [awsError('ResourceNotFoundException', 400), 'ERR_AWS_SECRET_NOT_FOUND', /^secret "ns\/db" in eu-west-1 was not found$/],
    [awsError('AccessDeniedException', 400), 'ERR_AWS_ACCESS_DENIED', /^AWS denied DescribeSecret on secret "ns\/db" in eu-west-1/],
    [awsError('ThrottlingException', 400), 'ERR_AWS_THROTTLED', /^AWS throttled DescribeSecret on secret "ns\/db" in eu-west-1 \(ThrottlingException, HTTP 400\)$/],
    [awsError('InternalServiceError', 500), 'ERR_AWS_UNAVAILABLE', /\(InternalServiceError, HTTP 500\)$/],
  ];
  for (const [thrown, code, message] of cases) {
    const { clients } = fakeAws(() => {
      throw thrown;
    });
    const error = await t.throwsAsync(buildDescribeSource(clients)('eu-west-1', 'ns/db'), { instanceOf: AppError });
    t.is(error.code, code);
    t.regex(error.message, message);
  }
});

test('a secret without AWSCURRENT, or scheduled for deletion, is an error', async (t) => {
  const pending = fakeAws(() => ({ VersionIdsToStages: { [V1]: ['AWSPENDING'] } }));
  const noCurrent = await t.throwsAsync(buildDescribeSource(pending.clients)(undefined, 's'));
  t.is((noCurrent as AppError).code, 'ERR_BUMP_NO_CURRENT_VERSION');
  t.is(noCurrent.message, 'secret "s" in (default region) has no version labelled AWSCURRENT');
  const deleted = fakeAws(() => ({ DeletedDate: new Date(), VersionIdsToStages: { [V1]: ['AWSCURRENT'] } }));
  const gone = await t.throwsAsync(buildDescribeSource(deleted.clients)('us-east-1', 's'));
  t.is((gone as AppError).code, 'ERR_AWS_SECRET_NOT_FOUND');
  t.regex(gone.message, /scheduled for deletion/);
});

test('fetchCurrentVersions looks up each (region, secretId) once and keeps failures apart', async (t) => {
  const calls: string[] = [];
  const result = await fetchCurrentVersions(
    (region, secretId) => {
      calls.push(`${region ?? ''} ${secretId}`);
      if (secretId === 'missing') return Promise.reject(new AppError('ERR_AWS_SECRET_NOT_FOUND', 'not found'));
      return Promise.resolve(`${region ?? 'default'}:${secretId}`);
    },
    [
      { region: 'us-east-1', secretId: 'a' },
      { region: 'us-east-1', secretId: 'a' },
      { region: 'eu-west-1', secretId: 'a' },
      { region: undefined, secretId: 'a' },
      { region: 'us-east-1', secretId: 'missing' },
      { region: 'us-east-1', secretId: 'missing' },
    ],
    2,
  );
  t.deepEqual(calls.sort(), [' a', 'eu-west-1 a', 'us-east-1 a', 'us-east-1 missing']);
  t.is(result.versions.get(versionKey('us-east-1', 'a')), 'us-east-1:a');
  t.is(result.versions.get(versionKey(undefined, 'a')), 'default:a');
  t.is(result.failures.get(versionKey('us-east-1', 'missing'))?.code, 'ERR_AWS_SECRET_NOT_FOUND');
  t.is(result.versions.size, 3);
});
