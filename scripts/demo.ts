// `npm run demo [-- --keep | --down]`: a narrated tour of piggy on a local stack with two real nodes
// (kubelet + containerd): every pod it shows really starts. Each step is a small module in
// scripts/demo/. Everything the run starts (the stack in .local/demo with its nodes and pods, the
// controller) is stopped by PID at the end, also on failure, unless --keep.
import path from 'node:path';
import { stopLeftoverController } from './local/piggy-controller.ts';
import { tail } from './local/procs.ts';
import { stackStatus, stopStack } from './local/stack.ts';
import { DEMO_DIR, NAMESPACE, type DemoContext, type DemoOptions, type DemoStep } from './demo/context.ts';
import { bold, command, good, green, note, say, seconds, step } from './demo/narrate.ts';
import { awsSecretStep } from './demo/step-aws-secret.ts';
import { awsSecretResourceStep } from './demo/step-awssecret.ts';
import { bumpStep } from './demo/step-bump.ts';
import { clusterStep } from './demo/step-cluster.ts';
import { controllerStep } from './demo/step-controller.ts';
import { imagesStep } from './demo/step-images.ts';
import { launchStep } from './demo/step-launch.ts';
import { rolloutStep } from './demo/step-rollout.ts';
import { stackStep } from './demo/step-stack.ts';
import { updateCheckStep } from './demo/step-update-check.ts';
import { webhookStep } from './demo/step-webhook.ts';

const STEPS: readonly DemoStep[] = [
  stackStep,
  clusterStep,
  imagesStep,
  controllerStep,
  awsSecretStep,
  awsSecretResourceStep,
  updateCheckStep,
  bumpStep,
  rolloutStep,
  webhookStep,
  launchStep,
];

const USAGE = `usage: npm run demo [-- --keep | --down]
  (no option)  run the demo, then stop the controller and the stack it started
  --keep       leave the controller and the stack running, to look around
  --down       stop what an earlier --keep run left running
`;

const rel = (file: string) => path.relative(process.cwd(), file) || '.';

/** Stops the controller and the demo's stack (its nodes, and so every pod, with it). */
async function stopStarted(ctx: DemoContext): Promise<void> {
  await ctx.controller?.stop();
  await stopLeftoverController(DEMO_DIR); // a controller that was starting when something failed
  await stopStack(DEMO_DIR);
  ctx.secretsManager?.destroy();
}

function printKeepHints(ctx: DemoContext): void {
  say(bold('left running (--keep):'));
  if (ctx.controller) say(`controller  PID ${ctx.controller.pid}, log ${rel(ctx.controller.log)}, metrics ${ctx.controller.metricsUrl}`);
  if (ctx.stack) {
    command(`export KUBECONFIG=${rel(ctx.stack.info.kubeconfig)}; source ${rel(ctx.stack.info.awsEnvFile)}`);
    command(`kubectl -n ${NAMESPACE} get awss,secrets,pods -o wide`);
  }
  say('stop it with:');
  command('npm run demo -- --down');
}

async function runDemo(options: DemoOptions): Promise<number> {
  const abort = new AbortController();
  const ctx: DemoContext = { options, startedAt: Date.now(), signal: abort.signal };
  let stopping: Promise<void> | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping !== undefined) return;
    process.stderr.write(`\nreceived ${signal}: stopping what the demo started\n`);
    abort.abort();
    stopping = stopStarted(ctx);
    void stopping.finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  console.log(bold('piggy demo: a version-pinned AWSSecret from Secrets Manager to a Secret and a rollout; then injection at container start; on real nodes'));
  let index = 0;
  try {
    for (const current of STEPS) {
      index += 1;
      step(index, STEPS.length, current.title);
      await current.run(ctx);
    }
  } catch (error) {
    if (stopping !== undefined) {
      await stopping; // interrupted: the signal handler stops everything and exits
      return 130;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`\ndemo failed in step ${index} (${STEPS[index - 1]?.title ?? ''}):\n  ${message}\n`);
    if (ctx.controller) process.stderr.write(`--- last lines of ${rel(ctx.controller.log)} ---\n${await tail(ctx.controller.log, 10)}\n`);
    if (options.keep) printKeepHints(ctx);
    else await stopStarted(ctx);
    return 1;
  }
  console.log('');
  if (options.keep) printKeepHints(ctx);
  else {
    await stopStarted(ctx);
    good('controller and stack stopped (nodes, pods and all)');
  }
  console.log(green(bold(`\ndemo finished in ${seconds(Date.now() - ctx.startedAt)}`)));
  return 0;
}

async function down(): Promise<number> {
  const pid = await stopLeftoverController(DEMO_DIR);
  const running = (await stackStatus(DEMO_DIR)).some((c) => c.running);
  await stopStack(DEMO_DIR);
  console.log(pid === undefined ? 'no demo controller running' : `demo controller stopped (PID ${pid})`);
  console.log(running ? `demo stack in ${rel(DEMO_DIR)} stopped` : `no demo stack running in ${rel(DEMO_DIR)}`);
  return 0;
}

async function main(argv: readonly string[]): Promise<number> {
  const known = new Set(['--keep', '--down', '--help', '-h']);
  const unknown = argv.filter((arg) => !known.has(arg));
  if (unknown.length > 0 || (argv.includes('--keep') && argv.includes('--down'))) {
    process.stderr.write(`demo: unexpected ${unknown.join(' ') || 'combination --keep --down'}\n${USAGE}`);
    return 2;
  }
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (argv.includes('--down')) return down();
  return runDemo({ keep: argv.includes('--keep') });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`demo: ${error instanceof Error ? error.message : String(error)}\n`);
    note('run `npm run demo -- --down` to stop anything left running');
    process.exit(1);
  },
);
