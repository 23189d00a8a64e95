// Step: `piggy bump` on a copy of the manifest (what a user runs in their git checkout), the diff it
// makes, and applying it: the Secret moves to version 2.
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildAwsEnv } from '../local/components.ts';
import { PIGGY_BIN } from '../local/piggy-controller.ts';
import { run } from '../local/procs.ts';
import { NAMESPACE, AWSSECRET_NAME, need, type DemoContext, type DemoStep } from './context.ts';
import { command, good, say, show } from './narrate.ts';
import { conditionOf, fetchSecret, showAWSSecret, showSecret, waitForAWSSecret } from './objects.ts';
import { applyManifest } from './step-awssecret.ts';

/** A unified diff from diff(1); when it is missing, the changed lines of two equally long files. */
async function diffFiles(before: string, after: string): Promise<string> {
  try {
    const res = await run('diff', ['-u', '--label', 'a/awssecret.yaml', '--label', 'b/awssecret.yaml', before, after]);
    if (res.code <= 1) return res.stdout;
  } catch {
    // no diff(1): fall through
  }
  const [a, b] = [readFileSync(before, 'utf8').split('\n'), readFileSync(after, 'utf8').split('\n')];
  return a.flatMap((line, i) => (line === b[i] ? [] : [`@@ line ${i + 1} @@`, `-${line}`, `+${b[i] ?? ''}`])).join('\n');
}

export const bumpStep: DemoStep = {
  title: '`piggy bump` the manifest to AWSCURRENT, review the diff, apply it',
  async run(ctx: DemoContext) {
    const kc = need(ctx.kc, 'kc');
    const stack = need(ctx.stack, 'stack');
    const versions = need(ctx.versions, 'versions');
    const target = versions[versions.length - 1] ?? '';
    const dir = mkdtempSync(path.join(tmpdir(), 'piggy-demo-'));
    try {
      const file = path.join(dir, 'awssecret.yaml');
      copyFileSync(need(ctx.manifest, 'manifest'), file);
      command(`piggy bump ${file}`);
      const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...buildAwsEnv(stack.info.awsEndpoint) };
      const bump = await run(process.execPath, [PIGGY_BIN, 'bump', file], { env });
      show(`${bump.stdout}${bump.stderr}`);
      if (bump.code !== 0) throw new Error(`piggy bump exited ${bump.code}`);
      command('git diff');
      show(await diffFiles(need(ctx.manifest, 'manifest'), file));
      say('one line changed; in a real repository this commit is the rollout, and reverting it rolls back');
      command(`kubectl apply -f ${file}`);
      const t0 = Date.now();
      await applyManifest(kc, file);
      const awsSecret = await waitForAWSSecret(kc, `status.versionId=${target}`, (found) =>
        found.status?.versionId === target &&
        found.status.observedGeneration === found.metadata.generation &&
        conditionOf(found, 'Ready')?.status === 'True');
      good(`Secret ${AWSSECRET_NAME} holds version 2 after ${Date.now() - t0} ms`);
      showSecret(await fetchSecret(kc), ctx.valueDigests);
      const checked = await waitForAWSSecret(kc, 'UpdateAvailable=False', (found) =>
        found.metadata.generation === awsSecret.metadata.generation && conditionOf(found, 'UpdateAvailable')?.status === 'False');
      command(`kubectl -n ${NAMESPACE} get awss -o wide   # after the next update check`);
      showAWSSecret(checked);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
