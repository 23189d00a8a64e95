// Step: the CRD from crds/, the namespace (its `default` ServiceAccount comes from the
// controller-manager), and a clean slate: what an earlier `--keep` run left behind is removed.
import { AdmissionregistrationV1Api, AppsV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../src/controller/awssecret.ts';
import { applyCrds, codeOf, ensureNamespace, loadKubeConfigFile, pollUntil } from '../local/kube-objects.ts';
import { buildSecretsManager, deleteSecretNow } from '../local/moto-secrets.ts';
import { AWS_SECRET_NAME, AWSSECRET_NAME, DEMO_PODS, DEPLOYMENT_NAME, NAMESPACE, WEBHOOK_CONFIGURATION, need, type DemoContext, type DemoStep } from './context.ts';
import { command, good, say } from './narrate.ts';

async function ignoreNotFound(request: Promise<unknown>): Promise<boolean> {
  try {
    await request;
    return true;
  } catch (error) {
    if (codeOf(error) === 404) return false;
    throw error;
  }
}

export const clusterStep: DemoStep = {
  title: 'Install the AWSSecret CRD (crds/) and a namespace for the demo',
  async run(ctx: DemoContext) {
    const stack = need(ctx.stack, 'stack');
    const kc = loadKubeConfigFile(stack.info.kubeconfig);
    ctx.kc = kc;
    ctx.secretsManager = buildSecretsManager(stack.info.awsEndpoint);
    command('kubectl apply -f crds/');
    const crds = await applyCrds(kc);
    good(`CRD ${crds.join(', ')} established (short name: awss)`);
    command(`kubectl create namespace ${NAMESPACE}`);
    await ensureNamespace(kc, NAMESPACE);
    const core = kc.makeApiClient(CoreV1Api);
    await pollUntil(`ServiceAccount ${NAMESPACE}/default`, () => core.readNamespacedServiceAccount({ namespace: NAMESPACE, name: 'default' }).then(() => true, () => false), 30_000, 100);
    good(`namespace ${NAMESPACE} with its default ServiceAccount (made by the controller-manager)`);

    const custom = kc.makeApiClient(CustomObjectsApi);
    // First the webhook an earlier run registered: it points at that run's controller, and fails closed.
    const webhook = await ignoreNotFound(kc.makeApiClient(AdmissionregistrationV1Api).deleteMutatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION }));
    const removed = await Promise.all([
      ignoreNotFound(custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace: NAMESPACE, name: AWSSECRET_NAME })),
      ignoreNotFound(core.deleteNamespacedSecret({ namespace: NAMESPACE, name: AWSSECRET_NAME })),
      ...DEMO_PODS.map((name) => ignoreNotFound(core.deleteNamespacedPod({ namespace: NAMESPACE, name, gracePeriodSeconds: 0 }))),
      ignoreNotFound(kc.makeApiClient(AppsV1Api).deleteNamespacedDeployment({ namespace: NAMESPACE, name: DEPLOYMENT_NAME })),
      ignoreNotFound(kc.makeApiClient(CoordinationV1Api).deleteNamespacedLease({ namespace: NAMESPACE, name: 'piggy-operator' })),
    ]);
    await deleteSecretNow(ctx.secretsManager, AWS_SECRET_NAME);
    if (webhook || removed.some(Boolean)) say(`removed what an earlier demo run left in namespace ${NAMESPACE}`);
  },
};
