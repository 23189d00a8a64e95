// Access to the local stack that `npm run test:all` (scripts/test-run.ts) starts for a test run.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { StackInfo } from '../../scripts/local/stack.ts';

export type { StackInfo };

let cached: StackInfo | undefined;

/** The running test stack; throws when the tests were not started through the test driver. */
export function testStack(): StackInfo {
  if (cached) return cached;
  const dir = process.env.PIGGY_TEST_STACK;
  const hint = 'run the tests with `npm test` / `npm run test:all`, or `npm run local -- up` and export PIGGY_TEST_STACK=<repo>/.local';
  if (!dir) throw new Error(`PIGGY_TEST_STACK is not set: no local stack for this test; ${hint}`);
  let stack: StackInfo;
  try {
    stack = JSON.parse(readFileSync(path.join(dir, 'stack.json'), 'utf8')) as StackInfo;
  } catch (err) {
    throw new Error(`PIGGY_TEST_STACK=${dir} has no readable stack.json; ${hint}`, { cause: err });
  }
  if (!stack.ready) throw new Error(`PIGGY_TEST_STACK=${dir} holds a stack that did not finish starting; ${hint}`);
  cached = stack;
  return stack;
}

export function kubeConfigPath(): string {
  return testStack().kubeconfig;
}

/** The AWS_* variables of the stack's moto endpoint (from its aws.env). */
export function awsEnv(): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const m of readFileSync(testStack().awsEnvFile, 'utf8').matchAll(/^export ([A-Z0-9_]+)=(.*)$/gm)) {
    if (m[1] && m[2] !== undefined) vars[m[1]] = m[2];
  }
  return vars;
}

/** host:port of the stack's open (unauthenticated) registry. */
export function registryHost(): string {
  return testStack().registryHost;
}

/** host, username and password of the htpasswd-protected registry, when the stack has one. */
export function registryAuth(): StackInfo['registryAuth'] {
  return testStack().registryAuth;
}

export interface KubectlResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs the stack's kubectl against its kubeconfig; `input` is written to stdin (e.g. `apply -f -`). */
export function kubectl(args: string[], opts: { input?: string } = {}): Promise<KubectlResult> {
  const stack = testStack();
  const bin = stack.tools.kubectl;
  if (!bin) return Promise.reject(new Error('the test stack has no kubectl'));
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['--kubeconfig', stack.kubeconfig, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout, stderr, code: code ?? 1 }));
    child.stdin.end(opts.input ?? '');
  });
}

/** A DNS-1123 label: the sanitized prefix, a dash and a random suffix, at most 63 characters. */
export function uniqueName(prefix: string): string {
  const suffix = randomBytes(4).toString('hex');
  const clean = prefix.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 63 - suffix.length - 1);
  const head = clean.replace(/-+$/, '');
  return head ? `${head}-${suffix}` : `x${suffix}`;
}

/** Polls fn until it resolves; on timeout throws its last error. */
export async function eventually<T>(fn: () => Promise<T>, opts: { timeoutMs?: number; intervalMs?: number } = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const intervalMs = opts.intervalMs ?? 250;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() + intervalMs > deadline) {
        throw err instanceof Error ? err : new Error(`eventually: gave up after ${timeoutMs} ms: ${String(err)}`);
      }
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
