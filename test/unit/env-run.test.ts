import test from 'ava';
import { buildCommandSignature } from '../../src/shared/injection-contract.ts';
import type { FileProbe } from '../../src/env/exec.ts';
import type { HttpRequest, HttpResponse } from '../../src/env/http-request.ts';
import { runEnvMode, type RunDeps } from '../../src/env/run.ts';

const CANARY = 'canary-9f2c51e7-value';
const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const UID = '0123456789abcdef0123456789abcdef';
const PROXY_ENV = { PIGGY_ADDRESS: 'https://piggy.piggy.svc', PIGGY_CA_BUNDLE: CA, PIGGY_UID: UID, PIGGY_POD_NAME: 'web-0' };

/** Thrown by the fake exec, which must not return. */
class Executed extends Error {
  readonly path: string;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  constructor(path: string, argv: readonly string[], env: Readonly<Record<string, string>>) {
    super('executed');
    this.path = path;
    this.argv = argv;
    this.env = env;
  }
}

const ELF = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
const probe: FileProbe = {
  kind: (path) => (['/bin/app', '/usr/bin/env', '/bin/sh'].includes(path) ? 'file' : undefined),
  canExecute: () => true,
  read: () => ELF,
};

interface Harness {
  readonly deps: RunDeps;
  readonly logs: string[];
  readonly requests: HttpRequest[];
  readonly sleeps: number[];
}

function harness(env: Record<string, string>, answer: (request: HttpRequest, index: number) => HttpResponse): Harness {
  const logs: string[] = [];
  const requests: HttpRequest[] = [];
  const sleeps: number[] = [];
  const deps: RunDeps = {
    env,
    cwd: '/',
    sendHttp: async (request) => {
      requests.push(request);
      return answer(request, requests.length - 1);
    },
    readFile: async () => 'sa-token',
    now: () => new Date('2026-02-13T00:00:00Z'),
    random: () => 1,
    sleep: async (ms) => void sleeps.push(ms),
    elapsed: () => 12,
    probe,
    exec: (path, argv, appEnv) => {
      throw new Executed(path, argv, appEnv);
    },
    writeLog: (line) => logs.push(line),
  };
  return { deps, logs, requests, sleeps };
}

async function launch(args: string[], h: Harness): Promise<Executed | number> {
  try {
    return await runEnvMode(args, h.deps);
  } catch (error) {
    if (error instanceof Executed) return error;
    throw error;
  }
}

const ok = (values: unknown) => () => ({ status: 200, headers: {}, body: JSON.stringify(values) });

test('proxy mode: resolves, aliases, strips PIGGY_*, expands the template, execs the program found on PATH', async (t) => {
  const env = { ...PROXY_ENV, PATH: '/usr/bin:/bin', DB_PASSWORD: 'piggy:db', ALIAS: 'piggy:db', PORT: '8080', PIGGY_DEBUG: 'true' };
  const h = harness(env, ok({ db: CANARY, other: 'x' }));
  const template = ['app', '--port=$(PORT)', '$$(PORT)'];
  const result = await launch(['--', ...template], h);
  if (!(result instanceof Executed)) return t.fail(`exited ${result}`);
  t.is(result.path, '/bin/app');
  t.deepEqual(result.argv, ['app', '--port=8080', '$(PORT)']);
  t.deepEqual(result.env, { PATH: '/usr/bin:/bin', DB_PASSWORD: CANARY, ALIAS: CANARY, PORT: '8080' });
  t.deepEqual(JSON.parse(h.requests[0]?.body ?? ''), { name: 'web-0', uid: UID, signature: buildCommandSignature(template), keys: ['db'] });
  t.is(h.logs.filter((line) => (JSON.parse(line) as { level: string }).level === 'info').length, 1, 'one info line per start');
  t.false(h.logs.join('').includes(CANARY));
});

test('the template is expanded like the kubelet does, with resolved values: a $(VAR) naming a piggy variable gets its value', async (t) => {
  const h = harness({ ...PROXY_ENV, PATH: '/bin', TOKEN: 'piggy:t' }, ok({ t: CANARY }));
  const result = await launch(['--', 'app', '--token=$(TOKEN)', '$(PIGGY_UID)', '$(UNKNOWN)'], h);
  if (!(result instanceof Executed)) return t.fail();
  t.deepEqual(result.argv, ['app', `--token=${CANARY}`, UID, '$(UNKNOWN)']);
  t.is(result.env.PIGGY_UID, undefined);
});

test('unresolved references: exit 1 naming the variables, never values; the app does not start', async (t) => {
  const h = harness({ ...PROXY_ENV, PATH: '/bin', A: 'piggy:there', B: 'piggy:missing', C: 'piggy:' }, ok({ there: CANARY }));
  t.is(await launch(['--', 'app'], h), 1);
  const error = JSON.parse(h.logs.at(-1) ?? '{}') as Record<string, unknown>;
  t.is(error.code, 'ERR_ENV_UNRESOLVED');
  t.deepEqual(error.variables, ['B', 'C']);
  t.false(h.logs.join('').includes(CANARY));
});

