/** The parts of a Pod the webhook reads and writes, as plain JSON objects. Pure helpers. */
import type { V1Container, V1EnvVar, V1Pod, V1PodSpec, V1SecurityContext, V1Volume } from '@kubernetes/client-node';

/** The client's model classes as the plain JSON they describe (timestamps are strings on the wire). */
export type Plain<T> = T extends readonly (infer U)[] ? Plain<U>[] : T extends Date ? string : T extends object ? { [K in keyof T]: Plain<T[K]> } : T;

export type Pod = Plain<V1Pod>;
export type Container = Plain<V1Container>;
export type EnvVar = Plain<V1EnvVar>;
export type PodSpec = Plain<V1PodSpec>;
export type SecurityContext = Plain<V1SecurityContext>;
export type Volume = Plain<V1Volume>;

/** Ephemeral containers are never touched: they are added through a subresource, never on CREATE. */
export type ContainerKind = 'initContainers' | 'containers';

export interface ContainerSlot {
  readonly kind: ContainerKind;
  readonly index: number;
  readonly container: Container;
  /** `initContainers/<name>` or `containers/<name>`: stable across the pipeline. */
  readonly key: string;
}

export const containerKey = (kind: ContainerKind, name: string): string => `${kind}/${name}`;

/** Init containers first (they run first), then app containers. */
export function listContainers(pod: Pod): ContainerSlot[] {
  const slots: ContainerSlot[] = [];
  for (const kind of ['initContainers', 'containers'] as const) {
    (pod.spec?.[kind] ?? []).forEach((container, index) => {
      slots.push({ kind, index, container, key: containerKey(kind, container.name) });
    });
  }
  return slots;
}

/** `namespace/name`, or `namespace/<generateName>*` for pods named by the API server. */
export function podDisplayName(pod: Pod, namespace: string): string {
  const name = pod.metadata?.name ?? (pod.metadata?.generateName === undefined ? '' : `${pod.metadata.generateName}*`);
  return `${namespace}/${name}`;
}

/** A JSON-only deep copy (drops undefined), so diffs compare like with like. */
export function copyJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Sets an env var in place when it exists with another value, appends it when missing. */
export function upsertEnv(container: Container, wanted: EnvVar): void {
  const env = (container.env ??= []);
  const index = env.findIndex((item) => item.name === wanted.name);
  if (index === -1) env.push(wanted);
  else env[index] = wanted;
}

export function findEnvValue(container: Container, name: string): string | undefined {
  return container.env?.find((item) => item.name === name)?.value;
}
