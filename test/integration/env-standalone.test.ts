// Standalone mode of the built launcher against the stack's AWS emulator (moto), behind the fault
// proxy (counts requests, injects throttling): IRSA web identity through STS, Secrets Manager by
// VersionId and stage, SSM by path over several pages, errors and retries. The launcher is installed
// into a temp folder on this machine (its own loader and libraries, as in a Pod); no root needed.
// The throttling test is serial: the fault proxy is shared by the file's tests.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import test from 'ava';
import { ensurePiggyEnvBuild } from '../../scripts/build-piggy-env.ts';
import { installLauncher } from '../../src/env/install.ts';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.ts';
import { awsEnv, uniqueName } from '../helpers/stack.ts';

const run = promisify(execFile);
const CANARY = 'canary-0c4b93de-standalone-value';
const REPO = join(import.meta.dirname, '..', '..');

let launcher: string;
let scratch: string;
let fault: FaultProxy;
const sm = new SecretsManagerClient({});
const ssm = new SSMClient({});

test.before(async () => {
  const build = await ensurePiggyEnvBuild();
  scratch = await mkdtemp(join(tmpdir(), 'piggy-env-standalone-'));
  launcher = (await installLauncher(build.executable, join(scratch, 'piggy'))).path;
  const endpoint = awsEnv().AWS_ENDPOINT_URL;
  if (endpoint === undefined) throw new Error('the stack has no AWS_ENDPOINT_URL');
  fault = await startFaultProxy(endpoint);
});

test.after.always(async () => {
  sm.destroy();
  ssm.destroy();
  await fault.close();
  await rm(scratch, { recursive: true, force: true });
});

interface Outcome {
  readonly code: number;
  readonly env: Record<string, string>;
  readonly stderr: string;
}

/** Runs `<launcher> --standalone -- /usr/bin/env` with exactly `env` (plus PATH and the emulator, through the fault proxy). */
async function launch(env: Record<string, string>, program = launcher): Promise<Outcome> {
  const aws = { AWS_REGION: awsEnv().AWS_REGION ?? 'us-east-1', AWS_ENDPOINT_URL: fault.url };
  const args = program === launcher ? ['--standalone', '--', 'env'] : [program, '--standalone', '--', 'env'];
  const file = program === launcher ? launcher : process.execPath;
  try {
    const { stdout, stderr } = await run(file, args, { env: { PATH: '/usr/bin:/bin', ...aws, ...env } });
    return { code: 0, env: Object.fromEntries(stdout.trim().split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)])), stderr };
  } catch (error) {
    const failed = error as { code: number; stderr: string };
    return { code: failed.code, env: {}, stderr: failed.stderr };
  }
}

const staticKeys = () => ({ AWS_ACCESS_KEY_ID: awsEnv().AWS_ACCESS_KEY_ID ?? 'testing', AWS_SECRET_ACCESS_KEY: awsEnv().AWS_SECRET_ACCESS_KEY ?? 'testing' });

async function createSecret(values: readonly string[]): Promise<{ name: string; versions: string[] }> {
  const name = uniqueName('env-sa');
  const created = await sm.send(new CreateSecretCommand({ Name: name, SecretString: values[0] }));
  const versions = [created.VersionId ?? ''];
  for (const value of values.slice(1)) versions.push((await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: value }))).VersionId ?? '');
  return { name, versions };
}

