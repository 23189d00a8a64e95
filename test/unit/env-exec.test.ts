import { readFileSync } from 'node:fs';
import test from 'ava';
import { buildInterpreterBytes, readElfHead, readInterpreterPath, readShebang } from '../../src/env/elf.ts';
import { DEFAULT_PATH, MAX_ARG_BYTES, checkLoadable, fileProbe, findOversized, planExec, resolveProgram, type FileProbe } from '../../src/env/exec.ts';

/** A minimal little-endian ELF64 header with a PT_LOAD and (optionally) a PT_INTERP of `size` bytes. */
function buildElf(interpreter: string | undefined, size = (interpreter?.length ?? 0) + 1): Buffer {
  const phoff = 64;
  const phnum = interpreter === undefined ? 1 : 2;
  const dataAt = phoff + 56 * phnum;
  const elf = Buffer.alloc(dataAt + size);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(elf);
  elf.writeBigUInt64LE(BigInt(phoff), 32);
  elf.writeUInt16LE(56, 54);
  elf.writeUInt16LE(phnum, 56);
  elf.writeUInt32LE(1, phoff);
  if (interpreter !== undefined) {
    const at = phoff + 56;
    elf.writeUInt32LE(3, at);
    elf.writeBigUInt64LE(BigInt(dataAt), at + 8);
    elf.writeBigUInt64LE(BigInt(size), at + 32);
    Buffer.from(interpreter).copy(elf, dataAt);
  }
  return elf;
}

test('elf: finds PT_INTERP; static programs and non-ELF files have none', (t) => {
  const elf = buildElf('/lib64/ld-linux-x86-64.so.2');
  const head = readElfHead(elf);
  if (head.kind !== 'elf' || head.interpreter === undefined) return t.fail('no interpreter found');
  t.is(readInterpreterPath(elf.subarray(head.interpreter.offset, head.interpreter.offset + head.interpreter.size)), '/lib64/ld-linux-x86-64.so.2');
  t.deepEqual(readElfHead(buildElf(undefined)), { kind: 'elf', interpreter: undefined });
  t.deepEqual(readElfHead(Buffer.from('#!/bin/sh\n')), { kind: 'not-elf' });
  t.deepEqual(readElfHead(elf.subarray(0, 100)), { kind: 'short', needed: 176 });
});

test('elf: the running Node binary names a loader that exists', (t) => {
  const head = readElfHead(readFileSync(process.execPath).subarray(0, 65536));
  if (head.kind !== 'elf' || head.interpreter === undefined) return t.fail('node has no PT_INTERP');
  const bytes = fileProbe.read(process.execPath, head.interpreter.offset, head.interpreter.size);
  t.is(fileProbe.kind(readInterpreterPath(bytes ?? Buffer.alloc(0))), 'file');
});

test('elf: a new interpreter is written NUL-padded into the reserved size, or refused when too long', (t) => {
  const bytes = buildInterpreterBytes('/piggy/lib/ld-linux-x86-64.so.2', 64);
  t.is(bytes?.length, 64);
  t.is(readInterpreterPath(bytes ?? Buffer.alloc(0)), '/piggy/lib/ld-linux-x86-64.so.2');
  t.is(bytes?.at(-1), 0);
  t.is(buildInterpreterBytes('/x'.repeat(40), 64), undefined);
  t.is(buildInterpreterBytes('/'.repeat(64), 64), undefined, 'the terminating NUL must fit');
});

test('shebang: the interpreter path, without its arguments', (t) => {
  t.is(readShebang(Buffer.from('#!/bin/sh -e\necho')), '/bin/sh');
  t.is(readShebang(Buffer.from('#! /usr/bin/env node\n')), '/usr/bin/env');
  t.is(readShebang(Buffer.from('#!\n')), '');
  t.is(readShebang(Buffer.from('echo hi')), undefined);
});

/** An in-memory file system: path → [content, executable]. */
function fakeProbe(files: Record<string, [Buffer | string, boolean]>): FileProbe {
  return {
    kind: (path) => (path.endsWith('/dir') ? 'other' : files[path] === undefined ? undefined : 'file'),
    canExecute: (path) => files[path]?.[1] === true,
    read: (path, offset, length) => {
      const file = files[path];
      return file === undefined ? undefined : Buffer.from(file[0]).subarray(offset, offset + length);
    },
  };
}

