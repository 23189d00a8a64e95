import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import type { CurrentVersionSource } from '../../src/bump/current-versions.ts';
import { parseBumpArgs } from '../../src/bump/report.ts';
import { runBump } from '../../src/bump/run.ts';
import { AppError } from '../../src/shared/errors.ts';

const OLD = 'a0000000-0000-4000-8000-000000000001';
const NEW = 'b0000000-0000-4000-8000-000000000002';

function manifest(name: string, secretId: string, versionId = OLD, extra = ''): string {
  return `apiVersion: piggysec.com/v1alpha1\nkind: AWSSecret\nmetadata:\n  name: ${name}\n  namespace: ns\nspec:${extra}\n  stringDataFrom:\n    secretsManagerSecretRef:\n      secretId: ${secretId}   # comment\n      versionId: "${versionId}"\n`;
}

async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'piggy-bump-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A fake AWSCURRENT source: `current` maps "region secretId" or "secretId" → version; records calls. */
function fakeSource(current: Record<string, string>) {
  const calls: string[] = [];
  const source: CurrentVersionSource = (region, secretId) => {
    calls.push(`${region ?? ''} ${secretId}`);
    const found = current[`${region ?? ''} ${secretId}`] ?? current[secretId];
    if (found === undefined) return Promise.reject(new AppError('ERR_AWS_SECRET_NOT_FOUND', `secret "${secretId}" in ${region ?? ''} was not found`));
    return Promise.resolve(found);
  };
  return { source, calls };
}

async function run(argv: string[], source: CurrentVersionSource, env: Record<string, string | undefined> = { AWS_REGION: 'us-east-1' }) {
  let stdout = '';
  let stderr = '';
  const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } };
  const code = await runBump(argv, env, io, { currentVersion: source });
  return { code, stdout, stderr };
}

test('--check reports stale versionIds, changes nothing and exits 1', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'app.yaml');
  await writeFile(file, manifest('app', 'ns/app'));
  const before = await stat(file);
  const { source } = fakeSource({ 'ns/app': NEW });
  const result = await run(['--check', dir], source);
  t.is(result.code, 1, result.stderr);
  t.is(result.stdout.split('\n')[0], `${file}: AWSSecret ns/app stringDataFrom.secretsManagerSecretRef.versionId ${OLD} -> ${NEW}`);
  t.regex(result.stdout, /1 stale versionId in 1 file; run piggy bump to update/);
  t.is(await readFile(file, 'utf8'), manifest('app', 'ns/app'));
  t.is((await stat(file)).mtimeMs, before.mtimeMs);
});

test('bump rewrites the file atomically, keeps its mode, and exits 0; a second run changes nothing', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'app.yml');
  await writeFile(file, manifest('app', 'ns/app'));
  await chmod(file, 0o640);
  const inode = (await stat(file)).ino;
  const { source } = fakeSource({ 'ns/app': NEW });
  const result = await run([file], source);
  t.is(result.code, 0, result.stderr);
  t.is(await readFile(file, 'utf8'), manifest('app', 'ns/app', NEW));
  const after = await stat(file);
  t.is(after.mode & 0o777, 0o640);
  t.not(after.ino, inode, 'replaced by rename, not rewritten in place');
  t.deepEqual(await readdir(dir), ['app.yml'], 'no temporary file left behind');
  t.regex(result.stdout, /updated 1 versionId in 1 file/);

  const again = await run([file], source);
  t.is(again.code, 0);
  t.is((await stat(file)).ino, after.ino, 'an unchanged file is not written');
  t.regex(again.stdout, /all current/);
  t.is((await run(['--check', file], source)).code, 0);
});

test('directories are walked for *.yaml and *.yml; hidden folders, other files and other kinds are skipped', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'a', 'b'), { recursive: true });
  await mkdir(join(dir, '.git'));
  await mkdir(join(dir, 'node_modules'));
  await writeFile(join(dir, 'a', 'b', 'deep.YAML'), manifest('deep', 'ns/deep'));
  await writeFile(join(dir, 'a', 'one.yml'), manifest('one', 'ns/one'));
  await writeFile(join(dir, '.git', 'hidden.yaml'), manifest('hidden', 'ns/hidden'));
  await writeFile(join(dir, 'node_modules', 'dep.yaml'), manifest('dep', 'ns/dep'));
  await writeFile(join(dir, 'notes.txt'), manifest('txt', 'ns/txt'));
  await writeFile(join(dir, 'chart.yaml'), 'name: {{ .Values.broken\n'); // not YAML, but no AWSSecret either
  await symlink(join(dir, 'a', 'one.yml'), join(dir, 'link.yaml'));
  const { source, calls } = fakeSource({ 'ns/deep': NEW, 'ns/one': NEW });
  const result = await run(['--check', dir], source);
  t.is(result.code, 1, result.stderr);
  t.deepEqual(calls.sort(), ['us-east-1 ns/deep', 'us-east-1 ns/one']);
  t.deepEqual(
    result.stdout.trim().split('\n').slice(0, -1).map((line) => line.split(':')[0]),
    [join(dir, 'a', 'b', 'deep.YAML'), join(dir, 'a', 'one.yml')],
  );
  t.regex(result.stdout, /2 versionIds of 2 AWSSecrets in 3 files/);
});

