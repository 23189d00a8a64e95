import {
  AuthenticationV1Api,
  CoreV1Api,
  KubeConfig,
  type V1Namespace,
} from '@kubernetes/client-node';
import type { ExecutionContext } from 'ava';
import { kubeConfigPath, testStack, uniqueName } from './stack.ts';

export interface KubeClients {
  readonly kc: KubeConfig;
  readonly core: CoreV1Api;
  readonly auth: AuthenticationV1Api;
}

let cached: KubeClients | undefined;

/** Admin clients for the test run's API server. */
export function kube(): KubeClients {
  if (cached === undefined) {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeConfigPath());
    cached = { kc, core: kc.makeApiClient(CoreV1Api), auth: kc.makeApiClient(AuthenticationV1Api) };
  }
  return cached;
}

/**
 * A fresh namespace for one test, unique by name. With the real nodes, the controller-manager
 * creates its `default` ServiceAccount, which ServiceAccount admission needs for pods without one:
 * wait for it, as kubectl users never notice.
 */
export async function createTestNamespace(t: ExecutionContext, prefix = 'test'): Promise<string> {
  const name = uniqueName(prefix);
  const body: V1Namespace = { metadata: { name, labels: { 'piggysec.com/test': t.title.slice(0, 60).replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '') || 'x' } } };
  await kube().core.createNamespace({ body });
  if (testStack().nodes !== undefined) await waitForDefaultServiceAccount(name);
  return name;
}

/** Resolves once NAMESPACE has its `default` ServiceAccount (the controller-manager's). */
export async function waitForDefaultServiceAccount(namespace: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await kube().core.readNamespacedServiceAccount({ namespace, name: 'default' });
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`namespace ${namespace} has no default ServiceAccount after ${timeoutMs} ms`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** A KubeConfig that authenticates as a service account (a TokenRequest token), not as admin. */
export async function serviceAccountKubeConfig(namespace: string, serviceAccount: string): Promise<KubeConfig> {
  const admin = kube();
  const request = await admin.core.createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const cluster = admin.kc.getCurrentCluster();
  if (cluster === null) throw new Error('no cluster in the admin kubeconfig');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: serviceAccount, token: request.status?.token ?? '' }],
    contexts: [{ name: serviceAccount, cluster: cluster.name, user: serviceAccount }],
    currentContext: serviceAccount,
  });
  return kc;
}
