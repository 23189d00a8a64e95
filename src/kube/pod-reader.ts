/**
 * Reads one Pod for the /secret proxy: only what the identity checks need (uid, service account,
 * annotations, the containers' literal env). The GET goes to the API server every time: the proxy judges the pod's live state.
 */
import { CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { classifyKubeError, isNotFound } from './errors.ts';
import { buildTimeoutOptions } from './request-timeout.ts';

export interface PodSnapshot {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /** spec.serviceAccountName ('' when unset). */
  readonly serviceAccountName: string;
  readonly annotations: Readonly<Record<string, string>>;
  /**
   * spec.initContainers and spec.containers (never ephemeral containers, which `pods/ephemeralcontainers`
   * can add after admission) with their literal env values: the container env cannot change after creation.
   */
  readonly containers: readonly ContainerSnapshot[];
}

export interface ContainerSnapshot {
  readonly name: string;
  /** env entries with a literal `value` (valueFrom entries are left out). */
  readonly env: Readonly<Record<string, string>>;
}

function snapshotContainers(pod: V1Pod): ContainerSnapshot[] {
  return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((container) => ({
    name: container.name,
    env: Object.fromEntries((container.env ?? []).filter((item) => typeof item.value === 'string').map((item) => [item.name, item.value ?? ''])),
  }));
}

/** undefined when the pod does not exist; other failures come back classified (ERR_KUBE_*). */
export type ReadPod = (namespace: string, name: string) => Promise<PodSnapshot | undefined>;

export function buildPodReader(kc: KubeConfig, options: { readonly timeoutMs?: number } = {}): ReadPod {
  const core = kc.makeApiClient(CoreV1Api);
  const timeoutMs = options.timeoutMs ?? 5_000;
  return async (namespace, name) => {
    try {
      const pod = await core.readNamespacedPod({ namespace, name }, buildTimeoutOptions(timeoutMs));
      return {
        namespace,
        name,
        uid: pod.metadata?.uid ?? '',
        serviceAccountName: pod.spec?.serviceAccountName ?? '',
        annotations: pod.metadata?.annotations ?? {},
        containers: snapshotContainers(pod),
      };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw classifyKubeError(error, 'get', `pods/${namespace}/${name}`);
    }
  };
}
