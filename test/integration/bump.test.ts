// `piggy bump` (runBump in-process) against the real AWS emulator, and its output against the real API server.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import test, { type ExecutionContext } from 'ava';
import { runBump } from '../../src/bump/run.ts';
import { applyCrds } from '../helpers/crd.ts';
import { createTestNamespace } from '../helpers/kube.ts';
import { kubectl, uniqueName } from '../helpers/stack.ts';

const CANARY = 'canary-value-never-printed';

async function secretWithVersions(client: SecretsManagerClient, name: string, count: number): Promise<string[]> {
  const first = await client.send(new CreateSecretCommand({ Name: name, SecretString: JSON.stringify({ password: `${CANARY}-0` }) }));
  const ids = [first.VersionId ?? ''];
  for (let i = 1; i < count; i++) {
    const next = await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: JSON.stringify({ password: `${CANARY}-${i}` }) }));
    ids.push(next.VersionId ?? '');
  }
  return ids;
}

async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'piggy-bump-it-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function bump(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } };
  const code = await runBump(argv, { AWS_REGION: process.env.AWS_REGION }, io);
  return { code, stdout, stderr };
}

/** Two AWSSecrets and an unrelated document, with comments, three quoting styles and CRLF line ends. */
function fixture(ns: string, app: string, appVersion: string, tls: string, tlsVersion: string): string {
  return [
    '# Managed in git. Bump with: piggy bump deploy/',
    'apiVersion: piggysec.com/v1alpha1',
    'kind: AWSSecret',
    'metadata:',
    '  name: app          # the Secret name',
    `  namespace: ${ns}`,
    'spec:',
    '  stringDataFrom:',
    '    secretsManagerSecretRef:',
    `      secretId: "${app}"`,
    `      versionId: '${appVersion}'   # pinned`,
    '  dataFrom:',
    `    secretsManagerSecretRef: {versionId: "${tlsVersion}", secretId: ${tls}}`,
    '  type: Opaque',
    '---',
    '# not an AWSSecret: left alone even though it looks like one',
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata: {name: settings}',
    'data:',
    `  versionId: ${appVersion}`,
    '---',
    'apiVersion: piggysec.com/v1alpha1',
    'kind: AWSSecret',
    'metadata:',
    '  name: second',
    `  namespace: ${ns}`,
    'spec:',
    '  stringDataFrom:',
    '    secretsManagerSecretRef:',
    `      versionId: ${appVersion}`,
    `      secretId: ${app}`,
    '',
  ].join('\r\n');
}

test('bump rewrites stale versionIds to AWSCURRENT from the emulator, byte-for-byte otherwise', async (t) => {
  const client = new SecretsManagerClient({});
  t.teardown(() => client.destroy());
  const ns = uniqueName('bump');
  const app = `${ns}/app`;
  const tls = `${ns}/tls`;
  const [appV1, appV2] = await secretWithVersions(client, app, 2);
  const [tlsV1] = await secretWithVersions(client, tls, 1);
  if (appV1 === undefined || appV2 === undefined || tlsV1 === undefined) return t.fail('moto returned no version ids');

  const dir = await tempDir(t);
  const file = join(dir, 'secrets.yaml');
  const original = fixture(ns, app, appV1, tls, tlsV1);
  await writeFile(file, original);

  const check = await bump(['--check', dir]);
  t.is(check.code, 1, check.stderr);
  t.deepEqual(check.stdout.trim().split('\n').slice(0, -1), [
    `${file}: AWSSecret ${ns}/app stringDataFrom.secretsManagerSecretRef.versionId ${appV1} -> ${appV2}`,
    `${file}: AWSSecret ${ns}/second stringDataFrom.secretsManagerSecretRef.versionId ${appV1} -> ${appV2}`,
  ]);
  t.is(await readFile(file, 'utf8'), original, '--check changes nothing');

  const written = await bump([dir]);
  t.is(written.code, 0, written.stderr);
  const expected = original
    .replace(`versionId: '${appV1}'   # pinned`, `versionId: '${appV2}'   # pinned`)
    .replace(`      versionId: ${appV1}\r\n`, `      versionId: ${appV2}\r\n`);
  t.not(expected, original);
  t.is(await readFile(file, 'utf8'), expected);
  t.true(expected.includes(`data:\r\n  versionId: ${appV1}`), 'the ConfigMap keeps its value');

  const again = await bump(['--check', dir]);
  t.is(again.code, 0, again.stderr);
  for (const output of [check, written, again]) t.false(`${output.stdout}${output.stderr}`.includes(CANARY), 'no secret value in the output');
});

test('a secret that does not exist exits 2 naming the file and the secret; nothing is written', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'missing.yaml');
  const ns = uniqueName('bump');
  const text = fixture(ns, `${ns}/nope`, '00000000-0000-4000-8000-000000000000', `${ns}/nope-either`, '00000000-0000-4000-8000-000000000001');
  await writeFile(file, text);
  const result = await bump([file]);
  t.is(result.code, 2);
  t.true(result.stderr.includes(`${file}: ERR_AWS_SECRET_NOT_FOUND AWSSecret ${ns}/app stringDataFrom: secret "${ns}/nope" in ${process.env.AWS_REGION ?? ''} was not found`), result.stderr);
  t.notRegex(result.stderr, /\n\s+at /);
  t.is(await readFile(file, 'utf8'), text);
});

test('a manifest the API server rejects for its missing versionId is accepted once bumped', async (t) => {
  await applyCrds();
  const namespace = await createTestNamespace(t, 'bump');
  const client = new SecretsManagerClient({});
  t.teardown(() => client.destroy());
  const secretId = `${namespace}/db`;
  const [current] = await secretWithVersions(client, secretId, 1);
  const dir = await tempDir(t);
  const file = join(dir, 'db.yaml');
  const text = `apiVersion: piggysec.com/v1alpha1\nkind: AWSSecret\nmetadata:\n  name: db\nspec:\n  stringDataFrom:\n    secretsManagerSecretRef:\n      secretId: ${secretId}  # no versionId yet\n`;
  await writeFile(file, text);

  const rejected = await kubectl(['create', '--dry-run=server', '-n', namespace, '-f', file]);
  t.not(rejected.code, 0);
  t.true(rejected.stderr.includes('run `piggy bump <file>`'), rejected.stderr);

  const result = await bump([file]);
  t.is(result.code, 0, result.stderr);
  t.true(result.stdout.includes(`AWSSecret db stringDataFrom.secretsManagerSecretRef.versionId (none) -> ${current ?? ''}`), result.stdout);
  t.is(await readFile(file, 'utf8'), text.replace('# no versionId yet\n', `# no versionId yet\n      versionId: ${current ?? ''}\n`));
  const accepted = await kubectl(['create', '-n', namespace, '-f', file]);
  t.is(accepted.code, 0, accepted.stderr);
});