test('each (region, secretId) is described once per run, spec.region first, AWS_REGION otherwise', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'a.yaml'), `${manifest('a', 'shared')}---\n${manifest('b', 'shared')}`);
  await writeFile(join(dir, 'b.yaml'), `${manifest('c', 'shared')}---\n${manifest('d', 'shared', OLD, '\n  region: eu-west-1')}`);
  const { source, calls } = fakeSource({ 'us-east-1 shared': NEW, 'eu-west-1 shared': OLD });
  const result = await run([dir], source, { AWS_REGION: 'us-east-1' });
  t.is(result.code, 0, result.stderr);
  t.deepEqual(calls.sort(), ['eu-west-1 shared', 'us-east-1 shared']);
  t.is(result.stdout.split('\n').filter((l) => l.includes(' -> ')).length, 3, 'd is current in eu-west-1');
  t.true((await readFile(join(dir, 'b.yaml'), 'utf8')).endsWith(manifest('d', 'shared', OLD, '\n  region: eu-west-1')));
});

test('AWS errors exit 2 naming the file, without stack traces; the other files are still bumped', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'bad.yaml'), `${manifest('ok', 'ns/app')}---\n${manifest('gone', 'ns/missing')}`);
  await writeFile(join(dir, 'good.yaml'), manifest('app', 'ns/app'));
  const { source } = fakeSource({ 'ns/app': NEW });
  const result = await run([dir], source);
  t.is(result.code, 2);
  t.is(
    result.stderr.trim(),
    `${join(dir, 'bad.yaml')}: ERR_AWS_SECRET_NOT_FOUND AWSSecret ns/gone stringDataFrom: secret "ns/missing" in us-east-1 was not found`,
  );
  t.notRegex(result.stderr, /\n\s+at /);
  t.is(await readFile(join(dir, 'bad.yaml'), 'utf8'), `${manifest('ok', 'ns/app')}---\n${manifest('gone', 'ns/missing')}`, 'a file with an error is left alone');
  t.is(await readFile(join(dir, 'good.yaml'), 'utf8'), manifest('app', 'ns/app', NEW));
  t.regex(result.stdout, /1 error \(files with errors were not changed\)/);
  t.is((await run(['--check', dir], source)).code, 2, 'errors win over stale under --check too');
});

test('unreadable paths, invalid YAML and non-UTF-8 files exit 2 with the file and a clear message', async (t) => {
  const dir = await tempDir(t);
  const invalid = join(dir, 'invalid.yaml');
  await writeFile(invalid, 'kind: AWSSecret\nspec: [1, 2\n');
  const latin1 = join(dir, 'latin1.yaml');
  await writeFile(latin1, Buffer.concat([Buffer.from('kind: AWSSecret\n# caf'), Buffer.from([0xe9]), Buffer.from('\n')]));
  const { source, calls } = fakeSource({});
  const missing = join(dir, 'nope.yaml');
  const result = await run([missing, invalid, latin1], source);
  t.is(result.code, 2);
  const lines = result.stderr.trim().split('\n');
  t.is(lines.length, 3, result.stderr);
  t.true(lines.includes(`${missing}: ERR_BUMP_READ cannot read: no such file or directory`), result.stderr);
  t.true(lines.includes(`${latin1}: ERR_BUMP_READ cannot read: not UTF-8 text`), result.stderr);
  t.true(lines.some((line) => new RegExp(`^${invalid}:\\d+: ERR_BUMP_INVALID_YAML invalid YAML: [^:]+[^:]$`).test(line)), result.stderr);
  t.deepEqual(calls, [], 'nothing is looked up for broken files');
});

test('usage errors exit 2; --help exits 0', async (t) => {
  const { source } = fakeSource({});
  const unknown = await run(['--force'], source);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /^piggy bump: unknown option --force\nusage: piggy bump/);
  const help = await run(['--help'], source);
  t.is(help.code, 0);
  t.regex(help.stdout, /^usage: piggy bump \[--check\]/);
  t.deepEqual(parseBumpArgs([]), { ok: true, help: false, check: false, paths: ['.'] });
  t.deepEqual(parseBumpArgs(['--', '--check']), { ok: true, help: false, check: false, paths: ['--check'] });
});

test('an unexpected failure of the source is reported on one line with exit 2', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'a.yaml'), manifest('a', 'ns/a'));
  const result = await run([dir], () => Promise.reject(new Error('socket hang up\n    at somewhere')));
  t.is(result.code, 2);
  t.is(result.stderr, `${join(dir, 'a.yaml')}: ERR_BUMP_AWS AWSSecret ns/a stringDataFrom: socket hang up at somewhere\n`);
});
