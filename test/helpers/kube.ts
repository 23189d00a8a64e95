import {
  AuthenticationV1Api,
  CoreV1Api,
  KubeConfig,
  type V1Namespace,
} from '@kubernetes/client-node';
import type { ExecutionContext } from 'ava';
import { kubeConfigPath, uniqueName } from './stack.ts';

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
 * A fresh namespace for one test. There is no controller-manager, so namespaces never finish
 * deleting; unique names keep tests apart instead.
 */
export async function createTestNamespace(t: ExecutionContext, prefix = 'test'): Promise<string> {
  const name = uniqueName(prefix);
  const body: V1Namespace = { metadata: { name, labels: { 'piggysec.com/test': t.title.slice(0, 60).replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '') || 'x' } } };
  await kube().core.createNamespace({ body });
  return name;
}
