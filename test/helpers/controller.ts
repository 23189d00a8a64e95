import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { awsEnv, eventually, kubeConfigPath } from './stack.ts';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const PIGGY_BIN = join(REPO_ROOT, 'bin', 'piggy.js');

export interface LogLine {
  readonly level?: string;
  readonly msg?: string;
  readonly [field: string]: unknown;
}

/** A `piggy` process started by a test: its parsed JSON log lines, raw output, and exit. */
export interface PiggyProcess {
  readonly child: ChildProcess;
  readonly lines: LogLine[];
  stdout(): string;
  stderr(): string;
  /** Resolves with the first log line that matches. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Runs `bin/piggy.js <args>` as a real process with exactly the environment given (plus PATH), and
 * kills it by PID when the test ends if it is still running.
 */
export function startPiggy(t: ExecutionContext, args: readonly string[], env: Record<string, string>): PiggyProcess {
  const child = spawn(process.execPath, [PIGGY_BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const lines: LogLine[] = [];
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out.push(chunk);
    partial += chunk.toString('utf8');
    const complete = partial.split('\n');
    partial = complete.pop() ?? '';
    for (const text of complete) {
      try {
        lines.push(JSON.parse(text) as LogLine);
      } catch {
        lines.push({ msg: `unparsed: ${text}` });
      }
    }
  });
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const exit = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  });
  return {
    child,
    lines,
    stdout: () => Buffer.concat(out).toString('utf8'),
    stderr: () => Buffer.concat(err).toString('utf8'),
    waitForLog: (predicate, timeoutMs = 30_000) =>
      eventually(
        () => {
          const found = lines.find(predicate);
          if (found !== undefined) return Promise.resolve(found);
          if (child.exitCode !== null) {
            return Promise.reject(new Error(`piggy exited ${child.exitCode}: ${Buffer.concat(err).toString('utf8')}`));
          }
          return Promise.reject(new Error('log line not seen yet'));
        },
        { timeoutMs, intervalMs: 50 },
      ),
    exited: () => exit,
  };
}

/**
 * The environment every test's `piggy controller` starts from: the test stack's kubeconfig and AWS
 * emulator, the given serving certificate, and listeners on free loopback ports.
 */
export function localControllerEnv(tls: { readonly certFile: string; readonly keyFile: string }): Record<string, string> {
  const aws = awsEnv();
  return {
    KUBECONFIG: kubeConfigPath(),
    AWS_ENDPOINT_URL: aws.AWS_ENDPOINT_URL ?? process.env.AWS_ENDPOINT_URL ?? '',
    AWS_REGION: aws.AWS_REGION ?? process.env.AWS_REGION ?? 'us-east-1',
    AWS_ACCESS_KEY_ID: aws.AWS_ACCESS_KEY_ID ?? process.env.AWS_ACCESS_KEY_ID ?? '',
    AWS_SECRET_ACCESS_KEY: aws.AWS_SECRET_ACCESS_KEY ?? process.env.AWS_SECRET_ACCESS_KEY ?? '',
    TLS_CERT_FILE: tls.certFile,
    TLS_PRIVATE_KEY_FILE: tls.keyFile,
    LISTEN_ADDRESS: '127.0.0.1:0',
    METRICS_ADDRESS: '127.0.0.1:0',
  };
}
