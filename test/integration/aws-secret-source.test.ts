import { PassThrough } from 'node:stream';
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import test, { type ExecutionContext } from 'ava';
import { Registry } from 'prom-client';
import { createAwsMetrics } from '../../src/aws/aws-metrics.ts';
import { createCallBudget, type CallBudget } from '../../src/aws/call-budget.ts';
import { createAwsClients } from '../../src/aws/clients.ts';
import type { Clock } from '../../src/aws/clock.ts';
import { createSecretSource, type SecretSource } from '../../src/aws/secret-source.ts';
import { createVersionCache } from '../../src/aws/version-cache.ts';
import { AppError, isAppError } from '../../src/shared/errors.ts';
import { createLogger, type Logger } from '../../src/shared/logger.ts';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.ts';
import { uniqueName } from '../helpers/stack.ts';

// The secret source against the real AWS emulator (moto), through the fault proxy, which forwards to
// moto and counts every request by X-Amz-Target (what AWS bills and throttles).

const CANARY = 'canary-7d2e-aws-source-value';

function motoEndpoint(): string {
  const endpoint = process.env.AWS_ENDPOINT_URL;
  if (endpoint === undefined || endpoint === '') throw new Error('AWS_ENDPOINT_URL is not set: run through scripts/test-run.ts');
  return endpoint;
}

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

interface Harness {
  proxy: FaultProxy;
  source: SecretSource;
  budget: CallBudget;
  registry: Registry;
  log: Logger;
  logText: () => string;
}

interface HarnessOptions {
  maxAttempts?: number;
  ratePerSecond?: number;
  burst?: number;
  minRatePerSecond?: number;
  stageTtlMs?: number;
  callTimeoutMs?: number;
  clock?: Clock;
}

async function harness(t: ExecutionContext, options: HarnessOptions = {}): Promise<Harness> {
  const proxy = await startFaultProxy(motoEndpoint());
  t.teardown(() => proxy.close());
  const clients = createAwsClients(process.env.AWS_REGION, { endpoint: proxy.url, maxAttempts: options.maxAttempts ?? 1 });
  t.teardown(() => clients.destroy());
  const registry = new Registry();
  const out = capture();
  const log = createLogger({ level: 'trace', destination: out.stream });
  const budget = createCallBudget({
    ratePerSecond: options.ratePerSecond ?? 500,
    burst: options.burst ?? 100,
    ...(options.minRatePerSecond === undefined ? {} : { minRatePerSecond: options.minRatePerSecond }),
    log,
  });
  const source = createSecretSource({
    clients,
    budget,
    cache: createVersionCache({ maxBytes: 1 << 20 }),
    metrics: createAwsMetrics(registry),
    log,
    clock: options.clock,
    stageTtlMs: options.stageTtlMs ?? 30_000,
    callTimeoutMs: options.callTimeoutMs,
  });
  return { proxy, source, budget, registry, log, logText: out.text };
}

/** Direct clients (not through the proxy) to create test data without counting it. */
const seed = { sm: new SecretsManagerClient({}), ssm: new SSMClient({}) };
test.after.always(() => {
  seed.sm.destroy();
  seed.ssm.destroy();
});

