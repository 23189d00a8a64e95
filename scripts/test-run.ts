// The test driver (`npm run test:all -- [ava args]`): starts one local stack for the whole run,
// runs ava against it and always stops it. A running stack named by PIGGY_TEST_STACK is reused
// and left running (`npm run local -- up`, then export PIGGY_TEST_STACK=<repo>/.local).
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './local/procs.ts';
import { ensureTools, readStack, stackStatus, startStack, stopStack } from './local/stack.ts';
import type { StackInfo } from './local/stack.ts';

const signalCodes: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };
const signalCode = (sig: string | null | undefined): number => signalCodes[sig ?? ''] ?? 1;
const abort = new AbortController();
let avaChild: ReturnType<typeof spawn> | undefined;
let received: NodeJS.Signals | undefined;

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig); // ava runs in its own group: npx, ava and its workers all get the signal
  } catch {
    // already gone
  }
}

function onSignal(sig: NodeJS.Signals): void {
  if (received) return;
  received = sig;
  console.error(`received ${sig}: stopping`);
  if (avaChild?.pid !== undefined) signalGroup(avaChild.pid, sig);
  else abort.abort();
}

const seconds = (t0: number) => `${((Date.now() - t0) / 1000).toFixed(1)}s`;

async function reusableStack(): Promise<StackInfo | undefined> {
  const dir = process.env.PIGGY_TEST_STACK;
  if (!dir) return undefined;
  const [stack, status] = [await readStack(dir), await stackStatus(dir)];
  if (stack && status.length > 0 && status.every((c) => c.running)) return stack;
  console.error(`PIGGY_TEST_STACK=${dir} is not a running stack: starting a fresh one`);
  return undefined;
}

function awsVars(file: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const m of readFileSync(file, 'utf8').matchAll(/^export ([A-Z0-9_]+)=(.*)$/gm)) {
    if (m[1] && m[2] !== undefined) vars[m[1]] = m[2];
  }
  return vars;
}

function runAva(args: string[], stack: StackInfo): Promise<number> {
  // The tests' temporary files (certificates, sandboxes, scratch folders) go into the stack's folder,
  // removed with it, instead of piling up in the host's /tmp.
  const tmp = path.join(stack.dir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  // PIGGY_TEST_RUN names this run, for work the test files share across ava's worker processes
  // (the journeys' images: test/helpers/journey.ts).
  const env = { ...process.env, ...awsVars(stack.awsEnvFile), PIGGY_TEST_STACK: stack.dir, PIGGY_TEST_RUN: String(process.pid), KUBECONFIG: stack.kubeconfig, TMPDIR: tmp };
  return new Promise((resolve, reject) => {
    avaChild = spawn('npx', ['ava', ...args], { stdio: 'inherit', env, cwd: repoRoot, detached: true });
    avaChild.on('error', reject);
    avaChild.on('exit', (code, sig) => {
      // The run's shared images (a reused stack's tmp folder outlives the run).
      for (const name of readdirSync(tmp)) if (name.startsWith(`images-${process.pid}`)) rmSync(path.join(tmp, name), { recursive: true, force: true });
      resolve(code ?? signalCode(sig));
    });
  });
}

async function withOwnStack(args: string[]): Promise<number> {
  let t0 = Date.now();
  const tools = await ensureTools({ signal: abort.signal });
  console.error(`tools ready in ${seconds(t0)}`);
  const dir = path.join(repoRoot, '.local', `test-run-${process.pid}`);
  t0 = Date.now();
  let code = 1;
  try {
    const stack = await startStack(dir, { signal: abort.signal }, tools);
    console.error(`stack up in ${seconds(t0)} (${dir})`);
    code = received ? signalCode(received) : await runAva(args, stack);
  } finally {
    await stopStack(dir);
    if (code === 0) rmSync(dir, { recursive: true, force: true });
    else console.error(`stack logs kept in ${path.join(dir, 'logs')}`);
  }
  return code;
}

async function main(args: string[]): Promise<number> {
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  const reused = await reusableStack();
  if (reused) {
    console.error(`reusing the stack in ${reused.dir}`);
    return runAva(args, reused);
  }
  return withOwnStack(args);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(received ? `interrupted by ${received}` : err instanceof Error ? err.message : err);
    process.exit(received ? signalCode(received) : 1);
  },
);
