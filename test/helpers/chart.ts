// Renders charts/piggy with the test stack's helm and reads the result as plain objects.
import type { V1ClusterRole, V1Deployment, V1EnvVar, V1MutatingWebhookConfiguration, V1Role } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { renderChart, type RenderOptions } from '../../scripts/chart-render.ts';
import { testStack } from './stack.ts';

export interface Manifest {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** The stack's helm (scripts/local/build-binaries.sh helm). */
export function helmBinary(): string {
  const helm = testStack().tools.helm;
  if (!helm) throw new Error('the test stack has no helm: scripts/local/build-binaries.sh helm');
  return helm;
}

/** Every document of a multi-document YAML text (comments and empty documents dropped). */
export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(doc.errors.map((error) => error.message).join('; '));
    const value = doc.toJS() as Manifest | null;
    return value === null ? [] : [value];
  });
}

/** `helm template` with these values; throws with helm's message when the render fails. */
export async function render(options: RenderOptions = {}): Promise<Manifest[]> {
  const result = await renderChart(helmBinary(), { namespace: 'piggy-test', ...options });
  if (result.code !== 0) throw new Error(`helm template failed: ${result.stderr}`);
  return parseManifests(result.stdout);
}

/** helm's error message for a render that must fail. */
export async function renderError(options: RenderOptions): Promise<string> {
  const result = await renderChart(helmBinary(), { namespace: 'piggy-test', ...options });
  if (result.code === 0) throw new Error('helm template succeeded');
  return result.stderr;
}

export const ofKind = (manifests: readonly Manifest[], kind: string): Manifest[] => manifests.filter((m) => m.kind === kind);

export function only(manifests: readonly Manifest[], kind: string): Manifest {
  const found = ofKind(manifests, kind);
  if (found.length !== 1) throw new Error(`expected one ${kind}, found ${found.length}`);
  return found[0] as Manifest;
}

export const deploymentOf = (manifests: readonly Manifest[]): V1Deployment => only(manifests, 'Deployment');
export const webhookOf = (manifests: readonly Manifest[]): V1MutatingWebhookConfiguration => only(manifests, 'MutatingWebhookConfiguration');

/** The controller container's env entries. */
export function envOf(manifests: readonly Manifest[]): V1EnvVar[] {
  return deploymentOf(manifests).spec?.template.spec?.containers[0]?.env ?? [];
}

/** name → value of the controller's plain env entries. */
export function envValues(manifests: readonly Manifest[]): Record<string, string | undefined> {
  return Object.fromEntries(envOf(manifests).map((entry) => [entry.name, entry.value]));
}

/** "Kind group resource verb" lines of every Role and ClusterRole, sorted. */
export function grantsOf(manifests: readonly Manifest[]): string[] {
  return manifests
    .filter((m) => m.kind === 'Role' || m.kind === 'ClusterRole')
    .flatMap((m) =>
      ((m as V1Role | V1ClusterRole).rules ?? []).flatMap((rule) =>
        (rule.apiGroups ?? []).flatMap((group) =>
          (rule.resources ?? []).flatMap((resource) => rule.verbs.map((verb) => `${m.kind ?? ''} ${group === '' ? 'core' : group} ${resource} ${verb}`)),
        ),
      ),
    )
    .sort();
}