async function createSecret(values: string[]): Promise<{ name: string; versions: string[]; v: (index: number) => string }> {
  const name = `${uniqueName('src')}/db`;
  const [first, ...rest] = values;
  const created = await seed.sm.send(new CreateSecretCommand({ Name: name, SecretString: first }));
  const versions = [created.VersionId ?? ''];
  for (const value of rest) versions.push((await seed.sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: value }))).VersionId ?? '');
  const v = (index: number): string => {
    const id = versions[index];
    if (id === undefined || id === '') throw new Error(`no version ${index}`);
    return id;
  };
  return { name, versions, v };
}

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const found = registry.getSingleMetric(name);
  if (found === undefined) throw new Error(`no metric ${name}`);
  const data = await found.get();
  return data.values
    .filter((v) => Object.entries(labels).every(([k, want]) => (v.labels as Record<string, unknown>)[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    if (isAppError(error)) return error;
    throw new Error(`expected an AppError, got ${String(error)}`, { cause: error });
  }
  throw new Error('expected a rejection');
}

test('a pinned version is read once; later reads cost zero AWS calls', async (t) => {
  const h = await harness(t);
  const { name, v } = await createSecret(['{"user":"a"}', '{"user":"b"}']);
  const [v1, v2] = [v(0), v(1)];
  const first = await h.source.fetchVersion({ secretId: name, versionId: v1 });
  t.is(first.secretString, '{"user":"a"}');
  t.is(first.versionId, v1);
  t.is(first.name, name);
  t.regex(first.arn, /^arn:aws:secretsmanager:/);
  t.is((await h.source.fetchVersion({ secretId: name, versionId: v2 })).secretString, '{"user":"b"}');
  t.is(h.proxy.count('GetSecretValue'), 2);

  for (let i = 0; i < 5; i += 1) t.is((await h.source.fetchVersion({ secretId: name, versionId: v1 })).secretString, '{"user":"a"}');
  t.is(h.proxy.count(), 2, 'no further request reached AWS');
  t.is(await metric(h.registry, 'piggy_aws_calls_total', { api: 'GetSecretValue', result: 'ok' }), 2);
  t.is(await metric(h.registry, 'piggy_cache_hits_total', { cache: 'secret_version' }), 5);
  t.true((await metric(h.registry, 'piggy_cache_bytes', { cache: 'secret_version' })) > 0);
});

test('a binary secret comes back as bytes', async (t) => {
  const h = await harness(t);
  const name = `${uniqueName('bin')}/blob`;
  const bytes = new Uint8Array([0, 1, 2, 250, 255]);
  const created = await seed.sm.send(new CreateSecretCommand({ Name: name, SecretBinary: bytes }));
  const value = await h.source.fetchVersion({ secretId: name, versionId: created.VersionId ?? '' });
  t.deepEqual([...(value.secretBinary ?? [])], [...bytes]);
  t.is(value.secretString, undefined);
});

test('1,000 concurrent reads of one version cost exactly one AWS call', async (t) => {
  const h = await harness(t);
  const { name, v } = await createSecret(['{"k":"v"}']);
  const reads = Array.from({ length: 1000 }, () => h.source.fetchVersion({ secretId: name, versionId: v(0) }));
  const values = await Promise.all(reads);
  t.true(values.every((value) => value.secretString === '{"k":"v"}'));
  t.is(h.proxy.count(), 1);
});

test('a burst of 500 concurrent AWSCURRENT reads costs one call, and answers describeCurrentVersion too', async (t) => {
  const h = await harness(t);
  const { name, v } = await createSecret(['old', 'new']);
  const values = await Promise.all(Array.from({ length: 500 }, () => h.source.fetchByStage({ secretId: name, stage: 'AWSCURRENT' })));
  t.true(values.every((value) => value.secretString === 'new' && value.versionId === v(1)));
  t.is(h.proxy.count('GetSecretValue') + h.proxy.count('DescribeSecret'), 1, 'GetSecretValue by stage returns the id and the value at once');
  t.is((await h.source.fetchVersion({ secretId: name, versionId: v(1) })).secretString, 'new');
  t.is((await h.source.describeCurrentVersion({ secretId: name })).versionId, v(1));
  t.is(h.proxy.count(), 1, 'the seeded cache and mapping answered both');
});

test('describeCurrentVersion sees PutSecretValue (no mapping TTL)', async (t) => {
  const h = await harness(t, { stageTtlMs: 0 });
  const { name, v } = await createSecret(['one']);
  t.deepEqual(await h.source.describeCurrentVersion({ secretId: name }), {
    versionId: v(0),
    name,
    arn: (await h.source.fetchVersion({ secretId: name, versionId: v(0) })).arn,
  });
  const put = await seed.sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'two' }));
  t.is((await h.source.describeCurrentVersion({ secretId: name })).versionId, put.VersionId!);
  t.is(h.proxy.count('DescribeSecret'), 2);
  t.is(h.proxy.count('GetSecretValue'), 1, 'DescribeSecret does not read the value');
});

test('describeCurrentVersion reuses its answer for the mapping TTL, then sees the new version', async (t) => {
  let now = 0;
  const clock: Clock = { now: () => now, sleep: () => Promise.resolve() };
  const h = await harness(t, { stageTtlMs: 60_000, clock });
  const { name, v } = await createSecret(['one']);
  t.is((await h.source.describeCurrentVersion({ secretId: name })).versionId, v(0));
  const put = await seed.sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'two' }));
  t.is((await h.source.describeCurrentVersion({ secretId: name })).versionId, v(0), 'within the TTL');
  t.is(h.proxy.count('DescribeSecret'), 1);
  now += 60_000;
  t.is((await h.source.describeCurrentVersion({ secretId: name })).versionId, put.VersionId!);
  t.is((await h.source.fetchByStage({ secretId: name, stage: 'AWSCURRENT' })).secretString, 'two');
  t.is(h.proxy.count('GetSecretValue'), 1, 'read by the mapped id');
});

