import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { classifyKubeError, isNotFound } from './errors.ts';

export interface PullSecretRef {
  readonly name: string;
  readonly namespace: string;
}

/** The docker config text of a pull Secret (`.dockerconfigjson` or legacy `.dockercfg`), decoded. */
export type DockerConfigText = string;

/**
 * Reads image pull credentials the way the kubelet finds them: the pod's imagePullSecrets, then its
 * service account's, plus any extra Secret. A missing Secret or service account is skipped (the
 * kubelet does the same); other failures are reported.
 */
export function buildPullSecretReader(kc: KubeConfig) {
  const core = kc.makeApiClient(CoreV1Api);

  async function readSecret(ref: PullSecretRef): Promise<DockerConfigText | undefined> {
    try {
      const secret = await core.readNamespacedSecret({ name: ref.name, namespace: ref.namespace });
      const encoded = secret.data?.['.dockerconfigjson'] ?? secret.data?.['.dockercfg'];
      return encoded === undefined ? undefined : Buffer.from(encoded, 'base64').toString('utf8');
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw classifyKubeError(error, 'read', `Secret/${ref.namespace}/${ref.name}`);
    }
  }

  async function serviceAccountSecrets(namespace: string, serviceAccountName: string): Promise<PullSecretRef[]> {
    try {
      const account = await core.readNamespacedServiceAccount({ name: serviceAccountName, namespace });
      return (account.imagePullSecrets ?? []).flatMap((entry) => (entry.name ? [{ name: entry.name, namespace }] : []));
    } catch (error) {
      if (isNotFound(error)) return [];
      throw classifyKubeError(error, 'read', `ServiceAccount/${namespace}/${serviceAccountName}`);
    }
  }

  return {
    async read(input: {
      readonly namespace: string;
      readonly serviceAccountName: string;
      readonly imagePullSecrets: readonly string[];
      readonly extra: PullSecretRef | undefined;
    }): Promise<DockerConfigText[]> {
      const refs: PullSecretRef[] = input.imagePullSecrets.map((name) => ({ name, namespace: input.namespace }));
      refs.push(...(await serviceAccountSecrets(input.namespace, input.serviceAccountName || 'default')));
      if (input.extra !== undefined) refs.push(input.extra);
      const unique = [...new Map(refs.map((ref) => [`${ref.namespace}/${ref.name}`, ref])).values()];
      const texts = await Promise.all(unique.map(readSecret));
      return texts.filter((text): text is string => text !== undefined);
    },
  };
}
