import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SSMClient } from '@aws-sdk/client-ssm';
import test from 'ava';
import { createCallBudget } from '../../src/aws/call-budget.ts';
import type { AwsClients } from '../../src/aws/clients.ts';
import type { Clock } from '../../src/aws/clock.ts';
import { createSecretSource } from '../../src/aws/secret-source.ts';
import { createVersionCache } from '../../src/aws/version-cache.ts';
import { isAppError } from '../../src/shared/errors.ts';
import { createLogger } from '../../src/shared/logger.ts';

// The secret source's caching and mapping rules, against fake clients and a fake clock. (Budget and
// metrics accounting run inside the real SDK's middleware, so they are covered by the integration test.)

type Call = { api: string; input: Record<string, unknown> };
type Handler = (api: string, input: Record<string, unknown>) => unknown;

function awsError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return Object.assign(error, { $fault: 'client', $metadata: { httpStatusCode: 400 } });
}

function fakeClients(handler: Handler): { clients: AwsClients; calls: Call[] } {
  const calls: Call[] = [];
  const client = {
    config: { region: () => Promise.resolve('us-east-1') },
    send: (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      const api = command.constructor.name.replace(/Command$/, '');
      calls.push({ api, input: command.input });
      // A throw in the executor rejects the promise, as an SDK call rejects.
      return new Promise((resolve) => resolve(handler(api, command.input)));
    },
  };
  const unused = (): never => {
    throw new Error('not used');
  };
  const clients: AwsClients = {
    secretsManager: () => client as unknown as SecretsManagerClient,
    ssm: () => client as unknown as SSMClient,
    ecr: unused,
    sts: unused,
    destroy: () => undefined,
  };
  return { clients, calls };
}

function manualClock(): Clock & { advance(ms: number): void } {
  let now = 0;
  return { now: () => now, sleep: () => Promise.resolve(), advance: (ms) => void (now += ms) };
}

function setup(handler: Handler, options: { stageTtlMs?: number; maxBytes?: number } = {}) {
  const clock = manualClock();
  const { clients, calls } = fakeClients(handler);
  const source = createSecretSource({
    clients,
    budget: createCallBudget({ ratePerSecond: 1000, burst: 1000 }),
    cache: createVersionCache({ maxBytes: options.maxBytes ?? 1_000_000 }),
    log: createLogger({ level: 'silent' }),
    clock,
    stageTtlMs: options.stageTtlMs ?? 30_000,
  });
  return { source, calls, clock, count: (api: string) => calls.filter((c) => c.api === api).length };
}

/** Secret "app/db" with versions v1 (AWSPREVIOUS) and v2 (AWSCURRENT); `current` can be moved. */
function secretsHandler(state = { current: 'v2' }): Handler {
  const values: Record<string, string> = { v1: 'one', v2: 'two', v3: 'three' };
  return (api, input) => {
    if (input.SecretId !== 'app/db') throw awsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    const base = { Name: 'app/db', ARN: 'arn:aws:secretsmanager:us-east-1:1:secret:app/db-x' };
    if (api === 'DescribeSecret') return { ...base, VersionIdsToStages: { [state.current]: ['AWSCURRENT'], v1: ['AWSPREVIOUS'] } };
    const versionId = typeof input.VersionId === 'string' ? input.VersionId : input.VersionStage === 'AWSCURRENT' ? state.current : input.VersionStage === 'AWSPREVIOUS' ? 'v1' : undefined;
    const value = versionId === undefined ? undefined : values[versionId];
    if (versionId === undefined || value === undefined) throw awsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    return { ...base, VersionId: versionId, SecretString: value };
  };
}

test('a stage read seeds the mapping and the version cache; both are reused until the TTL ends', async (t) => {
  const state = { current: 'v2' };
  const { source, count, clock } = setup(secretsHandler(state), { stageTtlMs: 30_000 });
  const first = await source.fetchByStage({ secretId: 'app/db', stage: 'AWSCURRENT' });
  t.is(first.secretString, 'two');
  t.is(count('GetSecretValue'), 1);
  t.is((await source.fetchVersion({ secretId: 'app/db', versionId: 'v2' })).secretString, 'two');
  t.is((await source.fetchByStage({ secretId: 'app/db', stage: 'AWSCURRENT' })).secretString, 'two');
  t.deepEqual(await source.describeCurrentVersion({ secretId: 'app/db' }), { versionId: 'v2', name: 'app/db', arn: first.arn });
  t.is(count('GetSecretValue'), 1, 'the version cache answered');
  t.is(count('DescribeSecret'), 0, 'the stage mapping answered');

  state.current = 'v3';
  clock.advance(29_999);
  t.is((await source.fetchByStage({ secretId: 'app/db', stage: 'AWSCURRENT' })).versionId, 'v2', 'still within the TTL');
  clock.advance(1);
  t.is((await source.fetchByStage({ secretId: 'app/db', stage: 'AWSCURRENT' })).secretString, 'three');
  t.is(count('GetSecretValue'), 2);
});