test('SSM parameters by path: every page, nested paths, decrypted, cached', async (t) => {
  const h = await harness(t);
  const root = `/${uniqueName('params')}/app`;
  const expected: Record<string, string> = {};
  for (let i = 0; i < 15; i += 1) {
    await seed.ssm.send(new PutParameterCommand({ Name: `${root}/TOP_${i}`, Value: `top-${i}`, Type: 'String' }));
    expected[`TOP_${i}`] = `top-${i}`;
  }
  for (let i = 0; i < 7; i += 1) {
    await seed.ssm.send(new PutParameterCommand({ Name: `${root}/nested/deeper/LOW_${i}`, Value: `low-${i}`, Type: 'String' }));
    expected[`LOW_${i}`] = `low-${i}`;
  }
  await seed.ssm.send(new PutParameterCommand({ Name: `${root}/nested/PASSWORD`, Value: 'decrypted-text', Type: 'SecureString' }));
  expected.PASSWORD = 'decrypted-text';
  await seed.ssm.send(new PutParameterCommand({ Name: `${root}-sibling/OUTSIDE`, Value: 'no', Type: 'String' }));

  const map = await h.source.fetchParametersByPath({ path: root });
  t.deepEqual({ ...map }, expected);
  t.is(h.proxy.count('GetParametersByPath'), 3, '23 parameters are 3 pages of at most 10');
  t.is(await h.source.fetchParametersByPath({ path: root }), map);
  t.is(h.proxy.count('GetParametersByPath'), 3);
  t.deepEqual({ ...(await h.source.fetchParametersByPath({ path: `/${uniqueName('none')}` })) }, {});
});

test('a missing secret and a missing version get their own codes', async (t) => {
  const h = await harness(t);
  const { name, v } = await createSecret(['x']);
  const missingId = '00000000-0000-0000-0000-000000000000';

  const noSecret = await rejection(h.source.fetchVersion({ secretId: `${name}-gone`, versionId: missingId }));
  t.like(noSecret, { code: 'ERR_AWS_SECRET_NOT_FOUND', kind: 'terminal' });
  t.like(noSecret.details, { secretId: `${name}-gone`, versionId: missingId, api: 'GetSecretValue', awsCode: 'ResourceNotFoundException' });

  const noVersion = await rejection(h.source.fetchVersion({ secretId: name, versionId: missingId }));
  t.like(noVersion, { code: 'ERR_AWS_VERSION_NOT_FOUND', kind: 'terminal' });
  t.is(noVersion.message, `secret "${name}" in ${String(noVersion.details.region)} has no version "${missingId}"`);

  const noStage = await rejection(h.source.fetchByStage({ secretId: name, stage: 'NO_SUCH_STAGE' }));
  t.like(noStage, { code: 'ERR_AWS_VERSION_NOT_FOUND', kind: 'terminal' });
  const noSecretByStage = await rejection(h.source.fetchByStage({ secretId: `${name}-gone`, stage: 'AWSCURRENT' }));
  t.like(noSecretByStage, { code: 'ERR_AWS_SECRET_NOT_FOUND' });
  const noSecretDescribed = await rejection(h.source.describeCurrentVersion({ secretId: `${name}-gone` }));
  t.like(noSecretDescribed, { code: 'ERR_AWS_SECRET_NOT_FOUND' });
  t.is(h.proxy.count('GetSecretValue'), 4);
  t.is(h.proxy.count('DescribeSecret'), 4, 'a follow-up where the answer did not name the version (3), plus the describe itself');
  t.is(await metric(h.registry, 'piggy_aws_calls_total', { result: 'not_found' }), 7);
  t.is(await metric(h.registry, 'piggy_aws_calls_total', { result: 'ok' }), 1, 'the follow-up that found the secret');

  t.is((await h.source.fetchVersion({ secretId: name, versionId: v(0) })).secretString, 'x', 'failures are not cached');
});

test('throttling: ERR_AWS_THROTTLED, the budget rate drops, and no call storm follows', async (t) => {
  const h = await harness(t, { ratePerSecond: 100, burst: 5, minRatePerSecond: 5 });
  const { name, versions, v } = await createSecret(['a', 'b', 'c', 'd', 'e', 'f']);
  h.proxy.setMode('throttle');

  const shared = await Promise.all(Array.from({ length: 200 }, () => rejection(h.source.fetchVersion({ secretId: name, versionId: v(0) }))));
  t.true(shared.every((e) => e.code === 'ERR_AWS_THROTTLED' && e.kind === 'transient'));
  t.is(h.proxy.count(), 1, '200 callers, one throttled request, no SDK retries');
  t.is(h.budget.rate(), 50, 'halved');

  const started = performance.now();
  const distinct = await Promise.all(versions.slice(1).map((versionId) => rejection(h.source.fetchVersion({ secretId: name, versionId }))));
  const elapsedMs = performance.now() - started;
  t.true(distinct.every((e) => e.code === 'ERR_AWS_THROTTLED'));
  t.is(h.proxy.count(), 6, 'one request per distinct version, nothing more');
  t.true(elapsedMs >= 4 * (1000 / 50) - 5, `paced at the lowered rate after the throttle emptied the bucket (${elapsedMs.toFixed(0)} ms)`);
  t.true(h.budget.rate() <= 50);
  t.is(await metric(h.registry, 'piggy_aws_throttled_total'), 6);
  t.is(await metric(h.registry, 'piggy_aws_budget_rate'), h.budget.rate());
  t.regex(h.logText(), /"msg":"aws call rate lowered"/);

  h.proxy.setMode('pass');
  const lowered = h.budget.rate();
  for (const versionId of versions) await h.source.fetchVersion({ secretId: name, versionId });
  t.true(h.budget.rate() > lowered, 'successes raise the rate again');
  t.is(h.proxy.count(), 12);
});

