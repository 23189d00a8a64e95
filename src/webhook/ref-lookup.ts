/**
 * LookupRef over the Kubernetes API: which keys of a ConfigMap or Secret hold a `piggy:` reference.
 * Only the first bytes of each Secret value are decoded, and nothing but key names leaves this file.
 */
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { classifyKubeError, isNotFound } from '../kube/errors.ts';
import { PIGGY_REFERENCE_PREFIX } from '../shared/injection-contract.ts';
import type { LookupRef } from './detect.ts';

/** Base64 characters that cover the prefix's bytes (4 characters per 3 bytes). */
const PREFIX_BASE64_CHARS = Math.ceil(PIGGY_REFERENCE_PREFIX.length / 3) * 4;

export function keysWithReferences(data: Readonly<Record<string, string>> | undefined, encoding: 'text' | 'base64'): Set<string> {
  const keys = new Set<string>();
  for (const [key, value] of Object.entries(data ?? {})) {
    const head = encoding === 'text' ? value : Buffer.from(value.slice(0, PREFIX_BASE64_CHARS), 'base64').toString('latin1');
    if (head.startsWith(PIGGY_REFERENCE_PREFIX)) keys.add(key);
  }
  return keys;
}

export function buildKubeRefLookup(kc: KubeConfig): LookupRef {
  const core = kc.makeApiClient(CoreV1Api);
  return async (kind, namespace, name) => {
    try {
      if (kind === 'ConfigMap') return keysWithReferences((await core.readNamespacedConfigMap({ name, namespace })).data, 'text');
      return keysWithReferences((await core.readNamespacedSecret({ name, namespace })).data, 'base64');
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw classifyKubeError(error, 'get', `${kind === 'ConfigMap' ? 'configmap' : 'secret'} ${namespace}/${name}`);
    }
  };
}
