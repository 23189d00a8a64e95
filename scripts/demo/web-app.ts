// The operator part's app: Deployment `web`, opted in to version-pinned rollouts, whose pod reads the
// generated Secret with envFrom and prints its values masked. Its pods run on the real nodes.
import { CoreV1Api, type V1Deployment, type V1Pod } from '@kubernetes/client-node';
import { pollUntil } from '../local/kube-objects.ts';
import { AWSSECRET_NAME, DEPLOYMENT_NAME, NAMESPACE, RESTART_ANNOTATION, need, type DemoContext } from './context.ts';
import { command, good, show } from './narrate.ts';
import { fetchSecret } from './objects.ts';
import { buildAppScript, buildAppSpec, formatPods, maskedLine, waitForLogs, waitForPodRunning } from './pods.ts';

const KEYS = ['username', 'password', 'port'] as const;
export const WEB_SCRIPT = buildAppScript([...KEYS.map((key) => `mask ${key} "$${key}"`), 'echo "ready"']);

export function buildDeployment(ctx: DemoContext): V1Deployment {
  const labels = { app: DEPLOYMENT_NAME };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: DEPLOYMENT_NAME, namespace: NAMESPACE, annotations: { [RESTART_ANNOTATION]: AWSSECRET_NAME } },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: buildAppSpec(ctx, WEB_SCRIPT, { envFrom: [{ secretRef: { name: AWSSECRET_NAME } }] }),
      },
    },
  };
}

/** The Deployment's pods, oldest first. */
export async function fetchWebPods(core: CoreV1Api): Promise<V1Pod[]> {
  const list = await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: `app=${DEPLOYMENT_NAME}` });
  return list.items.sort((a, b) => String(a.metadata?.creationTimestamp ?? '').localeCompare(String(b.metadata?.creationTimestamp ?? '')));
}

/** Waits for a running web pod other than `not`; returns its name. */
export async function waitForWebPod(core: CoreV1Api, not?: string): Promise<string> {
  let name = '';
  await pollUntil(`a pod of Deployment ${DEPLOYMENT_NAME}${not === undefined ? '' : ` other than ${not}`}`, async () => {
    const pod = (await fetchWebPods(core)).find((p) => p.metadata?.name !== not && p.metadata?.deletionTimestamp === undefined);
    name = pod?.metadata?.name ?? '';
    return name !== '';
  }, 60_000, 200);
  await waitForPodRunning(core, name);
  return name;
}

/** `kubectl logs` of a web pod; checks it printed the generated Secret's current values, masked. */
export async function showWebPodOutput(ctx: DemoContext, name: string): Promise<void> {
  const kc = need(ctx.kc, 'kc');
  const core = kc.makeApiClient(CoreV1Api);
  const text = await waitForLogs(core, name, (out) => out.includes('ready\n'));
  command(`kubectl -n ${NAMESPACE} get pods -l app=${DEPLOYMENT_NAME} -o wide`);
  show(formatPods(await fetchWebPods(core)));
  command(`kubectl -n ${NAMESPACE} logs ${name}`);
  show(text);
  const data = (await fetchSecret(kc)).data ?? {};
  const expected = [...KEYS.map((key) => maskedLine(key, Buffer.from(data[key] ?? '', 'base64').toString('utf8'))), 'ready'].join('\n');
  if (text.trimEnd() !== expected) throw new Error(`Pod ${name} did not print the Secret's values (masked) as expected`);
  good(`the pod on the node read Secret ${AWSSECRET_NAME} through envFrom; masked, its values are the Secret's`);
}
