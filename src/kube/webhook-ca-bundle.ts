/**
 * Keeps every `webhooks[].clientConfig.caBundle` of one MutatingWebhookConfiguration equal to the
 * trust bundle. The patch is computed purely (planCaBundlePatch) and guarded by `test` operations on
 * the webhook names, so a configuration edited concurrently is never patched at the wrong index.
 */
import {
  AdmissionregistrationV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1MutatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { classifyKubeError, isNotFound } from './errors.ts';
import { buildTimeoutOptions } from './request-timeout.ts';

export type JsonPatchOperation =
  | { readonly op: 'test'; readonly path: string; readonly value: unknown }
  | { readonly op: 'add'; readonly path: string; readonly value: unknown };

/** The JSON patch that sets every webhook's caBundle to `bundlePem`; empty when all already match. */
export function planCaBundlePatch(config: V1MutatingWebhookConfiguration, bundlePem: string): JsonPatchOperation[] {
  const wanted = Buffer.from(bundlePem, 'utf8').toString('base64');
  const operations: JsonPatchOperation[] = [];
  (config.webhooks ?? []).forEach((webhook, index) => {
    const current = webhook.clientConfig.caBundle;
    if (current !== undefined && Buffer.from(current, 'base64').equals(Buffer.from(bundlePem, 'utf8'))) return;
    operations.push({ op: 'test', path: `/webhooks/${index}/name`, value: webhook.name });
    operations.push({ op: 'add', path: `/webhooks/${index}/clientConfig/caBundle`, value: wanted });
  });
  return operations;
}

export type CaBundleResult = 'unchanged' | 'patched' | 'missing';

/** Reads the configuration and patches it when a caBundle differs; each request gets `timeoutMs`. */
export async function applyCaBundle(kc: KubeConfig, name: string, bundlePem: string, timeoutMs: number): Promise<CaBundleResult> {
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  let config: V1MutatingWebhookConfiguration;
  try {
    config = await api.readMutatingWebhookConfiguration({ name }, buildTimeoutOptions(timeoutMs));
  } catch (error) {
    if (isNotFound(error)) return 'missing';
    throw classifyKubeError(error, 'read', `MutatingWebhookConfiguration/${name}`);
  }
  const operations = planCaBundlePatch(config, bundlePem);
  if (operations.length === 0) return 'unchanged';
  try {
    await api.patchMutatingWebhookConfiguration({ name, body: operations }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch, buildTimeoutOptions(timeoutMs)));
  } catch (error) {
    if (isNotFound(error)) return 'missing';
    throw classifyKubeError(error, 'patch', `MutatingWebhookConfiguration/${name}`);
  }
  return 'patched';
}
