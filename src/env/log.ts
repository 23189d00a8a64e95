/**
 * The launcher's logger: pino-shaped JSON lines (`level`, `time`, `name`, `msg`, fields) written
 * synchronously to stderr, so nothing is lost when the process is replaced by execve. It shares the
 * app's stderr, so it stays terse: a line per start at info, details only with PIGGY_DEBUG.
 * Fields carry names, counts and codes only; callers never pass values.
 */
import { writeSync } from 'node:fs';

export type LogFields = Readonly<Record<string, string | number | boolean | readonly string[] | undefined>>;

export interface EnvLogger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export interface EnvLoggerOptions {
  readonly debug: boolean;
  /** Where a line goes; defaults to fd 2. */
  readonly write?: (line: string) => void;
  readonly now?: () => Date;
}

function writeStderr(line: string): void {
  try {
    writeSync(2, line);
  } catch {
    // stderr closed: nothing to do
  }
}

export function createEnvLogger(options: EnvLoggerOptions): EnvLogger {
  const write = options.write ?? writeStderr;
  const now = options.now ?? (() => new Date());
  const line = (level: string, msg: string, fields: LogFields | undefined) => {
    write(`${JSON.stringify({ level, time: now().toISOString(), name: 'piggy-env', msg, ...fields })}\n`);
  };
  return {
    debug: (msg, fields) => {
      if (options.debug) line('debug', msg, fields);
    },
    info: (msg, fields) => line('info', msg, fields),
    warn: (msg, fields) => line('warn', msg, fields),
    error: (msg, fields) => line('error', msg, fields),
  };
}