test('PIGGY_IGNORE_NO_ENV with every attempt failing starts the app with its declared environment, not an empty one (Piggy bug)', async (t) => {
  const env = { ...PROXY_ENV, PATH: '/bin', HOME: '/home/app', A: 'piggy:a', PIGGY_IGNORE_NO_ENV: 'true' };
  const h = harness(env, () => ({ status: 503, headers: {}, body: '{}' }));
  const result = await launch(['--', 'app'], h);
  if (!(result instanceof Executed)) return t.fail(`exited ${result}`);
  t.deepEqual(result.env, { PATH: '/bin', HOME: '/home/app', A: 'piggy:a' });
});

test('standalone mode exits into the app after a successful fetch (Piggy exited 1)', async (t) => {
  const env = { PATH: '/bin', A: 'piggy:a', PIGGY_STANDALONE: 'true', PIGGY_AWS_SECRET_NAME: 'team/app', PIGGY_AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK' };
  const h = harness(env, ok({ SecretString: JSON.stringify({ a: CANARY }) }));
  const result = await launch(['--', 'app'], h);
  if (!(result instanceof Executed)) return t.fail(`exited ${result}: ${h.logs.join('')}`);
  t.is(result.env.A, CANARY);
  t.is(result.env.AWS_ACCESS_KEY_ID, 'AK', 'the app keeps its AWS variables');
  t.is(h.requests[0]?.headers['x-amz-target'], 'secretsmanager.GetSecretValue');
  t.deepEqual(JSON.parse(h.requests[0]?.body ?? ''), { SecretId: 'team/app', VersionStage: 'AWSCURRENT' });
});

test('--standalone flag selects standalone mode', async (t) => {
  const h = harness({ PATH: '/bin', A: 'piggy:a', PIGGY_AWS_SSM_PARAMETER_PATH: '/app', AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK' }, ok({ Parameters: [{ Name: '/app/a', Value: 'v' }] }));
  const result = await launch(['--standalone', '--', 'app'], h);
  t.true(result instanceof Executed);
  t.is(h.requests[0]?.headers['x-amz-target'], 'AmazonSSM.GetParametersByPath');
});

test('retries: the initial delay, then backoff between transient failures, then success', async (t) => {
  const env = { ...PROXY_ENV, PATH: '/bin', A: 'piggy:a', PIGGY_NUMBER_OF_RETRY: '4', PIGGY_INITIAL_DELAY: '2s' };
  const h = harness(env, (_request, index) => (index < 2 ? { status: 503, headers: {}, body: '' } : { status: 200, headers: {}, body: '{"a":"v"}' }));
  const result = await launch(['--', 'app'], h);
  t.true(result instanceof Executed);
  t.is(h.requests.length, 3);
  t.deepEqual(h.sleeps, [2000, 500, 1000]);
  t.is(h.logs.filter((line) => line.includes('attempt failed, retrying')).length, 2);
});

test('retries: a refusal (403) is not retried', async (t) => {
  const h = harness({ ...PROXY_ENV, PATH: '/bin', A: 'piggy:a', PIGGY_NUMBER_OF_RETRY: '5' }, () => ({ status: 403, headers: {}, body: '{"code":"ERR_PROXY_POLICY","message":"denied"}' }));
  t.is(await launch(['--', 'app'], h), 1);
  t.is(h.requests.length, 1);
  t.regex(h.logs.at(-1) ?? '', /ERR_ENV_PROXY_REFUSED.*answered 403 \(ERR_PROXY_POLICY: denied\)/);
});

test('no references: no request, the app starts at once', async (t) => {
  const h = harness({ PATH: '/bin', HOME: '/' }, () => t.fail('no request'));
  const result = await launch(['--', 'app'], h);
  t.true(result instanceof Executed);
  t.is(h.requests.length, 0);
});

test('a missing program: exit 127 with its name; a bad command line: exit 2', async (t) => {
  const h = harness({ PATH: '/bin' }, ok({}));
  t.is(await launch(['--', 'no-such-program'], h), 127);
  t.regex(h.logs.at(-1) ?? '', /ERR_ENV_PROGRAM_NOT_FOUND.*no-such-program: not found on PATH/);
  t.is(await launch(['app'], h), 2);
  t.is(await launch(['--'], h), 2);
  t.is(await launch(['--bogus', '--', 'app'], h), 2);
});

test('proxy mode without its configuration fails with every missing variable named', async (t) => {
  const h = harness({ PATH: '/bin', A: 'piggy:a' }, () => t.fail('no request'));
  t.is(await launch(['--', 'app'], h), 1);
  const error = JSON.parse(h.logs.at(-1) ?? '{}') as { code: string; error: string };
  t.is(error.code, 'ERR_ENV_CONFIG');
  t.regex(error.error, /PIGGY_ADDRESS.*PIGGY_CA_BUNDLE.*PIGGY_UID.*PIGGY_POD_NAME/);
});
