// Step: `piggy controller` as a real process, configured by environment variables only, watching the
// demo namespace, with an update check every five seconds so UpdateAvailable shows within seconds.
import path from 'node:path';
import { startController } from '../local/piggy-controller.ts';
import { DEMO_DIR, NAMESPACE, need, type DemoContext, type DemoStep } from './context.ts';
import { command, good, say, show } from './narrate.ts';

/** The controller's configuration in this demo (names and meanings: README, configuration table). */
export const CONTROLLER_ENV: Readonly<Record<string, string>> = {
  WATCH_NAMESPACE: NAMESPACE,
  LEASE_NAMESPACE: NAMESPACE,
  UPDATE_CHECK_SCHEDULE: '*/5 * * * * *',
  UPDATE_CHECK_JITTER: '0s',
  // Injection defaults (the webhook step): the launcher image and where launchers reach the proxy.
  PIGGY_ENV_IMAGE: 'ghcr.io/piggysec/piggy-env:demo',
  PIGGY_ADDRESS: 'https://piggy.piggy-system.svc',
};

export const controllerStep: DemoStep = {
  title: 'Start `piggy controller` (bin/piggy.js) as a process',
  async run(ctx: DemoContext) {
    const stack = need(ctx.stack, 'stack');
    say('configuration is environment variables only; besides KUBECONFIG, the AWS_* of moto and a TLS pair made with openssl:');
    show(Object.entries(CONTROLLER_ENV).map(([key, value]) => `${key}=${value}`).join('\n'));
    const controller = await startController({
      dir: DEMO_DIR,
      kubeconfig: stack.info.kubeconfig,
      awsEndpoint: stack.info.awsEndpoint,
      env: CONTROLLER_ENV,
    });
    ctx.controller = controller;
    await controller.waitForLog((line) => line.msg === 'caches synced, reconciling');
    good(`controller running, PID ${controller.pid}, leader of Lease ${NAMESPACE}/piggy-operator; metrics at ${controller.metricsUrl}`);
    command(`tail -f ${path.relative(process.cwd(), controller.log)}   # its JSON log`);
  },
};
