/**
 * The last step: find the app's program and replace the launcher with it (execve: same PID, the
 * app's signals and exit code). The program is looked up on the app's PATH like execvp does, and
 * checked before the call (file, permission, script interpreter, ELF loader): Node 24's
 * process.execve aborts the process when execve(2) fails, so every failure we can foresee becomes a
 * clear message and the shell's exit status instead (127 not found, 126 not executable).
 */
import { accessSync, closeSync, constants, openSync, readSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { ENV_ERRORS, EXIT } from './error-codes.ts';
import { readElfHead, readInterpreterPath, readShebang } from './elf.ts';

/** PATH when the app's environment has none (the OCI runtimes' default). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Linux MAX_ARG_STRLEN: one argument or NAME=value string longer than this makes execve fail. */
export const MAX_ARG_BYTES = 128 * 1024;
const HEAD_BYTES = 4096;
const MAX_SCRIPT_DEPTH = 4;

export interface FileProbe {
  /** 'file', 'other' (directory, device…) or undefined when missing. */
  kind(path: string): 'file' | 'other' | undefined;
  canExecute(path: string): boolean;
  /** Undefined when the file cannot be read (an execute-only binary is still runnable). */
  read(path: string, offset: number, length: number): Buffer | undefined;
}

export type ExecPlan =
  | { readonly ok: true; readonly path: string }
  | { readonly ok: false; readonly code: string; readonly exit: number; readonly message: string };

const notFound = (message: string): ExecPlan => ({ ok: false, code: ENV_ERRORS.programNotFound, exit: EXIT.notFound, message });
const notExecutable = (message: string): ExecPlan => ({ ok: false, code: ENV_ERRORS.programNotExecutable, exit: EXIT.notExecutable, message });

/** execvp's search: a name with a slash is used as it is; otherwise the first executable file on PATH. */
export function resolveProgram(name: string, pathEnv: string | undefined, cwd: string, probe: FileProbe): ExecPlan {
  if (name === '') return notFound('the command is empty');
  if (name.includes('/')) {
    const path = isAbsolute(name) ? name : resolve(cwd, name);
    const kind = probe.kind(path);
    if (kind === undefined) return notFound(`${name}: no such file`);
    if (kind !== 'file' || !probe.canExecute(path)) return notExecutable(`${name}: not an executable file`);
    return { ok: true, path: name };
  }
  let denied: string | undefined;
  for (const dir of (pathEnv ?? DEFAULT_PATH).split(':')) {
    const candidate = resolve(cwd, join(dir === '' ? '.' : dir, name));
    if (probe.kind(candidate) !== 'file') continue;
    if (probe.canExecute(candidate)) return { ok: true, path: candidate };
    denied ??= candidate;
  }
  if (denied !== undefined) return notExecutable(`${name}: ${denied} is not executable`);
  return notFound(`${name}: not found on PATH`);
}

/** What the kernel will need to start `path`: a script's interpreter, an ELF program's loader. */
export function checkLoadable(path: string, probe: FileProbe, depth = 0): ExecPlan {
  const head = probe.read(path, 0, HEAD_BYTES);
  if (head === undefined) return { ok: true, path };
  const shebang = readShebang(head);
  if (shebang !== undefined) {
    if (shebang === '' || depth >= MAX_SCRIPT_DEPTH) return notExecutable(`${path}: bad #! line`);
    const kind = probe.kind(shebang);
    if (kind === undefined) return notFound(`${path}: its interpreter ${shebang} does not exist in this image`);
    if (kind !== 'file' || !probe.canExecute(shebang)) return notExecutable(`${path}: its interpreter ${shebang} is not executable`);
    return checkLoadable(shebang, probe, depth + 1);
  }
  let elf = readElfHead(head);
  if (elf.kind === 'short') {
    const more = probe.read(path, 0, elf.needed);
    if (more === undefined) return { ok: true, path };
    elf = readElfHead(more);
  }
  if (elf.kind === 'not-elf') return notExecutable(`${path}: not an executable format (a script needs a #! line)`);
  if (elf.kind !== 'elf' || elf.interpreter === undefined) return { ok: true, path };
  const loaderBytes = probe.read(path, elf.interpreter.offset, elf.interpreter.size);
  if (loaderBytes === undefined) return { ok: true, path };
  const loader = readInterpreterPath(loaderBytes);
  if (probe.kind(loader) === undefined) return notFound(`${path}: its loader ${loader} does not exist in this image (built for another libc?)`);
  return { ok: true, path };
}

/** Any argument or NAME=value over MAX_ARG_BYTES (named, never shown). */
export function findOversized(argv: readonly string[], env: Readonly<Record<string, string>>): string | undefined {
  const index = argv.findIndex((arg) => Buffer.byteLength(arg) >= MAX_ARG_BYTES);
  if (index !== -1) return `argument ${index}`;
  return Object.entries(env).find(([name, value]) => Buffer.byteLength(name) + Buffer.byteLength(value) + 1 >= MAX_ARG_BYTES)?.[0];
}

export function planExec(argv: readonly string[], env: Readonly<Record<string, string>>, cwd: string, probe: FileProbe): ExecPlan {
  const found = resolveProgram(argv[0] ?? '', env.PATH, cwd, probe);
  if (!found.ok) return found;
  const oversized = findOversized(argv, env);
  if (oversized !== undefined) return notExecutable(`${oversized} is longer than ${MAX_ARG_BYTES} bytes, which execve refuses`);
  const loadable = checkLoadable(found.path, probe);
  return loadable.ok ? found : loadable;
}

export const fileProbe: FileProbe = {
  kind(path) {
    try {
      return statSync(path).isFile() ? 'file' : 'other';
    } catch {
      return undefined;
    }
  },
  canExecute(path) {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  },
  read(path, offset, length) {
    let fd: number | undefined;
    try {
      fd = openSync(path, 'r');
      const buffer = Buffer.alloc(length);
      return buffer.subarray(0, readSync(fd, buffer, 0, length, offset));
    } catch {
      return undefined;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  },
};

/**
 * Replaces this process with the app. Node ignores SIGPIPE and SIGXFSZ, and ignored signals stay
 * ignored across execve; a handler is reset to the default by execve, so installing one restores
 * what the app would have had without the launcher.
 */
export function execApp(path: string, argv: readonly string[], env: Readonly<Record<string, string>>): never {
  const keep = () => undefined;
  process.on('SIGPIPE', keep);
  process.on('SIGXFSZ', keep);
  if (process.execve === undefined) throw new Error('process.execve needs Node.js >= 23.11 on Linux');
  process.execve(path, [...argv], { ...env });
  throw new Error('process.execve returned');
}
