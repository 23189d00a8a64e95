// Step: the demo's own local stack in .local/demo: kube-apiserver + etcd, moto, a registry, and two
// real nodes (kubelet + containerd each, a scheduler, a controller-manager). A demo stack an earlier
// `--keep` run left is reused; the shared stack of `npm run local -- up` (.local) is never touched.
import path from 'node:path';
import { stopLeftoverController } from '../local/piggy-controller.ts';
import { readStack, stackStatus, startStack, stopStack } from '../local/stack.ts';
import type { StackInfo } from '../local/stack.ts';
import { DEMO_DIR, type DemoContext, type DemoStep } from './context.ts';
import { command, good, say, seconds } from './narrate.ts';

const rel = (file: string) => path.relative(process.cwd(), file) || '.';

async function runningStack(dir: string): Promise<StackInfo | undefined> {
  const [info, status] = [await readStack(dir), await stackStatus(dir)];
  return info !== undefined && (info.nodes ?? []).length > 0 && status.length > 0 && status.every((c) => c.running) ? info : undefined;
}

export const stackStep: DemoStep = {
  title: 'A local cluster with real nodes, and AWS: kube-apiserver + etcd, kubelet + containerd, moto',
  async run(ctx: DemoContext) {
    const leftover = await stopLeftoverController(DEMO_DIR);
    if (leftover !== undefined) say(`stopped the demo controller an earlier run left running (PID ${leftover})`);
    const kept = await runningStack(DEMO_DIR);
    if (kept !== undefined) {
      ctx.stack = { info: kept, started: false };
      good(`reusing the demo stack an earlier \`--keep\` run left in ${rel(kept.dir)}`);
      return;
    }
    say(`starting the demo's own stack in ${rel(DEMO_DIR)} (\`npm run local -- up\` uses .local; the two never share anything)`);
    await stopStack(DEMO_DIR); // clears a stale record of a stack that did not stop cleanly
    const t0 = Date.now();
    const info = await startStack(DEMO_DIR, { registryAuth: false, node: true, signal: ctx.signal });
    ctx.stack = { info, started: true };
    good(`stack up in ${seconds(Date.now() - t0)}: kube-apiserver ${info.apiserverUrl}, moto ${info.awsEndpoint}, registry ${info.registryHost}`);
    const nodes = (info.nodes ?? []).map((node) => `${node.name} (kubelet :${node.kubeletPort})`).join(', ');
    good(`nodes Ready: ${nodes}; pods are hostNetwork (loopback only) and tolerate the taint piggysec.com/local-node=real:NoSchedule`);
    command(`export KUBECONFIG=${rel(info.kubeconfig)}; source ${rel(info.awsEnvFile)}; kubectl get nodes`);
  },
};
