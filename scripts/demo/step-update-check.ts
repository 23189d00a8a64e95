// Step: the update check (DescribeSecret, no decryption) notices that AWSCURRENT is version 2.
import { NAMESPACE, need, type DemoContext, type DemoStep } from './context.ts';
import { command, good, say } from './narrate.ts';
import { conditionOf, showAWSSecret, waitForAWSSecret } from './objects.ts';
import { CONTROLLER_ENV } from './step-controller.ts';

export const updateCheckStep: DemoStep = {
  title: 'The update check sees that AWSCURRENT moved on: UpdateAvailable=True',
  async run(ctx: DemoContext) {
    const kc = need(ctx.kc, 'kc');
    const versions = need(ctx.versions, 'versions');
    const current = versions[versions.length - 1];
    say(`UPDATE_CHECK_SCHEDULE=${CONTROLLER_ENV.UPDATE_CHECK_SCHEDULE ?? ''} here (default: hourly, jittered); the Secret is not touched`);
    const awsSecret = await waitForAWSSecret(
      kc,
      'UpdateAvailable=True',
      (found) => conditionOf(found, 'UpdateAvailable')?.status === 'True' && found.status?.latestVersionId === current,
      20_000,
    );
    command(`kubectl -n ${NAMESPACE} get awss -o wide`);
    showAWSSecret(awsSecret);
    good(`the cluster pins version 1 while AWSCURRENT is version 2 (${current ?? ''}): a bump is due`);
  },
};
