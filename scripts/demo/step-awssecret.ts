// Step: the AWSSecret of examples/awssecret.yaml, re-targeted at the demo's secret and pinned to
// version 1, plus a Deployment that opts in to version-pinned rollouts; then the generated Secret,
// and the Deployment's pod on a real node printing the Secret's values, masked.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AppsV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { parseDocument } from 'yaml';
import { applyObject, parseYamlObjects } from '../local/kube-objects.ts';
import { repoRoot } from '../local/procs.ts';
import {
  AWS_SECRET_NAME,
  AWSSECRET_NAME,
  DEMO_DIR,
  DEPLOYMENT_NAME,
  NAMESPACE,
  RESTART_ANNOTATION,
  need,
  type DemoContext,
  type DemoStep,
} from './context.ts';
import { command, good, say, show } from './narrate.ts';
import { buildValueDigests, conditionOf, fetchSecret, showAWSSecret, showSecret, waitForAWSSecret } from './objects.ts';
import { buildDeployment, showWebPodOutput, waitForWebPod, WEB_SCRIPT } from './web-app.ts';

const EXAMPLE = path.join(repoRoot, 'examples', 'awssecret.yaml');

/** examples/awssecret.yaml with the demo's name, namespace, secret and version; comments kept. */
export function buildDemoManifest(example: string, versionId: string): string {
  const doc = parseDocument(example);
  doc.commentBefore = ` The demo's copy of examples/awssecret.yaml: name, namespace, secretId and versionId set by
 scripts/demo. \`piggy bump\` rewrites versionId and leaves every other byte alone.`;
  doc.setIn(['metadata', 'name'], AWSSECRET_NAME);
  doc.setIn(['metadata', 'namespace'], NAMESPACE);
  doc.setIn(['spec', 'stringDataFrom', 'secretsManagerSecretRef', 'secretId'], AWS_SECRET_NAME);
  doc.setIn(['spec', 'stringDataFrom', 'secretsManagerSecretRef', 'versionId'], versionId);
  return doc.toString();
}

/** Applies every object of a manifest file (server-side apply, like `kubectl apply --server-side`). */
export async function applyManifest(kc: KubeConfig, file: string): Promise<void> {
  for (const object of parseYamlObjects(readFileSync(file, 'utf8'))) await applyObject(kc, object);
}

export const awsSecretResourceStep: DemoStep = {
  title: 'Apply an AWSSecret pinned to version 1 (and a Deployment that uses its Secret)',
  async run(ctx: DemoContext) {
    const kc = need(ctx.kc, 'kc');
    const [v1] = need(ctx.versions, 'versions');
    const manifest = path.join(DEMO_DIR, 'awssecret.yaml');
    writeFileSync(manifest, buildDemoManifest(readFileSync(EXAMPLE, 'utf8'), need(v1, 'version 1')));
    ctx.manifest = manifest;
    const rel = path.relative(process.cwd(), manifest);
    say(`${rel} is examples/awssecret.yaml with this demo's names, versionId = version 1`);
    command(`kubectl apply -f ${rel}`);
    await applyManifest(kc, manifest);

    const t0 = Date.now();
    const awsSecret = await waitForAWSSecret(kc, 'AWSSecret Ready=True', (current) =>
      conditionOf(current, 'Ready')?.status === 'True' && current.status?.observedGeneration === current.metadata.generation);
    good(`Ready after ${Date.now() - t0} ms`);
    command(`kubectl -n ${NAMESPACE} get awss -o wide`);
    showAWSSecret(awsSecret);
    command(`kubectl -n ${NAMESPACE} get secret ${AWSSECRET_NAME} -o yaml   # values masked here`);
    const secret = await fetchSecret(kc);
    showSecret(secret);
    ctx.valueDigests = buildValueDigests(secret);
    say('port, a JSON number in Secrets Manager, became its JSON text "5432"; the version and a data hash are recorded');

    say(`Deployment ${DEPLOYMENT_NAME} (busybox, envFrom: secretRef ${AWSSECRET_NAME}, annotated ${RESTART_ANNOTATION}: ${AWSSECRET_NAME}) runs this script:`);
    show(WEB_SCRIPT);
    command(`kubectl -n ${NAMESPACE} apply -f -   # Deployment ${DEPLOYMENT_NAME}, annotated ${RESTART_ANNOTATION}: ${AWSSECRET_NAME}`);
    await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({ namespace: NAMESPACE, body: buildDeployment(ctx) });
    const t1 = Date.now();
    const pod = await waitForWebPod(kc.makeApiClient(CoreV1Api));
    good(`pod ${pod} running ${Date.now() - t1} ms after the apply: the ReplicaSet made it, the scheduler placed it, the node's kubelet pulled the image and started it`);
    ctx.webPod = pod;
    await showWebPodOutput(ctx, pod);
    say('a pod\'s env is fixed when it starts: a new version reaches the app by a new pod, the rollout below');
  },
};
