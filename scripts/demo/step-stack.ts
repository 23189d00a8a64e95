// Step: a local stack (kube-apiserver + etcd, moto). Reuses the one `npm run local -- up` runs in
// .local (left running), else a demo stack kept by an earlier `--keep`, else starts one in .local/demo.
import path from 'node:path';
import { stopLeftoverController } from '../local/piggy-controller.ts';
import { readStack, stackStatus, startStack, stopStack } from '../local/stack.ts';
import type { StackInfo } from '../local/stack.ts';
import { DEMO_DIR, SHARED_STACK_DIR, type DemoContext, type DemoStep } from './context.ts';
import { command, good, say, seconds } from './narrate.ts';

const rel = (file: string) => path.relative(process.cwd(), file) || '.';

async function runningStack(dir: string): Promise<StackInfo | undefined> {
  const [info, status] = [await readStack(dir), await stackStatus(dir)];
  return info !== undefined && status.length > 0 && status.every((c) => c.running) ? info : undefined;
}

export const stackStep: DemoStep = {
  title: 'A local cluster and AWS: kube-apiserver + etcd, and moto as Secrets Manager',
  async run(ctx: DemoContext) {
    const leftover = await stopLeftoverController(DEMO_DIR);
    if (leftover !== undefined) say(`stopped the demo controller an earlier run left running (PID ${leftover})`);
    const shared = await runningStack(SHARED_STACK_DIR);
    if (shared !== undefined) {
      ctx.stack = { info: shared, owned: false };
      good(`reusing the stack \`npm run local -- up\` runs in ${rel(shared.dir)} (it stays running afterwards)`);
      return;
    }
    const kept = await runningStack(DEMO_DIR);
    if (kept !== undefined) {
      ctx.stack = { info: kept, owned: true };
      good(`reusing the demo stack an earlier \`--keep\` run left in ${rel(kept.dir)}`);
      return;
    }
    say(`no stack running in ${rel(SHARED_STACK_DIR)} (\`npm run local -- up\`): starting a private one in ${rel(DEMO_DIR)}`);
    await stopStack(DEMO_DIR); // clears a stale record of a stack that did not stop cleanly
    const t0 = Date.now();
    const info = await startStack(DEMO_DIR, { registryAuth: false, signal: ctx.signal });
    ctx.stack = { info, owned: true };
    good(`stack up in ${seconds(Date.now() - t0)}: kube-apiserver ${info.apiserverUrl}, moto ${info.awsEndpoint}`);
    command(`export KUBECONFIG=${rel(info.kubeconfig)}; source ${rel(info.awsEnvFile)}`);
  },
};
