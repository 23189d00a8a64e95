import {
  AppsV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1DaemonSet,
  type V1Deployment,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { classifyKubeError, isNotFound } from './errors.ts';

/** The workload kinds whose pod template can be annotated to roll them out. */
export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet';

export const WORKLOAD_KINDS: readonly WorkloadKind[] = ['Deployment', 'StatefulSet', 'DaemonSet'];

export interface WorkloadRef {
  readonly kind: WorkloadKind;
  readonly namespace: string;
  readonly name: string;
}

/** A workload as read from the API, tagged with its kind. */
export type WorkloadObject =
  | { readonly kind: 'Deployment'; readonly object: V1Deployment }
  | { readonly kind: 'StatefulSet'; readonly object: V1StatefulSet }
  | { readonly kind: 'DaemonSet'; readonly object: V1DaemonSet };

/** What the rollout component needs from the API: list, get and patch (the verbs RBAC grants). */
export interface WorkloadClient {
  /** Every Deployment, StatefulSet and DaemonSet of a namespace. */
  listWorkloads(namespace: string): Promise<WorkloadObject[]>;
  /** The workload, or undefined when it is gone. */
  readWorkload(ref: WorkloadRef): Promise<WorkloadObject | undefined>;
  /** Merge-patches `spec.template.metadata.annotations`; other annotations are left alone. */
  patchTemplateAnnotations(ref: WorkloadRef, annotations: Readonly<Record<string, string>>): Promise<void>;
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const FIELD_MANAGER = 'piggy';

export const describeWorkload = (ref: WorkloadRef): string => `${ref.kind}/${ref.namespace}/${ref.name}`;

/** Thin adapter over apps/v1; failures come back classified (ERR_KUBE_*), 404 on read as undefined. */
export function buildWorkloadClient(kc: KubeConfig): WorkloadClient {
  const apps = kc.makeApiClient(AppsV1Api);

  const listKind = async (kind: WorkloadKind, namespace: string): Promise<WorkloadObject[]> => {
    try {
      if (kind === 'Deployment') return (await apps.listNamespacedDeployment({ namespace })).items.map((object) => ({ kind, object }));
      if (kind === 'StatefulSet') return (await apps.listNamespacedStatefulSet({ namespace })).items.map((object) => ({ kind, object }));
      return (await apps.listNamespacedDaemonSet({ namespace })).items.map((object) => ({ kind, object }));
    } catch (error) {
      throw classifyKubeError(error, 'list', `${kind}s in ${namespace}`);
    }
  };

  const read = async (ref: WorkloadRef): Promise<WorkloadObject> => {
    const params = { name: ref.name, namespace: ref.namespace };
    if (ref.kind === 'Deployment') return { kind: ref.kind, object: await apps.readNamespacedDeployment(params) };
    if (ref.kind === 'StatefulSet') return { kind: ref.kind, object: await apps.readNamespacedStatefulSet(params) };
    return { kind: ref.kind, object: await apps.readNamespacedDaemonSet(params) };
  };

  const patch = async (ref: WorkloadRef, body: unknown): Promise<void> => {
    const params = { name: ref.name, namespace: ref.namespace, body, fieldManager: FIELD_MANAGER };
    if (ref.kind === 'Deployment') await apps.patchNamespacedDeployment(params, mergePatch);
    else if (ref.kind === 'StatefulSet') await apps.patchNamespacedStatefulSet(params, mergePatch);
    else await apps.patchNamespacedDaemonSet(params, mergePatch);
  };

  return {
    async listWorkloads(namespace) {
      const lists = await Promise.all(WORKLOAD_KINDS.map((kind) => listKind(kind, namespace)));
      return lists.flat();
    },

    async readWorkload(ref) {
      try {
        return await read(ref);
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw classifyKubeError(error, 'read', describeWorkload(ref));
      }
    },

    async patchTemplateAnnotations(ref, annotations) {
      try {
        await patch(ref, { spec: { template: { metadata: { annotations } } } });
      } catch (error) {
        throw classifyKubeError(error, 'patch', describeWorkload(ref));
      }
    },
  };
}
