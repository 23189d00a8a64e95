// Step: `piggy controller` as a host process (not in a pod: the nodes have no pod network, and the
// apiserver calls the webhook by URL), configured by environment variables only, watching the demo
// namespace, with an update check every five seconds so UpdateAvailable shows within seconds. Pods
// on the nodes are hostNetwork, so they reach its proxy at https://127.0.0.1:<port> as the host does.
import path from 'node:path';
import { startController } from '../local/piggy-controller.ts';
import { freePort } from '../local/procs.ts';
import { DEMO_DIR, NAMESPACE, need, type DemoContext, type DemoStep } from './context.ts';
import { command, good, say, show } from './narrate.ts';

/** The controller's configuration in this demo (names and meanings: README, configuration table). */
export const CONTROLLER_ENV: Readonly<Record<string, string>> = {
  WATCH_NAMESPACE: NAMESPACE,
  LEASE_NAMESPACE: NAMESPACE,
  UPDATE_CHECK_SCHEDULE: '*/5 * * * * *',
  UPDATE_CHECK_JITTER: '0s',
  // Rollouts: the demo's Deployment is watched closely, so the rollout shows within a second or two.
  ROLLOUT_POLL_INTERVAL: '1s',
};

export const controllerStep: DemoStep = {
  title: 'Start `piggy controller` (bin/piggy.js) as a process on the host',
  async run(ctx: DemoContext) {
    const stack = need(ctx.stack, 'stack');
    const images = need(ctx.images, 'images');
    const port = await freePort();
    const env = {
      ...CONTROLLER_ENV,
      LISTEN_ADDRESS: `127.0.0.1:${port}`,
      // Injection defaults: the launcher image (by digest) and where launchers reach the proxy.
      PIGGY_ENV_IMAGE: images.envImage,
      PIGGY_ADDRESS: `https://127.0.0.1:${port}`,
      INSECURE_REGISTRIES: stack.info.registryHost,
    };
    say('configuration is environment variables only; besides KUBECONFIG, the AWS_* of moto and a TLS pair made with openssl (SAN IP:127.0.0.1):');
    show(Object.entries(env).map(([key, value]) => `${key}=${value}`).join('\n'));
    const controller = await startController({ dir: DEMO_DIR, kubeconfig: stack.info.kubeconfig, awsEndpoint: stack.info.awsEndpoint, env });
    ctx.controller = controller;
    await controller.waitForLog((line) => line.msg === 'caches synced, reconciling');
    good(`controller running, PID ${controller.pid}, https on 127.0.0.1:${controller.httpsPort} (webhook + /secret), leader of Lease ${NAMESPACE}/piggy-operator; metrics at ${controller.metricsUrl}`);
    command(`tail -f ${path.relative(process.cwd(), controller.log)}   # its JSON log`);
  },
};
