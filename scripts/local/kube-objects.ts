// Applying the repository's YAML (crds/, examples/) to a local stack from scripts (demo, bench):
// server-side apply, like `kubectl apply --server-side`, so a re-run against the same stack is a no-op.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  loadAllYaml,
  type KubernetesObject,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { repoRoot, sleep } from './procs.ts';

export const CRDS_DIR = path.join(repoRoot, 'crds');
const FIELD_MANAGER = 'piggy-scripts';

export function loadKubeConfigFile(file: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  return kc;
}

/**
 * The documents of a YAML text as @kubernetes/client-node models. The models matter: the client
 * serializes known kinds by model, so a plain object's `x-kubernetes-validations` would be dropped.
 */
export function parseYamlObjects(text: string): KubernetesObject[] {
  return (loadAllYaml(text) as (KubernetesObject | null | undefined)[]).filter((o): o is KubernetesObject => o !== null && o !== undefined);
}

export const codeOf = (error: unknown): number | undefined => (error as { code?: unknown } | undefined)?.code as number | undefined;

/** Server-side apply of one object (forcing conflicts, as the only writer of these fields). */
export async function applyObject(kc: KubeConfig, object: KubernetesObject): Promise<KubernetesObject> {
  const client = KubernetesObjectApi.makeApiClient(kc);
  const body = structuredClone(object);
  if (body.metadata) delete body.metadata.managedFields;
  return client.patch(body, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
}

/** Applies every object of a YAML file, in file order. */
export async function applyYamlFile(kc: KubeConfig, file: string): Promise<KubernetesObject[]> {
  const applied: KubernetesObject[] = [];
  for (const object of parseYamlObjects(readFileSync(file, 'utf8'))) applied.push(await applyObject(kc, object));
  return applied;
}

/** Polls `check` until it returns true; throws with `what` after `timeoutMs`. */
export async function pollUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error instanceof Error ? `: ${error.message}` : '';
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${last}`);
    await sleep(intervalMs);
  }
}

/** Applies every CustomResourceDefinition under crds/ and waits until each is Established and served. */
export async function applyCrds(kc: KubeConfig, dir = CRDS_DIR): Promise<string[]> {
  const files = readdirSync(dir).filter((name) => /\.ya?ml$/.test(name)).sort().map((name) => path.join(dir, name));
  const crds = files
    .flatMap((file) => parseYamlObjects(readFileSync(file, 'utf8')))
    .filter((o): o is V1CustomResourceDefinition => o.kind === 'CustomResourceDefinition');
  if (crds.length === 0) throw new Error(`no CustomResourceDefinition under ${dir}`);
  for (const crd of crds) await applyObject(kc, crd);
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const objects = kc.makeApiClient(CustomObjectsApi);
  for (const crd of crds) {
    const name = crd.metadata?.name ?? '';
    await pollUntil(`CRD ${name} to be Established`, async () => {
      const current = await api.readCustomResourceDefinition({ name });
      return current.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') === true;
    }, 30_000);
    // Established can precede the resource's REST handler by a moment: wait until a list answers.
    const version = crd.spec.versions.find((v) => v.served)?.name ?? '';
    await pollUntil(`${name} to be served`, async () => {
      await objects.listClusterCustomObject({ group: crd.spec.group, version, plural: crd.spec.names.plural, limit: 1 });
      return true;
    }, 30_000);
  }
  return crds.map((crd) => crd.metadata?.name ?? '');
}

/** Creates the namespace unless it exists. */
export async function ensureNamespace(kc: KubeConfig, name: string): Promise<void> {
  try {
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
  } catch (error) {
    if (codeOf(error) !== 409) throw error;
  }
}

/** Creates the service account unless it exists (the local stack runs no controller that makes `default`). */
export async function ensureServiceAccount(kc: KubeConfig, namespace: string, name: string): Promise<void> {
  try {
    await kc.makeApiClient(CoreV1Api).createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  } catch (error) {
    if (codeOf(error) !== 409) throw error;
  }
}

/** Which pod a token is bound to, and whose service account it is. */
export interface PodIdentity {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly serviceAccount: string;
}

/** A TokenRequest for the pod's service account bound to the pod: what the kubelet projects. */
export async function requestPodToken(kc: KubeConfig, pod: PodIdentity, options: { readonly audiences?: readonly string[]; readonly expirationSeconds?: number } = {}): Promise<string> {
  const issued = await kc.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    name: pod.serviceAccount,
    namespace: pod.namespace,
    body: {
      spec: {
        audiences: [...(options.audiences ?? [])],
        expirationSeconds: options.expirationSeconds ?? 3600,
        boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: pod.name, uid: pod.uid },
      },
    },
  });
  const token = issued.status?.token;
  if (token === undefined || token === '') throw new Error(`TokenRequest for pod ${pod.namespace}/${pod.name} returned no token`);
  return token;
}

/** Runs `task` over `items` with at most `concurrency` in flight; resolves when all are done. */
export async function forEachLimited<T>(items: readonly T[], concurrency: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      await task(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
}
