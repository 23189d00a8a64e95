// Step: the injection webhook. The demo's controller also serves POST /mutate; this step registers it
// for the demo namespace (URL + caBundle, as a cluster would through the Service), creates an
// annotated Pod (proxy mode) and shows the spec the API server stored: the launcher volume, the
// install init container (the pushed piggy-env image), the rewritten command and the signature.
// Values never enter the Pod spec. The next step watches the Pod start on a real node.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { AdmissionregistrationV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { pollUntil } from '../local/kube-objects.ts';
import { DEMO_DIR, NAMESPACE, PROXY_POD, WEBHOOK_CONFIGURATION, need, type DemoContext, type DemoStep } from './context.ts';
import { APP_SCRIPT, buildInjectedPod } from './inject-app.ts';
import { command, good, say, show } from './narrate.ts';
import { recreatePod } from './pods.ts';

async function register(ctx: DemoContext, port: number): Promise<void> {
  const kc = need(ctx.kc, 'kubeconfig');
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  const caBundle = readFileSync(path.join(DEMO_DIR, 'tls', 'tls.crt')).toString('base64');
  const body = {
    metadata: { name: WEBHOOK_CONFIGURATION },
    webhooks: [
      {
        name: 'pods.piggysec.com',
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        failurePolicy: 'Fail',
        reinvocationPolicy: 'IfNeeded',
        timeoutSeconds: 10,
        clientConfig: { url: `https://127.0.0.1:${port}/mutate`, caBundle },
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': NAMESPACE } },
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
      },
    ],
  };
  await api.deleteMutatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION }).catch(() => undefined);
  await api.createMutatingWebhookConfiguration({ body });
}

const isWrapped = (pod: V1Pod) => (pod.spec?.initContainers ?? []).some((c) => c.name === 'install-piggy-env');

function summarise(pod: V1Pod): string {
  const container = pod.spec?.containers[0];
  const describe = (e: { name: string; value?: string; valueFrom?: unknown }) =>
    e.value?.startsWith('piggy:') === true ? `${e.name}=${e.value}` : e.value?.includes('-----BEGIN') === true ? `${e.name}=<PEM>` : e.name;
  const lines = [
    `initContainers: ${(pod.spec?.initContainers ?? []).map((c) => `${c.name} (${c.image ?? ''} ${(c.args ?? []).join(' ')})`).join(', ')}`,
    `volumes:        ${(pod.spec?.volumes ?? []).map((v) => v.name).join(', ')}`,
    `command:        ${JSON.stringify(container?.command)}`,
    `args:           ${JSON.stringify(container?.args?.map((arg) => (arg.length > 40 ? '<the script>' : arg)))}`,
    `env:            ${(container?.env ?? []).map(describe).join(', ')}`,
    `piggy-uid:      ${pod.metadata?.annotations?.['piggysec.com/piggy-uid'] ?? '(none)'}`,
  ];
  return lines.join('\n');
}

export const webhookStep: DemoStep = {
  title: 'The injection webhook: an annotated Pod, mutated by piggy',
  async run(ctx: DemoContext) {
    const controller = need(ctx.controller, 'controller');
    const core = need(ctx.kc, 'kubeconfig').makeApiClient(CoreV1Api);
    await register(ctx, controller.httpsPort);
    say(`registered MutatingWebhookConfiguration ${WEBHOOK_CONFIGURATION} → https://127.0.0.1:${controller.httpsPort}/mutate (demo namespace only)`);
    say(`Pod ${PROXY_POD} (proxy mode, the default): annotation piggysec.com/aws-secret-name: demo/database, env DB_USER=piggy:username, DB_PASSWORD=piggy:password; its app is this script:`);
    show(APP_SCRIPT);
    let pod: V1Pod | undefined;
    await pollUntil('the webhook to mutate the demo Pod', async () => {
      pod = await recreatePod(core, buildInjectedPod(ctx, PROXY_POD, {}));
      return isWrapped(pod); // else the registration was not active yet: the Pod goes and comes again
    }, 30_000, 500);
    command(`kubectl -n ${NAMESPACE} apply -f ${PROXY_POD}.yaml; kubectl -n ${NAMESPACE} get pod ${PROXY_POD} -o yaml`);
    say('the Pod as the API server stored it:');
    show(summarise(need(pod, 'the stored Pod')));
    good('wrapped: at start piggy-env resolves piggy:NAME through the controller\'s /secret, then execs the script (same PID)');
  },
};
