import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { readElfHead, readInterpreterPath } from '../../src/env/elf.ts';
import { installLauncher } from '../../src/env/install.ts';

const LOADER = 'ld-linux-x86-64.so.2';

/** A fake launcher: an ELF64 header whose PT_INTERP (255 bytes + NUL) names `interpreter`, then payload. */
function fakeLauncher(interpreter: string): Buffer {
  const size = 256;
  const elf = Buffer.alloc(64 + 56 + size + 16, 0xab);
  elf.fill(0, 0, 64 + 56 + size);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(elf);
  elf.writeBigUInt64LE(64n, 32);
  elf.writeUInt16LE(56, 54);
  elf.writeUInt16LE(1, 56);
  elf.writeUInt32LE(3, 64);
  elf.writeBigUInt64LE(120n, 72);
  elf.writeBigUInt64LE(BigInt(size), 96);
  Buffer.from(interpreter).copy(elf, 120);
  return elf;
}

function interpreterOf(bytes: Buffer): string {
  const head = readElfHead(bytes);
  if (head.kind !== 'elf' || head.interpreter === undefined) throw new Error('no PT_INTERP');
  return readInterpreterPath(bytes.subarray(head.interpreter.offset, head.interpreter.offset + head.interpreter.size));
}

async function source(t: { teardown: (fn: () => Promise<void>) => void }): Promise<{ root: string; executable: string; original: Buffer }> {
  const root = await mkdtemp(join(tmpdir(), 'piggy-env-install-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const dir = join(root, 'image', 'usr', 'lib', 'piggy-env');
  await mkdir(join(dir, 'lib'), { recursive: true });
  const original = fakeLauncher(`/usr/lib/piggy-env/lib${'/'.repeat(200)}${LOADER}`);
  await writeFile(join(dir, 'piggy-env'), original, { mode: 0o700 });
  await writeFile(join(dir, 'lib', LOADER), 'loader');
  await writeFile(join(dir, 'lib', 'libc.so.6'), 'libc');
  await chmod(join(dir, 'lib', 'libc.so.6'), 0o600);
  return { root, executable: join(dir, 'piggy-env'), original };
}

test('install: copies the launcher (0755) and its runtime, and points PT_INTERP at <dir>/lib', async (t) => {
  const { root, executable, original } = await source(t);
  const target = join(root, 'piggy');
  const result = await installLauncher(executable, target);
  t.is(result.path, join(target, 'piggy-env'));
  t.is(result.runtimeFiles, 2);
  const installed = await readFile(join(target, 'piggy-env'));
  t.is(interpreterOf(installed), join(target, 'lib', LOADER));
  t.is(installed.length, original.length);
  t.deepEqual(installed.subarray(-16), original.subarray(-16), 'the rest of the file is untouched');
  t.is((await stat(join(target, 'piggy-env'))).mode & 0o777, 0o755);
  t.is((await stat(join(target, 'lib', 'libc.so.6'))).mode & 0o777, 0o755);
  t.is(await readFile(join(target, 'lib', 'libc.so.6'), 'utf8'), 'libc');
  t.deepEqual((await readdir(target)).sort(), ['lib', 'piggy-env'], 'no temp names left');
  t.is(interpreterOf(await readFile(executable)), `/usr/lib/piggy-env/lib${'/'.repeat(200)}${LOADER}`, 'the source is untouched');
});

test('install --mount-path: the files go into <dir>, PT_INTERP names <mount path>/lib (the init container\'s volume is the apps\' /piggy)', async (t) => {
  const { root, executable } = await source(t);
  const target = join(root, 'piggy-volume');
  const result = await installLauncher(executable, target, '/piggy');
  t.is(result.interpreter, `/piggy/lib/${LOADER}`);
  t.is(interpreterOf(await readFile(join(target, 'piggy-env'))), `/piggy/lib/${LOADER}`);
  t.deepEqual((await readdir(join(target, 'lib'))).sort(), [LOADER, 'libc.so.6']);
});

test('install: again into the same folder replaces both; into its own folder is a no-op', async (t) => {
  const { root, executable } = await source(t);
  const target = join(root, 'piggy');
  await installLauncher(executable, target);
  await writeFile(join(target, 'lib', 'stale.so'), 'old');
  await installLauncher(executable, target);
  t.deepEqual((await readdir(join(target, 'lib'))).sort(), [LOADER, 'libc.so.6']);
  const self = await installLauncher(join(target, 'piggy-env'), target);
  t.is(self.interpreter, undefined);
  t.deepEqual((await readdir(target)).sort(), ['lib', 'piggy-env']);
});

test('install: a folder whose loader path does not fit the reserved PT_INTERP is refused, leaving no executable', async (t) => {
  const { root, executable } = await source(t);
  const target = join(root, 'x'.repeat(240));
  const error = await t.throwsAsync(installLauncher(executable, target));
  t.is((error as Error & { code: string }).code, 'ERR_ENV_INSTALL');
  t.regex(error.message, /install folder path too long/);
  t.false((await readdir(target)).includes('piggy-env'));
});

test('install: a missing source is an install error naming the folder', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'piggy-env-install-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const error = await t.throwsAsync(installLauncher(join(root, 'nope', 'piggy-env'), join(root, 'dest')));
  t.regex(error.message, /cannot install into .*dest: ENOENT/);
});