test('describeCurrentVersion maps every stage it sees, so a stage read then costs one version read', async (t) => {
  const { source, count, calls } = setup(secretsHandler());
  t.is((await source.describeCurrentVersion({ secretId: 'app/db' })).versionId, 'v2');
  t.is((await source.describeCurrentVersion({ secretId: 'app/db' })).versionId, 'v2');
  t.is(count('DescribeSecret'), 1);
  t.is((await source.fetchByStage({ secretId: 'app/db', stage: 'AWSPREVIOUS' })).secretString, 'one');
  t.deepEqual(calls.at(-1)?.input, { SecretId: 'app/db', VersionId: 'v1' }, 'read by the mapped id, not by stage');
});

test('a stage TTL of 0 keeps no mapping', async (t) => {
  const state = { current: 'v2' };
  const { source } = setup(secretsHandler(state), { stageTtlMs: 0 });
  t.is((await source.describeCurrentVersion({ secretId: 'app/db' })).versionId, 'v2');
  state.current = 'v3';
  t.is((await source.describeCurrentVersion({ secretId: 'app/db' })).versionId, 'v3');
});

test('a mapped version that disappeared is resolved by stage again', async (t) => {
  const state = { current: 'v2' };
  const handler = secretsHandler(state);
  let v2Gone = false;
  const { source, calls } = setup(
    (api, input) => {
      if (v2Gone && input.VersionId === 'v2') throw awsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret value for VersionId: v2");
      return handler(api, input);
    },
    { maxBytes: 0 },
  );
  await source.describeCurrentVersion({ secretId: 'app/db' });
  v2Gone = true;
  state.current = 'v3';
  t.is((await source.fetchByStage({ secretId: 'app/db', stage: 'AWSCURRENT' })).secretString, 'three');
  t.deepEqual(calls.map((c) => c.api), ['DescribeSecret', 'GetSecretValue', 'GetSecretValue']);
  t.deepEqual(calls.at(-1)?.input, { SecretId: 'app/db', VersionStage: 'AWSCURRENT' });
});

test('an ambiguous not-found on a stage read is settled by one DescribeSecret', async (t) => {
  const { source, count } = setup(secretsHandler());
  const missingStage = await t.throwsAsync(source.fetchByStage({ secretId: 'app/db', stage: 'AWSPENDING' }));
  t.true(isAppError(missingStage));
  t.like(missingStage, { code: 'ERR_AWS_VERSION_NOT_FOUND', kind: 'terminal' });
  t.is(count('DescribeSecret'), 1);
  const missingSecret = await t.throwsAsync(source.fetchByStage({ secretId: 'other', stage: 'AWSCURRENT' }));
  t.like(missingSecret, { code: 'ERR_AWS_SECRET_NOT_FOUND' });
  t.is(count('DescribeSecret'), 2);
});

test('describeCurrentVersion: a deleted secret and a secret without AWSCURRENT', async (t) => {
  const { source } = setup((_api, input) => {
    if (input.SecretId === 'deleted') return { Name: 'deleted', ARN: 'a', DeletedDate: new Date(), VersionIdsToStages: { v1: ['AWSCURRENT'] } };
    return { Name: 'empty', ARN: 'b' };
  });
  await t.throwsAsync(source.describeCurrentVersion({ secretId: 'deleted' }), { code: 'ERR_AWS_SECRET_NOT_FOUND', message: /scheduled for deletion/ });
  await t.throwsAsync(source.describeCurrentVersion({ secretId: 'empty' }), { code: 'ERR_AWS_VERSION_NOT_FOUND', message: /no version labelled "AWSCURRENT"/ });
});

test('parameters by path: every page, cached for the TTL', async (t) => {
  const names = Array.from({ length: 25 }, (_, i) => `/app/${i % 2 === 0 ? '' : 'nested/'}K${i}`);
  const { source, calls, clock } = setup((_api, input) => {
    const start = typeof input.NextToken === 'string' ? Number(input.NextToken) : 0;
    const page = names.slice(start, start + 10).map((Name) => ({ Name, Value: `value-of-${Name}` }));
    return { Parameters: page, NextToken: start + 10 < names.length ? String(start + 10) : undefined };
  });
  const map = await source.fetchParametersByPath({ path: '/app' });
  t.is(Object.keys(map).length, 25);
  t.is(map.K7, 'value-of-/app/nested/K7');
  t.is(calls.length, 3);
  t.deepEqual(calls[0]?.input, { Path: '/app', Recursive: true, WithDecryption: true, MaxResults: 10 });
  t.is(calls[2]?.input.NextToken, '20');
  t.is(await source.fetchParametersByPath({ path: '/app' }), map);
  t.is(calls.length, 3);
  clock.advance(30_000);
  await source.fetchParametersByPath({ path: '/app' });
  t.is(calls.length, 6, 'parameters are mutable: read again after the TTL');
});

test('a failure is not cached', async (t) => {
  let fail = true;
  const handler = secretsHandler();
  const { source, count } = setup((api, input) => {
    if (fail) throw awsError('ThrottlingException', 'Rate exceeded');
    return handler(api, input);
  });
  await t.throwsAsync(source.fetchVersion({ secretId: 'app/db', versionId: 'v1' }), { code: 'ERR_AWS_THROTTLED' });
  fail = false;
  t.is((await source.fetchVersion({ secretId: 'app/db', versionId: 'v1' })).secretString, 'one');
  t.is(count('GetSecretValue'), 2);
});
