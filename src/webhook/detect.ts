/**
 * Which containers reference `piggy:` values: literal `env[].value`, `env[].valueFrom`
 * (configMapKeyRef / secretKeyRef) and `envFrom` (configMapRef / secretRef). Referenced objects are
 * read through the API by a LookupRef the caller passes in; this module only plans and concludes.
 */
import { isPiggyReference } from '../shared/injection-contract.ts';
import type { Container } from './pod.ts';

export type RefKind = 'ConfigMap' | 'Secret';

export interface ObjectRef {
  readonly kind: RefKind;
  readonly name: string;
}

/**
 * Reads a ConfigMap's `data` or a Secret's `data` in `namespace` and returns the keys whose value
 * starts with `piggy:` (never the values); undefined when the object does not exist. Other
 * failures throw.
 */
export type LookupRef = (kind: RefKind, namespace: string, name: string) => Promise<ReadonlySet<string> | undefined>;

/** Lookup results keyed by refId. */
export type RefFacts = ReadonlyMap<string, ReadonlySet<string> | undefined>;

export const refId = (ref: ObjectRef): string => `${ref.kind}/${ref.name}`;

export type DetectionPath = 'env' | 'valueFrom' | 'envFrom';

export interface Detection {
  /** Env var names whose value is (or will be) a `piggy:` reference, by where they were found. */
  readonly found: Readonly<Record<DetectionPath, readonly string[]>>;
  /** Referenced ConfigMaps/Secrets that do not exist (the kubelet decides what that means). */
  readonly missing: readonly string[];
}

/** Env var names with a literal `piggy:` value. */
export function detectLiteralReferences(container: Container): string[] {
  return (container.env ?? []).filter((item) => isPiggyReference(item.value)).map((item) => item.name);
}

/** The ConfigMaps and Secrets a container's env draws from. */
export function planRefs(container: Container): ObjectRef[] {
  const refs: ObjectRef[] = [];
  for (const item of container.env ?? []) {
    const configMap = item.valueFrom?.configMapKeyRef?.name;
    const secret = item.valueFrom?.secretKeyRef?.name;
    if (configMap) refs.push({ kind: 'ConfigMap', name: configMap });
    if (secret) refs.push({ kind: 'Secret', name: secret });
  }
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef?.name) refs.push({ kind: 'ConfigMap', name: source.configMapRef.name });
    if (source.secretRef?.name) refs.push({ kind: 'Secret', name: source.secretRef.name });
  }
  return refs;
}

/** Every distinct ref, in first-seen order. */
export function uniqueRefs(refs: readonly ObjectRef[]): ObjectRef[] {
  const seen = new Map<string, ObjectRef>();
  for (const ref of refs) if (!seen.has(refId(ref))) seen.set(refId(ref), ref);
  return [...seen.values()];
}

export function detectReferences(container: Container, facts: RefFacts): Detection {
  const missing = new Set<string>();
  const keysOf = (ref: ObjectRef): ReadonlySet<string> => {
    const keys = facts.get(refId(ref));
    if (keys === undefined) missing.add(refId(ref));
    return keys ?? new Set();
  };
  const valueFrom: string[] = [];
  for (const item of container.env ?? []) {
    const configMap = item.valueFrom?.configMapKeyRef;
    const secret = item.valueFrom?.secretKeyRef;
    const ref = configMap?.name ? { kind: 'ConfigMap' as const, name: configMap.name, key: configMap.key } : secret?.name ? { kind: 'Secret' as const, name: secret.name, key: secret.key } : undefined;
    if (ref !== undefined && keysOf(ref).has(ref.key)) valueFrom.push(item.name);
  }
  const envFrom: string[] = [];
  for (const source of container.envFrom ?? []) {
    const ref = source.configMapRef?.name ? { kind: 'ConfigMap' as const, name: source.configMapRef.name } : source.secretRef?.name ? { kind: 'Secret' as const, name: source.secretRef.name } : undefined;
    if (ref !== undefined) for (const key of keysOf(ref)) envFrom.push(`${source.prefix ?? ''}${key}`);
  }
  return { found: { env: detectLiteralReferences(container), valueFrom, envFrom }, missing: [...missing] };
}

export function hasReferences(detection: Detection): boolean {
  return Object.values(detection.found).some((names) => names.length > 0);
}
