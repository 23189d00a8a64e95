// `npm run local -- up | down | status`: the local stack in <repo>/.local.
import path from 'node:path';
import { repoRoot } from './procs.ts';
import { readStack, stackStatus, startStack, stopStack } from './stack.ts';
import type { ComponentStatus, StackInfo } from './stack.ts';

const dir = path.join(repoRoot, '.local');
const rel = (file: string) => path.relative(process.cwd(), file) || '.';

function table(rows: ComponentStatus[]): string {
  const header = ['component', 'state', 'pid', 'address'];
  const lines = [header, ...rows.map((r) => [r.name, r.running ? 'running' : 'stopped', String(r.pid), r.address])];
  const widths = header.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? '').length)));
  return lines.map((l) => l.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

function usage(stack: StackInfo): string {
  const auth = stack.registryAuth;
  return [
    `kube-apiserver  ${stack.apiserverUrl}  (kubeconfig ${rel(stack.kubeconfig)})`,
    `aws (moto)      ${stack.awsEndpoint}  (env ${rel(stack.awsEnvFile)})`,
    `registry        ${stack.registryHost}`,
    auth ? `registry (auth) ${auth.host}  (credentials ${rel(path.join(stack.dir, 'registry-auth.json'))})` : 'registry (auth) not started',
    ...(stack.nodes ?? []).map((n) => `node            ${n.name} (kubelet :${n.kubeletPort}, containerd ${rel(n.containerdSocket)}; hostNetwork pods only)`),
    ...(stack.nodes ? [] : ['nodes           not started (PIGGY_LOCAL_NODE=0)']),
    `logs            ${rel(path.join(stack.dir, 'logs'))}`,
    '',
    'use it with:',
    `  export KUBECONFIG=${stack.kubeconfig}; source ${rel(stack.awsEnvFile)}`,
    `  export PIGGY_TEST_STACK=${stack.dir}   # lets npm run test:all reuse this stack`,
  ].join('\n');
}

async function up(): Promise<number> {
  const status = await stackStatus(dir);
  if (status.some((c) => c.running)) {
    console.error(`a stack is already running in ${rel(dir)} (npm run local -- status; npm run local -- down)`);
    return 1;
  }
  await stopStack(dir); // clears a stale record
  const t0 = Date.now();
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  const stack = await startStack(dir, { signal: abort.signal }).finally(() => process.off('SIGINT', onSignal).off('SIGTERM', onSignal));
  console.log(`stack up in ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
  console.log(usage(stack));
  return 0;
}

async function status(): Promise<number> {
  const rows = await stackStatus(dir);
  if (rows.length === 0) {
    console.log(`no stack in ${rel(dir)}`);
    return 3;
  }
  console.log(table(rows));
  const stack = await readStack(dir);
  if (stack && rows.every((r) => r.running)) console.log(`\nexport KUBECONFIG=${stack.kubeconfig}; source ${rel(stack.awsEnvFile)}`);
  return rows.every((r) => r.running) ? 0 : 1;
}

async function down(): Promise<number> {
  const rows = await stackStatus(dir);
  await stopStack(dir);
  console.log(rows.length > 0 ? 'stack stopped' : `no stack in ${rel(dir)}`);
  return 0;
}

const commands: Record<string, () => Promise<number>> = { up, down, status };

async function main(argv: string[]): Promise<number> {
  const name = argv.length === 1 ? argv[0] : undefined;
  const command = name && Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) {
    console.error('usage: npm run local -- up | down | status');
    return 2;
  }
  return command();
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  },
);
