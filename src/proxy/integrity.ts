/**
 * The container check: the request's uid must be one of the pod's wrapped containers (a key of the
 * webhook's `piggysec.com/piggy-uid` annotation) and its signature must equal the one recorded there.
 * Fixes Piggy's bypass: a missing entry never compares equal to an empty signature; an empty or
 * unknown signature never passes. `piggy-enforce-integrity: "false"` relaxes only the signature, the
 * uid must still be one of the pod's. Pure.
 */
import { timingSafeEqual } from 'node:crypto';
import { PIGGY_UID_ANNOTATION, parsePiggyUids } from '../shared/injection-contract.ts';
import { buildRefusal, PROXY_ERRORS, type Refusal } from './errors.ts';

export interface IntegrityInput {
  /** The pod's live annotations. */
  readonly annotations: Readonly<Record<string, string>>;
  readonly enforceIntegrity: boolean;
  readonly uid: string;
  readonly signature: string;
}

function isSameText(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

export function checkIntegrity(input: IntegrityInput): Refusal | undefined {
  const recorded = parsePiggyUids(input.annotations[PIGGY_UID_ANNOTATION]);
  if (recorded === undefined) {
    return buildRefusal(PROXY_ERRORS.integrity, `the pod has no valid ${PIGGY_UID_ANNOTATION} annotation (was it mutated by the piggy webhook?)`);
  }
  if (!Object.hasOwn(recorded, input.uid)) return buildRefusal(PROXY_ERRORS.integrity, 'the uid is not one of the pod\'s containers');
  return checkSignature(recorded[input.uid] ?? '', input.signature, input.enforceIntegrity);
}

/** The request's signature against the recorded one; an empty one on either side never matches. */
export function checkSignature(expected: string, signature: string, enforceIntegrity: boolean): Refusal | undefined {
  if (!enforceIntegrity) return undefined;
  if (expected === '' || signature === '' || !isSameText(expected, signature.toLowerCase())) {
    return buildRefusal(PROXY_ERRORS.integrity, 'the command signature does not match the one recorded for this container');
  }
  return undefined;
}
