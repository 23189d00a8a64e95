// The certificate files are swapped in one step (a `..data` symlink, as the kubelet does for Secret volumes).
import { lstat, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { writeFilesAtomically } from '../../src/shared/atomic-files.ts';

const version = (n: number) => ({ 'tls.crt': { content: `cert ${n}`, mode: 0o644 }, 'tls.key': { content: `key ${n}`, mode: 0o600 } });

test('each visible name is a symlink through ..data; a rewrite swaps both and removes the old version', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'piggy-atomic-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const dir = join(base, 'certs');
  await writeFilesAtomically(dir, version(1));
  const first = await readlink(join(dir, '..data'));
  t.is(await readlink(join(dir, 'tls.crt')), join('..data', 'tls.crt'));
  t.is(await readFile(join(dir, 'tls.key'), 'utf8'), 'key 1');
  t.is((await stat(join(dir, 'tls.key'))).mode & 0o777, 0o600);
  t.is((await stat(join(dir, 'tls.crt'))).mode & 0o777, 0o644);
  t.is((await stat(dir)).mode & 0o777, 0o700);

  await writeFilesAtomically(dir, version(2));
  t.not(await readlink(join(dir, '..data')), first);
  t.deepEqual([await readFile(join(dir, 'tls.crt'), 'utf8'), await readFile(join(dir, 'tls.key'), 'utf8')], ['cert 2', 'key 2']);
  const entries = (await readdir(dir)).sort();
  t.is(entries.filter((entry) => entry.startsWith('..piggy_')).length, 1, `one version folder left: ${entries.join(' ')}`);
  t.deepEqual(entries.filter((entry) => !entry.startsWith('..piggy_')), ['..data', 'tls.crt', 'tls.key']);
});

test('a regular file in the way is replaced by the symlink; names with folders are refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'piggy-atomic-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'tls.crt'), 'stale');
  await writeFilesAtomically(dir, version(3));
  t.true((await lstat(join(dir, 'tls.crt'))).isSymbolicLink());
  t.is(await readFile(join(dir, 'tls.crt'), 'utf8'), 'cert 3');
  await t.throwsAsync(writeFilesAtomically(dir, { '../escape': { content: 'x', mode: 0o600 } }), { message: /not a plain file name/ });
  await t.throwsAsync(writeFilesAtomically(dir, { '..data': { content: 'x', mode: 0o600 } }), { message: /not a plain file name/ });
});