const elfBin = buildElf(undefined);

test('resolve: the first executable file on PATH; a non-executable match is skipped like execvp', (t) => {
  const probe = fakeProbe({ '/a/app': ['x', false], '/b/app': [elfBin, true], '/c/app': [elfBin, true] });
  t.deepEqual(resolveProgram('app', '/a:/b:/c', '/', probe), { ok: true, path: '/b/app' });
  const denied = resolveProgram('app', '/a', '/', probe);
  t.like(denied, { ok: false, exit: 126, code: 'ERR_ENV_PROGRAM_NOT_EXECUTABLE' });
  t.like(resolveProgram('nope', '/a:/b', '/', probe), { ok: false, exit: 127, code: 'ERR_ENV_PROGRAM_NOT_FOUND' });
  t.like(resolveProgram('', '/a', '/', probe), { ok: false, exit: 127 });
});

test('resolve: names with a slash are used as given; an empty PATH entry is the working folder; no PATH uses the default', (t) => {
  const probe = fakeProbe({ '/work/app': [elfBin, true], '/usr/bin/app': [elfBin, true] });
  t.deepEqual(resolveProgram('./app', '/nowhere', '/work', probe), { ok: true, path: './app' });
  t.like(resolveProgram('/work/dir', undefined, '/', probe), { ok: false, exit: 126 });
  t.like(resolveProgram('/missing', undefined, '/', probe), { ok: false, exit: 127 });
  t.deepEqual(resolveProgram('app', '/x::/y', '/work', probe), { ok: true, path: '/work/app' });
  t.true(DEFAULT_PATH.split(':').includes('/usr/bin'));
  t.deepEqual(resolveProgram('app', undefined, '/', probe), { ok: true, path: '/usr/bin/app' });
});

test('loadable: scripts need their interpreter, ELF programs their loader; anything else is not executable', (t) => {
  const probe = fakeProbe({
    '/bin/sh': [elfBin, true],
    '/app/good.sh': ['#!/bin/sh\necho', true],
    '/app/bash.sh': ['#!/bin/bash\necho', true],
    '/app/nested': ['#!/app/good.sh\n', true],
    '/app/glibc': [buildElf('/lib64/ld-linux-x86-64.so.2'), true],
    '/lib/ld-musl-x86_64.so.1': [elfBin, true],
    '/app/musl': [buildElf('/lib/ld-musl-x86_64.so.1'), true],
    '/app/text': ['hello', true],
  });
  t.like(checkLoadable('/app/good.sh', probe), { ok: true });
  t.like(checkLoadable('/app/nested', probe), { ok: true });
  const bash = checkLoadable('/app/bash.sh', probe);
  t.like(bash, { ok: false, exit: 127 });
  t.regex(bash.ok ? '' : bash.message, /interpreter \/bin\/bash does not exist/);
  const glibc = checkLoadable('/app/glibc', probe);
  t.like(glibc, { ok: false, exit: 127 });
  t.regex(glibc.ok ? '' : glibc.message, /loader \/lib64\/ld-linux-x86-64.so.2 does not exist/);
  t.like(checkLoadable('/app/musl', probe), { ok: true });
  t.like(checkLoadable('/app/text', probe), { ok: false, exit: 126 });
  t.like(checkLoadable('/app/unreadable', probe), { ok: true }, 'an execute-only file is left to execve');
});

test('exec plan: arguments and variables over MAX_ARG_STRLEN are refused by name, never shown', (t) => {
  const big = 'x'.repeat(MAX_ARG_BYTES);
  t.is(findOversized(['app', big], {}), 'argument 1');
  t.is(findOversized(['app'], { HUGE: big }), 'HUGE');
  t.is(findOversized(['app'], { SMALL: 'x' }), undefined);
  const plan = planExec(['/bin/app', 'x'], { HUGE: big }, '/', fakeProbe({ '/bin/app': [elfBin, true] }));
  t.like(plan, { ok: false, exit: 126 });
  t.false(JSON.stringify(plan).includes('xxxx'));
});
