// What bench/proxy (and bench/memory) send to /secret: pods as the webhook leaves them, each with a
// pod-bound token from TokenRequest (what the kubelet projects), and the secret they all read.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { ensureServiceAccount, forEachLimited, requestPodToken } from '../../scripts/local/kube-objects.ts';
import { parsePodConfig } from '../../src/config/annotations.ts';
import { DEFAULT_PROXY_TOKEN_AUDIENCE } from '../../src/config/config.ts';
import { buildLauncherEnv } from '../../src/webhook/mutate.ts';
import { buildCommandSignature, formatPiggyUids, PIGGY_UID_ANNOTATION } from '../../src/shared/injection-contract.ts';
import type { LoadRequest } from '../load.ts';

export const NAMESPACE = 'bench-proxy';
export const SERVICE_ACCOUNT = 'app';
export const SECRET = `${NAMESPACE}/shared`;
const TEMPLATE = ['/app/server', '--port', '8080'];
/** The Secrets Manager value of SECRET: four keys, PIGGY_ALLOWED_SA naming the pods' ServiceAccount. */
export const SECRET_VALUE = { DB_USER: 'app', DB_PASSWORD: 'bench-password', API_KEY: 'bench-api-key', PIGGY_ALLOWED_SA: `${NAMESPACE}:${SERVICE_ACCOUNT}` };

export interface BenchPod {
  readonly name: string;
  readonly containerUid: string;
  readonly token: string;
}

/**
 * N pods as the webhook leaves them (piggy-uid annotation, one wrapped container with the env the
 * webhook's own buildLauncherEnv writes, the admission record PIGGY_ADMISSION included) and a
 * pod-bound token each, for the audience the webhook's projected token carries (the automounted one
 * is refused).
 */
export async function createPods(kc: KubeConfig, count: number): Promise<BenchPod[]> {
  const core = kc.makeApiClient(CoreV1Api);
  await ensureServiceAccount(kc, NAMESPACE, SERVICE_ACCOUNT);
  const signature = buildCommandSignature(TEMPLATE);
  const pods: BenchPod[] = new Array<BenchPod>(count);
  await forEachLimited(Array.from({ length: count }, (_unused, index) => index), 16, async (index) => {
    const containerUid = index.toString(16).padStart(32, '0');
    const name = `app-${index}`;
    const annotations = { 'piggysec.com/aws-secret-name': SECRET, [PIGGY_UID_ANNOTATION]: formatPiggyUids({ [containerUid]: signature }) };
    const parsed = parsePodConfig(annotations, {}, { namespace: NAMESPACE });
    if (!parsed.ok) throw new Error(`the bench pod's annotations do not parse: ${JSON.stringify(parsed.issues)}`);
    const env = buildLauncherEnv(parsed.config, containerUid, undefined, { signature, namespace: NAMESPACE, serviceAccount: SERVICE_ACCOUNT });
    const created = await core.createNamespacedPod({
      namespace: NAMESPACE,
      body: {
        metadata: { name, annotations },
        spec: {
          serviceAccountName: SERVICE_ACCOUNT,
          containers: [{ name: 'app', image: 'registry.example/app:1', command: ['/piggy/piggy-env'], args: ['--', ...TEMPLATE], env }],
        },
      },
    });
    const token = await requestPodToken(kc, { namespace: NAMESPACE, name, uid: created.metadata?.uid ?? '', serviceAccount: SERVICE_ACCOUNT }, { expirationSeconds: 7200, audiences: [DEFAULT_PROXY_TOKEN_AUDIENCE] });
    pods[index] = { name, containerUid, token };
  });
  return pods;
}

export const secretRequests = (pods: readonly BenchPod[]): LoadRequest[] =>
  pods.map((pod) => ({ headers: { 'x-token': pod.token }, body: JSON.stringify({ name: pod.name, uid: pod.containerUid, signature: buildCommandSignature(TEMPLATE) }) }));

