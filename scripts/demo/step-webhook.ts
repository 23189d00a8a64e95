// Step: the injection webhook. The demo's controller also serves POST /mutate; this step registers it
// for the demo namespace (URL + caBundle, as a cluster would through the Service), creates an
// annotated Pod, and shows the spec the API server stored: the launcher volume, the install init
// container, the rewritten command and the signature. Values never enter the Pod spec.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { AdmissionregistrationV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { pollUntil } from '../local/kube-objects.ts';
import { DEMO_DIR, NAMESPACE, need, type DemoContext, type DemoStep } from './context.ts';
import { command, good, say, show } from './narrate.ts';

const CONFIGURATION = 'piggy-demo';
const POD = 'api';

function demoPod(): V1Pod {
  return {
    metadata: { name: POD, namespace: NAMESPACE, annotations: { 'piggysec.com/aws-secret-name': 'demo/database' } },
    spec: {
      serviceAccountName: 'default',
      automountServiceAccountToken: false,
      containers: [
        {
          name: 'api',
          image: 'registry.example/api:1.0',
          command: ['/bin/server', '--db-user=$(DB_USER)'],
          env: [
            { name: 'DB_USER', value: 'piggy:username' },
            { name: 'DB_PASSWORD', value: 'piggy:password' },
          ],
        },
      ],
    },
  };
}

async function register(ctx: DemoContext, port: number): Promise<void> {
  const kc = need(ctx.kc, 'kubeconfig');
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  const caBundle = readFileSync(path.join(DEMO_DIR, 'tls', 'tls.crt')).toString('base64');
  const body = {
    metadata: { name: CONFIGURATION },
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
  await api.deleteMutatingWebhookConfiguration({ name: CONFIGURATION }).catch(() => undefined);
  await api.createMutatingWebhookConfiguration({ body });
}

function summarise(pod: V1Pod): string {
  const container = pod.spec?.containers[0];
  const lines = [
    `initContainers: ${(pod.spec?.initContainers ?? []).map((c) => `${c.name} (${c.image ?? ''} ${(c.args ?? []).join(' ')})`).join(', ')}`,
    `volumes:        ${(pod.spec?.volumes ?? []).map((v) => v.name).join(', ')}`,
    `command:        ${JSON.stringify(container?.command)}`,
    `args:           ${JSON.stringify(container?.args)}`,
    `env:            ${(container?.env ?? []).map((e) => (e.value?.startsWith('piggy:') ? `${e.name}=${e.value}` : e.name)).join(', ')}`,
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
    say(`registered MutatingWebhookConfiguration ${CONFIGURATION} → https://127.0.0.1:${controller.httpsPort}/mutate (demo namespace only)`);
    await core.deleteNamespacedPod({ name: POD, namespace: NAMESPACE, gracePeriodSeconds: 0 }).catch(() => undefined);
    let stored: V1Pod | undefined;
    await pollUntil(
      'the webhook to mutate the demo Pod',
      async () => {
        try {
          stored = await core.createNamespacedPod({ namespace: NAMESPACE, body: demoPod() });
        } catch {
          return false; // the registration is not active yet, or the old Pod is still going
        }
        return true;
      },
      30_000,
      500,
    );
    const pod = need(stored, 'the stored Pod');
    say('the Pod as written: annotation piggysec.com/aws-secret-name: demo/database, env DB_USER=piggy:username, DB_PASSWORD=piggy:password');
    say('the Pod as the API server stored it:');
    show(summarise(pod));
    if ((pod.spec?.initContainers ?? []).some((c) => c.name === 'install-piggy-env')) {
      good('wrapped: piggy-env resolves piggy:NAME at start through the controller\'s /secret, then execs /bin/server (same PID)');
    } else {
      throw new Error('the demo Pod was admitted without the piggy-env init container');
    }
    command(`kubectl -n ${NAMESPACE} get pod ${POD} -o yaml`);
  },
};
