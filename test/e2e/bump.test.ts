// `piggy bump` as a real process: `node bin/piggy.js bump …` against the emulator, asserting exit
// codes, output and the files on disk.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import test, { type ExecutionContext } from 'ava';
import { PIGGY_BIN, REPO_ROOT } from '../helpers/controller.ts';
import { awsEnv, uniqueName } from '../helpers/stack.ts';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node bin/piggy.js bump <args>` with the emulator's AWS variables only; resolves once its output is closed. */
function piggyBump(t: ExecutionContext, args: readonly string[], env: Record<string, string> = awsEnv()): Promise<Run> {
  const child = spawn(process.execPath, [PIGGY_BIN, 'bump', ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'piggy-bump-e2e-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const manifest = (secretId: string, versionId: string) =>
  `# pinned in git\napiVersion: piggysec.com/v1alpha1\nkind: AWSSecret\nmetadata:\n  name: app\n  namespace: shop\nspec:\n  stringDataFrom:\n    secretsManagerSecretRef:\n      secretId: ${secretId}\n      versionId: "${versionId}"  # bump me\n`;

test('piggy bump --check exits 1 on a stale versionId, piggy bump fixes it, then --check exits 0', async (t) => {
  const client = new SecretsManagerClient({});
  t.teardown(() => client.destroy());
  const secretId = `${uniqueName('shop')}/app`;
  const v1 = (await client.send(new CreateSecretCommand({ Name: secretId, SecretString: '{"password":"canary-e2e-1"}' }))).VersionId ?? '';
  const v2 = (await client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: '{"password":"canary-e2e-2"}' }))).VersionId ?? '';
  const dir = await tempDir(t);
  const file = join(dir, 'app.yaml');
  await writeFile(file, manifest(secretId, v1));
  const line = `${file}: AWSSecret shop/app stringDataFrom.secretsManagerSecretRef.versionId ${v1} -> ${v2}`;

  const stale = await piggyBump(t, ['--check', dir]);
  t.is(stale.code, 1, stale.stderr);
  t.is(stale.stdout.split('\n')[0], line);
  t.is(stale.stderr, '');
  t.is(await readFile(file, 'utf8'), manifest(secretId, v1));

  const bumped = await piggyBump(t, [dir]);
  t.is(bumped.code, 0, bumped.stderr);
  t.is(bumped.stdout.split('\n')[0], line);
  t.is(await readFile(file, 'utf8'), manifest(secretId, v2));

  const current = await piggyBump(t, ['--check', dir]);
  t.is(current.code, 0, current.stderr);
  t.regex(current.stdout, /all current/);
  for (const run of [stale, bumped, current]) t.false(`${run.stdout}${run.stderr}`.includes('canary-e2e'), 'no secret value printed');
});

test('piggy bump exits 2 with one line per error and no stack trace', async (t) => {
  const dir = await tempDir(t);
  const secretId = `${uniqueName('shop')}/absent`;
  const file = join(dir, 'app.yaml');
  await writeFile(file, manifest(secretId, '00000000-0000-4000-8000-000000000000'));
  const result = await piggyBump(t, ['--check', dir]);
  t.is(result.code, 2);
  t.is(result.stderr, `${file}: ERR_AWS_SECRET_NOT_FOUND AWSSecret shop/app stringDataFrom: secret "${secretId}" in ${awsEnv().AWS_REGION ?? ''} was not found\n`);

  const usage = await piggyBump(t, ['--no-such-flag']);
  t.is(usage.code, 2);
  t.regex(usage.stderr, /^piggy bump: unknown option --no-such-flag\n/);
});
