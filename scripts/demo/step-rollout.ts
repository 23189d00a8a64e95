// Step: version-pinned rollouts. A Deployment annotated piggysec.com/restart-on-awssecret gets the
// synced version in its pod template, so the bump rolls it out. Shown only when the controller has
// the feature; otherwise a note says so (the demo does not fail on it).
import { pollUntil } from '../local/kube-objects.ts';
import { DEPLOYMENT_NAME, NAMESPACE, RESTART_ANNOTATION, ROLLOUT_ANNOTATION, need, type DemoContext, type DemoStep } from './context.ts';
import { command, good, note, say, show } from './narrate.ts';
import { fetchPodTemplateAnnotations } from './objects.ts';

/** How long after the Secret moved to the new version the pod template annotation may take. */
const ROLLOUT_WAIT_MS = 5_000;

export const rolloutStep: DemoStep = {
  title: `The rollout: Deployment ${DEPLOYMENT_NAME} (${RESTART_ANNOTATION})`,
  async run(ctx: DemoContext) {
    const kc = need(ctx.kc, 'kc');
    const versions = need(ctx.versions, 'versions');
    const target = versions[versions.length - 1] ?? '';
    let annotations: Record<string, string> = {};
    try {
      await pollUntil(`${ROLLOUT_ANNOTATION} on the pod template`, async () => {
        annotations = await fetchPodTemplateAnnotations(kc);
        return annotations[ROLLOUT_ANNOTATION]?.includes(target) === true;
      }, ROLLOUT_WAIT_MS, 100);
    } catch {
      const seen = annotations[ROLLOUT_ANNOTATION];
      if (seen !== undefined) throw new Error(`the pod template says ${ROLLOUT_ANNOTATION}: ${seen}, expected version ${target}`);
      note(`this controller does not annotate pod templates yet (version-pinned rollouts, ${RESTART_ANNOTATION}):`);
      note(`no ${ROLLOUT_ANNOTATION} on Deployment ${NAMESPACE}/${DEPLOYMENT_NAME} within ${ROLLOUT_WAIT_MS / 1000}s, so this part is skipped`);
      return;
    }
    command(`kubectl -n ${NAMESPACE} get deployment ${DEPLOYMENT_NAME} -o jsonpath='{.spec.template.metadata.annotations}'`);
    show(Object.entries(annotations).map(([key, value]) => `${key}: ${value}`).join('\n'));
    good('the pod template changed with the version: the Deployment rolls its pods onto the new Secret');
    say('(this stack runs no kube-controller-manager, so no pods start here; on a cluster they would)');
  },
};