test('SDK retries are counted honestly: each attempt takes a token and shows in the metrics', async (t) => {
  const h = await harness(t, { maxAttempts: 3, ratePerSecond: 100, burst: 10 });
  const { name, v } = await createSecret(['retried']);
  h.proxy.throttleNext(2);
  t.is((await h.source.fetchVersion({ secretId: name, versionId: v(0) })).secretString, 'retried');
  t.is(h.proxy.count(), 3, 'the SDK tried three times');
  t.is(await metric(h.registry, 'piggy_aws_calls_total', { api: 'GetSecretValue', result: 'throttled' }), 2);
  t.is(await metric(h.registry, 'piggy_aws_calls_total', { api: 'GetSecretValue', result: 'ok' }), 1);
  t.true(h.budget.rate() < 100, 'the throttled attempts lowered the rate');
});

test('503, a reset connection and silence are transient ERR_AWS_UNAVAILABLE', async (t) => {
  const h = await harness(t, { callTimeoutMs: 2_000 });
  const { name, v } = await createSecret(['v']);
  const ref = { secretId: name, versionId: v(0) };

  h.proxy.setMode('unavailable');
  const unavailable = await rejection(h.source.fetchVersion(ref));
  t.like(unavailable, { code: 'ERR_AWS_UNAVAILABLE', kind: 'transient' });
  t.is(unavailable.details.httpStatus, 503);

  h.proxy.setMode('reset');
  t.like(await rejection(h.source.fetchVersion(ref)), { code: 'ERR_AWS_UNAVAILABLE', kind: 'transient' });

  h.proxy.setMode('hang');
  const started = performance.now();
  const silent = await rejection(h.source.fetchVersion(ref));
  t.like(silent, { code: 'ERR_AWS_UNAVAILABLE', kind: 'transient' });
  t.is(silent.details.awsCode, 'TimeoutError');
  t.true(performance.now() - started < 8_000);

  h.proxy.setMode('pass');
  t.is((await h.source.fetchVersion(ref)).secretString, 'v');
  t.is(h.proxy.count(), 4);
  t.is(await metric(h.registry, 'piggy_aws_calls_total', { result: 'error' }), 3);
});

test('canary: a secret value never appears in errors or log lines', async (t) => {
  const h = await harness(t, { callTimeoutMs: 2_000 });
  const { name, v } = await createSecret([JSON.stringify({ password: CANARY }), CANARY]);
  const root = `/${uniqueName('canary')}`;
  await seed.ssm.send(new PutParameterCommand({ Name: `${root}/PASSWORD`, Value: CANARY, Type: 'SecureString' }));

  t.is((await h.source.fetchVersion({ secretId: name, versionId: v(0) })).secretString, JSON.stringify({ password: CANARY }));
  t.is((await h.source.fetchByStage({ secretId: name, stage: 'AWSCURRENT' })).secretString, CANARY);
  t.is((await h.source.fetchParametersByPath({ path: root })).PASSWORD, CANARY);

  const errors: AppError[] = [];
  errors.push(await rejection(h.source.fetchVersion({ secretId: name, versionId: '00000000-0000-0000-0000-000000000000' })));
  errors.push(await rejection(h.source.fetchByStage({ secretId: name, stage: 'NOPE' })));
  for (const mode of ['throttle', 'unavailable', 'reset', 'hang'] as const) {
    h.proxy.setMode(mode);
    errors.push(await rejection(h.source.fetchByStage({ secretId: name, stage: 'AWSPREVIOUS' })));
    errors.push(await rejection(h.source.fetchParametersByPath({ path: `${root}/other` })));
  }
  for (const error of errors) h.log.error({ err: error, code: error.code }, 'aws read failed');

  const errorText = errors
    .map((e) => [e.message, e.stack, JSON.stringify(e.details), e.cause instanceof Error ? `${e.cause.message} ${e.cause.stack ?? ''}` : ''].join('\n'))
    .join('\n');
  const logText = h.logText();
  t.regex(logText, /"msg":"aws call"/, 'the capture holds the per-call lines');
  t.regex(logText, /"msg":"aws read failed"/, 'and the logged errors');
  t.true(logText.includes(name), 'names are visible');
  t.false(errorText.includes(CANARY), 'no value in errors');
  t.false(logText.includes(CANARY), 'no value in log lines');
});
