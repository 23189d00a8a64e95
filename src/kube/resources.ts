import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Secret,
} from '@kubernetes/client-node';
import { classifyKubeError, isNotFound } from './errors.ts';
import { buildTimeoutOptions } from './request-timeout.ts';

export interface CustomResourceRef {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
}

export interface CustomObjectList<T> {
  readonly items: T[];
  readonly metadata?: { readonly resourceVersion?: string };
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Thin adapters for the objects the operator reads and writes; failures come back classified. */
export function buildResourceClient(kc: KubeConfig) {
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);

  return {
    core,
    custom,

    /** Lists across all namespaces, or in one when `namespace` is given; `timeoutMs` bounds the call (0: none). */
    async listCustomObjects<T>(ref: CustomResourceRef, namespace?: string, timeoutMs = 0): Promise<CustomObjectList<T>> {
      const options = buildTimeoutOptions(timeoutMs);
      try {
        const list: unknown =
          namespace === undefined
            ? await custom.listClusterCustomObject({ ...ref }, options)
            : await custom.listNamespacedCustomObject({ ...ref, namespace }, options);
        return list as CustomObjectList<T>;
      } catch (error) {
        throw classifyKubeError(error, 'list', ref.plural);
      }
    },

    /** Merge-patches status, guarded by the resourceVersion read, so a stale writer gets a conflict. */
    async patchStatus(ref: CustomResourceRef, namespace: string, name: string, resourceVersion: string | undefined, status: unknown): Promise<void> {
      const body = { metadata: resourceVersion === undefined ? {} : { resourceVersion }, status };
      try {
        await custom.patchNamespacedCustomObjectStatus({ ...ref, namespace, name, body }, mergePatch);
      } catch (error) {
        throw classifyKubeError(error, 'patch status of', `${ref.plural}/${namespace}/${name}`);
      }
    },

    async listSecrets(labelSelector: string, namespace?: string, timeoutMs = 0) {
      const options = buildTimeoutOptions(timeoutMs);
      try {
        return namespace === undefined
          ? await core.listSecretForAllNamespaces({ labelSelector }, options)
          : await core.listNamespacedSecret({ namespace, labelSelector }, options);
      } catch (error) {
        throw classifyKubeError(error, 'list', 'secrets');
      }
    },

    async readSecret(namespace: string, name: string): Promise<V1Secret | undefined> {
      try {
        return await core.readNamespacedSecret({ name, namespace });
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw classifyKubeError(error, 'read', `Secret/${namespace}/${name}`);
      }
    },

    /** Creates the Secret; resolves with the resourceVersion it was stored at. */
    async createSecret(secret: V1Secret): Promise<string | undefined> {
      const namespace = secret.metadata?.namespace ?? '';
      try {
        return (await core.createNamespacedSecret({ namespace, body: secret })).metadata?.resourceVersion;
      } catch (error) {
        throw classifyKubeError(error, 'create', `Secret/${namespace}/${secret.metadata?.name ?? ''}`);
      }
    },

    /** Replaces a Secret, guarded by the resourceVersion it was read at. */
    async replaceSecret(secret: V1Secret, resourceVersion: string | undefined): Promise<string | undefined> {
      const namespace = secret.metadata?.namespace ?? '';
      const name = secret.metadata?.name ?? '';
      const body: V1Secret = Object.assign({}, secret, { metadata: Object.assign({}, secret.metadata, { resourceVersion }) });
      try {
        return (await core.replaceNamespacedSecret({ name, namespace, body })).metadata?.resourceVersion;
      } catch (error) {
        throw classifyKubeError(error, 'update', `Secret/${namespace}/${name}`);
      }
    },

    async deleteSecret(namespace: string, name: string, uid: string | undefined): Promise<void> {
      try {
        await core.deleteNamespacedSecret({ name, namespace, body: { preconditions: uid === undefined ? undefined : { uid } } });
      } catch (error) {
        if (!isNotFound(error)) throw classifyKubeError(error, 'delete', `Secret/${namespace}/${name}`);
      }
    },
  };
}

export type ResourceClient = ReturnType<typeof buildResourceClient>;
