// Step: version-pinned rollouts. Deployment web is annotated piggysec.com/restart-on-awssecret, so
// the controller writes the synced version into its pod template after the bump; the Deployment
// controller rolls it out on the real nodes: a new pod with the new values, the old one gone.
import { CoreV1Api } from '@kubernetes/client-node';
import { pollUntil } from '../local/kube-objects.ts';
import { DEPLOYMENT_NAME, NAMESPACE, RESTART_ANNOTATION, ROLLOUT_ANNOTATION, need, type DemoContext, type DemoStep } from './context.ts';
import { command, good, say, show } from './narrate.ts';
import { fetchPodTemplateAnnotations } from './objects.ts';
import { fetchWebPods, showWebPodOutput, waitForWebPod } from './web-app.ts';

export const rolloutStep: DemoStep = {
  title: `The rollout: Deployment ${DEPLOYMENT_NAME} (${RESTART_ANNOTATION}) gets a new pod with version 2`,
  async run(ctx: DemoContext) {
    const kc = need(ctx.kc, 'kc');
    const core = kc.makeApiClient(CoreV1Api);
    const versions = need(ctx.versions, 'versions');
    const oldPod = need(ctx.webPod, 'the first web pod');
    const target = versions[versions.length - 1] ?? '';
    const t0 = Date.now();
    let annotations: Record<string, string> = {};
    await pollUntil(`${ROLLOUT_ANNOTATION} on the pod template to name version ${target}`, async () => {
      annotations = await fetchPodTemplateAnnotations(kc);
      return annotations[ROLLOUT_ANNOTATION]?.includes(target) === true;
    }, 20_000, 100);
    command(`kubectl -n ${NAMESPACE} get deployment ${DEPLOYMENT_NAME} -o jsonpath='{.spec.template.metadata.annotations}'`);
    show(Object.entries(annotations).map(([key, value]) => `${key}: ${value}`).join('\n'));
    good('the pod template changed with the version: the Deployment controller rolls the pods onto the new Secret');
    command(`kubectl -n ${NAMESPACE} rollout status deployment/${DEPLOYMENT_NAME}`);
    const newPod = await waitForWebPod(core, oldPod);
    await pollUntil(`the old pod ${oldPod} to be gone`, async () => !(await fetchWebPods(core)).some((pod) => pod.metadata?.name === oldPod), 60_000, 200);
    good(`deployment "${DEPLOYMENT_NAME}" successfully rolled out: new pod ${newPod} running, ${oldPod} gone (${Date.now() - t0} ms after the bumped Secret was shown)`);
    await showWebPodOutput(ctx, newPod);
    say('the password changed with the version (same length, other characters); reverting the commit rolls back the same way');
  },
};
