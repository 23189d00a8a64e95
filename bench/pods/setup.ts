// What bench:pods sets up on its private stack before measuring: the images in the stack's registry,
// the Secrets Manager secret, `piggy controller` as a host process (as scripts/demo runs it) and the
// chart's webhook registration (deploy/webhook.yaml: its rules and matchConditions, so a plain pod is
// admitted without a call to piggy, as in a real install) pointing at it by URL.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { AdmissionregistrationV1Api, type KubeConfig, type V1MutatingWebhook, type V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { buildImages } from '../../scripts/images/build.ts';
import { pushBusyboxImage } from '../../scripts/local/app-image.ts';
import { buildSecretsManager, createSecretVersions } from '../../scripts/local/moto-secrets.ts';
import { startController, type RunningController } from '../../scripts/local/piggy-controller.ts';
import { freePort, repoRoot } from '../../scripts/local/procs.ts';
import type { StackInfo } from '../../scripts/local/stack.ts';
import { SECRET_KEYS } from './pods.ts';

export const WEBHOOK_CONFIGURATION = 'piggy-bench-pods';

export interface BenchImages {
  /** piggy-env by digest (PIGGY_ENV_IMAGE). */
  readonly envImage: string;
  readonly appImage: string;
}

/** `npm run build:images` (cached by its inputs) pushed to the stack's registry, and the busybox app image. */
export async function pushImages(stack: StackInfo, log: (line: string) => void): Promise<BenchImages> {
  const registry = stack.registryHost;
  const summary = await buildImages({ outDir: path.join(repoRoot, 'dist', 'images'), push: `${registry}/piggy`, log: (line) => log(`  ${line}`) });
  const env = summary.images['piggy-env'].pushed;
  if (env === undefined) throw new Error('buildImages pushed no piggy-env image');
  const appImage = await pushBusyboxImage(stack.tools.crane, `${registry}/bench/busybox:1`);
  return { envImage: `${env.repository}@${env.digest}`, appImage };
}

/** The secret `<namespace>/app` with one version of three random keys; returns its VersionId. */
export async function createAppSecret(stack: StackInfo, secretId: string): Promise<string> {
  const client = buildSecretsManager(stack.awsEndpoint);
  try {
    const value = Object.fromEntries(SECRET_KEYS.map((key) => [key, `${key}-${Math.random().toString(36).slice(2, 14)}`]));
    const [versionId] = await createSecretVersions(client, secretId, [JSON.stringify(value)]);
    if (versionId === undefined) throw new Error(`no version of ${secretId}`);
    return versionId;
  } finally {
    client.destroy();
  }
}

/** `bin/piggy.js controller` on the host, watching NAMESPACE: operator, webhook and proxy, defaults otherwise. */
export async function startBenchController(stack: StackInfo, dir: string, namespace: string, images: BenchImages): Promise<RunningController> {
  const port = await freePort();
  const controller = await startController({
    dir,
    kubeconfig: stack.kubeconfig,
    awsEndpoint: stack.awsEndpoint,
    env: {
      WATCH_NAMESPACE: namespace,
      LEASE_NAMESPACE: namespace,
      UPDATE_CHECK_SCHEDULE: 'off',
      LISTEN_ADDRESS: `127.0.0.1:${port}`,
      PIGGY_ENV_IMAGE: images.envImage,
      // Pods are hostNetwork: the launcher reaches the host process on loopback.
      PIGGY_ADDRESS: `https://127.0.0.1:${port}`,
      INSECURE_REGISTRIES: stack.registryHost,
    },
  });
  try {
    await controller.waitForLog((line) => line.msg === 'caches synced, reconciling');
  } catch (error) {
    await controller.stop();
    throw error;
  }
  return controller;
}

/** deploy/webhook.yaml's webhook, for NAMESPACE only, calling https://127.0.0.1:PORT/mutate with CAFILE as its caBundle. */
export function buildWebhookConfiguration(manifest: string, namespace: string, port: number, caBundle: string): V1MutatingWebhookConfiguration {
  const doc = parseAllDocuments(manifest).map((d) => d.toJS() as V1MutatingWebhookConfiguration).find((o) => o.kind === 'MutatingWebhookConfiguration');
  const webhook = doc?.webhooks?.[0];
  if (webhook === undefined) throw new Error('deploy/webhook.yaml holds no MutatingWebhookConfiguration');
  const wired: V1MutatingWebhook = {
    ...webhook,
    clientConfig: { url: `https://127.0.0.1:${port}/mutate`, caBundle },
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
  };
  return { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: WEBHOOK_CONFIGURATION }, webhooks: [wired] };
}

export async function registerWebhook(kc: KubeConfig, namespace: string, controller: RunningController, certFile: string): Promise<void> {
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  const body = buildWebhookConfiguration(readFileSync(path.join(repoRoot, 'deploy', 'webhook.yaml'), 'utf8'), namespace, controller.httpsPort, readFileSync(certFile).toString('base64'));
  await api.deleteMutatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION }).catch(() => undefined);
  await api.createMutatingWebhookConfiguration({ body });
}

export async function unregisterWebhook(kc: KubeConfig): Promise<void> {
  await kc.makeApiClient(AdmissionregistrationV1Api).deleteMutatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION }).catch(() => undefined);
}
