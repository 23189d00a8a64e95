// Applies the repository's own YAML (crds/, deploy/) to the test stack. Tests never inline copies.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ApiextensionsV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  loadAllYaml,
  type KubernetesObject,
  type V1CustomResourceDefinition,
  type V1ObjectMeta,
} from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { kube } from './kube.ts';
import { eventually } from './stack.ts';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const CRDS_DIR = join(REPO_ROOT, 'crds');
export const DEPLOY_DIR = join(REPO_ROOT, 'deploy');

/** The hash of what this helper applied, so concurrent and repeated calls can skip identical objects. */
const HASH_ANNOTATION = 'test.piggysec.com/applied-sha256';

/**
 * Every document of a YAML file as @kubernetes/client-node models. The models matter: the client
 * serializes by model, so a plain object's `x-kubernetes-validations` would be dropped silently.
 */
export function loadYamlObjects(file: string): KubernetesObject[] {
  const text = readFileSync(file, 'utf8');
  // Fail loudly on invalid YAML with the yaml package's precise messages.
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
  }
  return (loadAllYaml(text) as (KubernetesObject | null | undefined)[]).filter((o): o is KubernetesObject => o !== null && o !== undefined);
}

/** The YAML files of a folder (not recursive), sorted. */
export function yamlFilesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => join(dir, name));
}

/** Every CustomResourceDefinition under crds/. */
export function loadCrds(): V1CustomResourceDefinition[] {
  return yamlFilesIn(CRDS_DIR)
    .flatMap(loadYamlObjects)
    .filter((o) => o.kind === 'CustomResourceDefinition') as V1CustomResourceDefinition[];
}

const codeOf = (error: unknown): number | undefined => (error as { code?: unknown }).code as number | undefined;

function withHash(object: KubernetesObject): KubernetesObject & { metadata: V1ObjectMeta } {
  const hash = createHash('sha256').update(JSON.stringify(object)).digest('hex');
  const copy = structuredClone(object);
  const metadata = copy.metadata ?? {};
  metadata.annotations = { ...metadata.annotations, [HASH_ANNOTATION]: hash };
  return Object.assign(copy, { metadata });
}

/**
 * Creates the object, or replaces it when it exists with different content. Idempotent and safe
 * when several test processes apply the same object at once: a lost race (409 on create or on a
 * stale resourceVersion) re-reads and compares again.
 */
export async function applyObject(desired: KubernetesObject): Promise<void> {
  const client = KubernetesObjectApi.makeApiClient(kube().kc);
  const body = withHash(desired);
  const hash = body.metadata.annotations?.[HASH_ANNOTATION];
  const header = { apiVersion: body.apiVersion ?? '', kind: body.kind ?? '', metadata: { name: body.metadata.name ?? '', namespace: body.metadata.namespace } };
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      await client.create(body);
      return;
    } catch (error) {
      if (codeOf(error) !== 409) throw error;
    }
    let existing: KubernetesObject;
    try {
      existing = await client.read(header);
    } catch (error) {
      if (codeOf(error) === 404) continue; // deleted between our create and read: create again
      throw error;
    }
    if (existing.metadata?.annotations?.[HASH_ANNOTATION] === hash) return;
    try {
      const replacement = structuredClone(body);
      replacement.metadata.resourceVersion = existing.metadata?.resourceVersion;
      await client.replace(replacement);
      return;
    } catch (error) {
      if (codeOf(error) !== 409 && codeOf(error) !== 404) throw error;
    }
  }
  throw new Error(`could not apply ${header.kind} ${header.metadata.name}: too many conflicts`);
}

async function waitEstablished(crd: V1CustomResourceDefinition): Promise<void> {
  const name = crd.metadata?.name ?? '';
  const api = kube().kc.makeApiClient(ApiextensionsV1Api);
  await eventually(async () => {
    const current = await api.readCustomResourceDefinition({ name });
    const established = current.status?.conditions?.find((c) => c.type === 'Established');
    if (established?.status !== 'True') throw new Error(`CRD ${name} is not Established yet`);
  });
  // Established can precede the resource's REST handler by a moment: wait until a list answers.
  const objects = kube().kc.makeApiClient(CustomObjectsApi);
  const version = crd.spec.versions.find((v) => v.served)?.name ?? '';
  await eventually(async () => {
    await objects.listClusterCustomObject({ group: crd.spec.group, version, plural: crd.spec.names.plural, limit: 1 });
  });
}

let crdsApplied: Promise<void> | undefined;

/** Applies every CRD under crds/ and waits until each is Established and served. */
export function applyCrds(): Promise<void> {
  crdsApplied ??= (async () => {
    const crds = loadCrds();
    if (crds.length === 0) throw new Error(`no CustomResourceDefinition under ${CRDS_DIR}`);
    await Promise.all(crds.map(applyObject));
    await Promise.all(crds.map(waitEstablished));
  })();
  crdsApplied.catch(() => (crdsApplied = undefined));
  return crdsApplied;
}

/** Applies one CRD file (a peer's CRD fixture) and waits until it is Established and served. */
export async function applyCrdFile(file: string): Promise<void> {
  const crds = loadYamlObjects(file) as V1CustomResourceDefinition[];
  await Promise.all(crds.map(applyObject));
  await Promise.all(crds.map(waitEstablished));
}

/** The objects of deploy/rbac-operator.yaml, re-targeted at one test namespace and service account. */
export function buildOperatorRbac(namespace: string, serviceAccount: string): KubernetesObject[] {
  const suffixed = (name: string | undefined) => `${name ?? 'piggy'}-${namespace}`;
  return loadYamlObjects(join(DEPLOY_DIR, 'rbac-operator.yaml')).map((object) => {
    const copy = structuredClone(object) as KubernetesObject & {
      subjects?: { kind: string; name: string; namespace?: string }[];
      roleRef?: { kind: string; name: string };
    };
    const metadata = copy.metadata ?? {};
    copy.metadata = metadata;
    if (copy.kind === 'ClusterRole' || copy.kind === 'ClusterRoleBinding') metadata.name = suffixed(metadata.name);
    if (copy.kind === 'Role' || copy.kind === 'RoleBinding') metadata.namespace = namespace;
    if (copy.roleRef?.kind === 'ClusterRole') copy.roleRef.name = suffixed(copy.roleRef.name);
    for (const subject of copy.subjects ?? []) {
      if (subject.kind === 'ServiceAccount') {
        subject.name = serviceAccount;
        subject.namespace = namespace;
      }
    }
    return copy;
  });
}

/**
 * Applies deploy/rbac-operator.yaml for a service account of a test namespace: the ClusterRole and
 * ClusterRoleBinding get the namespace as a name suffix (tests don't collide), the leader-election
 * Role and RoleBinding move into the namespace, and the subjects name the given service account
 * (created when missing).
 */
export async function applyOperatorRbac(namespace: string, serviceAccount: string): Promise<void> {
  try {
    await kube().core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: serviceAccount } } });
  } catch (error) {
    if (codeOf(error) !== 409) throw error;
  }
  const objects = buildOperatorRbac(namespace, serviceAccount);
  // Roles before their bindings: a binding to a missing role is accepted, but order keeps it tidy.
  const isRole = (o: KubernetesObject) => o.kind === 'ClusterRole' || o.kind === 'Role';
  await Promise.all(objects.filter(isRole).map(applyObject));
  await Promise.all(objects.filter((o) => !isRole(o)).map(applyObject));
}
