import { canonicalJson } from '../shared/canonical-json.ts';
import type { AWSSecretStatus, Condition } from './awssecret.ts';

export interface ConditionInput {
  readonly type: string;
  readonly status: Condition['status'];
  readonly reason: string;
  readonly message: string;
}

/**
 * Sets a condition, keeping lastTransitionTime when the status does not change (the Kubernetes
 * convention), and keeping every other condition as it was.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  input: ConditionInput,
  generation: number | undefined,
  now: Date,
): Condition[] {
  const existing = (conditions ?? []).find((condition) => condition.type === input.type);
  const transitioned = existing === undefined || existing.status !== input.status;
  const next: Condition = {
    type: input.type,
    status: input.status,
    reason: input.reason,
    message: input.message,
    lastTransitionTime: transitioned ? now.toISOString() : existing.lastTransitionTime,
    ...(generation === undefined ? {} : { observedGeneration: generation }),
  };
  const others = (conditions ?? []).filter((condition) => condition.type !== input.type);
  return [...others, next].sort((a, b) => a.type.localeCompare(b.type));
}

export function findCondition(status: AWSSecretStatus | undefined, type: string): Condition | undefined {
  return status?.conditions?.find((condition) => condition.type === type);
}

/** Deep equality of two statuses, conditions compared regardless of order. */
export function isStatusEqual(a: AWSSecretStatus | undefined, b: AWSSecretStatus | undefined): boolean {
  const normalise = (status: AWSSecretStatus | undefined): string =>
    canonicalJson({ ...status, conditions: [...(status?.conditions ?? [])].sort((x, y) => x.type.localeCompare(y.type)) });
  return normalise(a) === normalise(b);
}