test('IRSA: the web identity token goes to STS, and its credentials read the secret', async (t) => {
  const { name } = await createSecret([JSON.stringify({ db: CANARY })]);
  const tokenFile = join(scratch, 'web-identity-token');
  await writeFile(tokenFile, 'eyJhbGciOiJSUzI1NiJ9.e30.sig');
  const before = fault.requests.get('POST /') ?? 0;
  const outcome = await launch({ AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/app', AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile, PIGGY_AWS_SECRET_NAME: name, DB: 'piggy:db' });
  t.is(outcome.code, 0, outcome.stderr);
  t.is(outcome.env.DB, CANARY);
  t.is(outcome.env.AWS_ROLE_ARN, 'arn:aws:iam::123456789012:role/app', 'the app keeps its own AWS settings');
  t.is((fault.requests.get('POST /') ?? 0) - before, 1, 'one AssumeRoleWithWebIdentity');
  t.false(outcome.stderr.includes(CANARY));
  const missing = await launch({ AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/app', AWS_WEB_IDENTITY_TOKEN_FILE: join(scratch, 'nope'), PIGGY_AWS_SECRET_NAME: name, DB: 'piggy:db' });
  t.is(missing.code, 1);
  t.regex(missing.stderr, /ERR_ENV_AWS_CREDENTIALS.*web identity token/);
});

test('Secrets Manager: AWSCURRENT by default, a pinned VersionId, or a stage', async (t) => {
  const { name, versions } = await createSecret([JSON.stringify({ v: 'one' }), JSON.stringify({ v: 'two' })]);
  const base = { ...staticKeys(), PIGGY_AWS_SECRET_NAME: name, V: 'piggy:v' };
  t.is((await launch(base)).env.V, 'two');
  t.is((await launch({ ...base, PIGGY_AWS_SECRET_VERSION_ID: versions[0] ?? '' })).env.V, 'one');
  t.is((await launch({ ...base, PIGGY_AWS_SECRET_VERSION_STAGE: 'AWSPREVIOUS' })).env.V, 'one');
});

test('SSM: every page of a recursive path, decrypted, keyed by the last path element', async (t) => {
  const root = `/${uniqueName('env-ssm')}`;
  for (let index = 0; index < 23; index += 1) await ssm.send(new PutParameterCommand({ Name: `${root}/K_${index}`, Value: `v-${index}`, Type: 'String' }));
  await ssm.send(new PutParameterCommand({ Name: `${root}/nested/PASSWORD`, Value: CANARY, Type: 'SecureString' }));
  const before = fault.count('GetParametersByPath');
  const outcome = await launch({ ...staticKeys(), PIGGY_AWS_SSM_PARAMETER_PATH: root, FIRST: 'piggy:K_0', LAST: 'piggy:K_22', PASSWORD: 'piggy:PASSWORD' });
  t.is(outcome.code, 0, outcome.stderr);
  t.deepEqual([outcome.env.FIRST, outcome.env.LAST, outcome.env.PASSWORD], ['v-0', 'v-22', CANARY]);
  t.is(fault.count('GetParametersByPath') - before, 3, '24 parameters, 10 a page');
});

test('a missing secret: exit 1 with the AWS error; a key the secret lacks: exit 1 naming the variable', async (t) => {
  const missing = await launch({ ...staticKeys(), PIGGY_AWS_SECRET_NAME: uniqueName('env-none'), A: 'piggy:a' });
  t.is(missing.code, 1);
  t.regex(missing.stderr, /ResourceNotFoundException/);
  const { name } = await createSecret([JSON.stringify({ present: CANARY })]);
  const unresolved = await launch({ ...staticKeys(), PIGGY_AWS_SECRET_NAME: name, OK: 'piggy:present', GONE: 'piggy:absent' });
  t.is(unresolved.code, 1);
  t.regex(unresolved.stderr, /"variables":\["GONE"\]/);
  t.false(unresolved.stderr.includes(CANARY));
});

test.serial('throttling is retried with backoff up to PIGGY_NUMBER_OF_RETRY attempts', async (t) => {
  const { name } = await createSecret([JSON.stringify({ a: 'ok' })]);
  fault.throttleNext(2);
  const outcome = await launch({ ...staticKeys(), PIGGY_AWS_SECRET_NAME: name, A: 'piggy:a', PIGGY_NUMBER_OF_RETRY: '3' });
  t.is(outcome.code, 0, outcome.stderr);
  t.is(outcome.env.A, 'ok');
  t.is(outcome.stderr.match(/attempt failed, retrying/g)?.length, 2);
  fault.throttleNext(2);
  const tooFew = await launch({ ...staticKeys(), PIGGY_AWS_SECRET_NAME: name, A: 'piggy:a', PIGGY_NUMBER_OF_RETRY: '2' });
  t.is(tooFew.code, 1);
  t.regex(tooFew.stderr, /ThrottlingException/);
});

test('the development entry point (bin/piggy-env.js on Node) behaves the same', async (t) => {
  const { name } = await createSecret([JSON.stringify({ a: CANARY })]);
  const outcome = await launch({ ...staticKeys(), PIGGY_AWS_SECRET_NAME: name, A: 'piggy:a' }, join(REPO, 'bin', 'piggy-env.js'));
  t.is(outcome.code, 0, outcome.stderr);
  t.is(outcome.env.A, CANARY);
});
