import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { formatFileSpecs } from '../../src/shared/injection-contract.ts';
import type { HttpRequest, HttpResponse } from '../../src/env/http-request.ts';
import { parseFileModes, runWriteFiles, type WriteFilesDeps } from '../../src/env/write-files.ts';

const CANARY = 'canary-3b7e0d41-file';
const ARN_A = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:a-AbCdEf';
const ARN_B = 'arn:aws:secretsmanager:us-east-2:123456789012:secret:b-GhIjKl';

async function scratch(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'piggy-env-files-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function deps(env: Record<string, string>, answer: (request: HttpRequest) => HttpResponse, logs: string[], requests: HttpRequest[] = []): WriteFilesDeps {
  return {
    env: { AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK', ...env },
    now: () => new Date('2026-02-13T00:00:00Z'),
    readFile: async () => '',
    random: () => 0,
    sleep: async () => undefined,
    elapsed: () => 5,
    writeLog: (line) => logs.push(line),
    sendHttp: async (request) => {
      requests.push(request);
      return answer(request);
    },
  };
}

test('file modes: 0400 (the default) or 0440 with group-readable folders; anything else is refused', (t) => {
  t.deepEqual(parseFileModes(undefined), { file: 0o400, dir: 0o700 });
  t.deepEqual(parseFileModes('0400'), { file: 0o400, dir: 0o700 });
  t.deepEqual(parseFileModes('0440'), { file: 0o440, dir: 0o750 });
  t.is(parseFileModes('0644'), undefined);
});

test('write-files: each secret in its own region, verbatim (string or binary bytes), with the mode, atomically', async (t) => {
  const dir = await scratch(t);
  const specs = [
    { secretId: ARN_A, region: 'eu-west-1', path: join(dir, 'a', 'secret') },
    { secretId: ARN_B, region: 'us-east-2', path: join(dir, 'b.bin') },
  ];
  const logs: string[] = [];
  const requests: HttpRequest[] = [];
  const answer = (request: HttpRequest): HttpResponse => {
    const id = (JSON.parse(request.body ?? '{}') as { SecretId: string }).SecretId;
    const body = id === ARN_A ? { SecretString: `{"k":"${CANARY}"}` } : { SecretBinary: Buffer.from([0, 255, 1]).toString('base64') };
    return { status: 200, headers: {}, body: JSON.stringify(body) };
  };
  const code = await runWriteFiles(deps({ PIGGY_FILES: formatFileSpecs(specs), PIGGY_FILE_MODE: '0440' }, answer, logs, requests));
  t.is(code, 0, logs.join(''));
  t.is(await readFile(join(dir, 'a', 'secret'), 'utf8'), `{"k":"${CANARY}"}`);
  t.deepEqual(await readFile(join(dir, 'b.bin')), Buffer.from([0, 255, 1]));
  t.is((await stat(join(dir, 'a', 'secret'))).mode & 0o777, 0o440);
  t.is((await stat(join(dir, 'a'))).mode & 0o777, 0o750);
  t.deepEqual((await readdir(dir)).sort(), ['a', 'b.bin'], 'no temp files left');
  t.deepEqual(requests.map((request) => request.url.host).sort(), ['secretsmanager.eu-west-1.amazonaws.com', 'secretsmanager.us-east-2.amazonaws.com']);
  t.deepEqual(JSON.parse(requests[0]?.body ?? '{}'), { SecretId: requests[0]?.body?.includes(ARN_A) ? ARN_A : ARN_B, VersionStage: 'AWSCURRENT' });
  t.false(logs.join('').includes(CANARY));
});

test('write-files: one failed read writes nothing and exits non-zero, naming the secret id and path', async (t) => {
  const dir = await scratch(t);
  const specs = [
    { secretId: ARN_A, region: 'eu-west-1', path: join(dir, 'a') },
    { secretId: ARN_B, region: 'us-east-2', path: join(dir, 'b') },
  ];
  const logs: string[] = [];
  const answer = (request: HttpRequest): HttpResponse =>
    request.body?.includes(ARN_B) === true
      ? { status: 400, headers: {}, body: JSON.stringify({ __type: 'AccessDeniedException', message: 'not allowed' }) }
      : { status: 200, headers: {}, body: JSON.stringify({ SecretString: CANARY }) };
  t.is(await runWriteFiles(deps({ PIGGY_FILES: formatFileSpecs(specs), PIGGY_FILE_MODE: '0400' }, answer, logs)), 1);
  t.deepEqual(await readdir(dir), []);
  const error = JSON.parse(logs.find((line) => line.includes('could not read secret')) ?? '{}') as Record<string, string>;
  t.is(error.secretId, ARN_B);
  t.is(error.path, join(dir, 'b'));
  t.regex(error.error ?? '', /AccessDeniedException/);
  t.false(logs.join('').includes(CANARY));
});

test('write-files: transient failures are retried (PIGGY_NUMBER_OF_RETRY)', async (t) => {
  const dir = await scratch(t);
  let calls = 0;
  const answer = (): HttpResponse => {
    calls += 1;
    return calls < 3 ? { status: 500, headers: {}, body: '{}' } : { status: 200, headers: {}, body: JSON.stringify({ SecretString: 'v' }) };
  };
  const env = { PIGGY_FILES: formatFileSpecs([{ secretId: ARN_A, region: 'eu-west-1', path: join(dir, 's') }]), PIGGY_FILE_MODE: '0400', PIGGY_NUMBER_OF_RETRY: '3' };
  t.is(await runWriteFiles(deps(env, answer, [])), 0);
  t.is(calls, 3);
});

test('write-files: bad configuration exits non-zero without a request', async (t) => {
  const logs: string[] = [];
  const never = (): HttpResponse => t.fail('no request');
  t.is(await runWriteFiles(deps({ PIGGY_FILES: 'nope', PIGGY_FILE_MODE: '0400' }, never, logs)), 1);
  t.is(await runWriteFiles(deps({ PIGGY_FILES: formatFileSpecs([{ secretId: ARN_A, region: 'eu-west-1', path: '/x' }]), PIGGY_FILE_MODE: '0777' }, never, logs)), 1);
  t.regex(logs.join(''), /PIGGY_FILE_MODE must be 0400 or 0440/);
});
