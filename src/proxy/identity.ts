/**
 * Who is calling: a service-account token bound to a pod (the kubelet's projected token carries the
 * pod's name and uid as claims, which TokenReview returns in `user.extra`), and the pod it names must
 * be that pod, with that uid and that service account. Pure.
 */
import type { PodSnapshot } from '../kube/pod-reader.ts';
import type { TokenReviewResult } from '../kube/token-review.ts';
import { buildRefusal, PROXY_ERRORS, type Refusal } from './errors.ts';

export const POD_NAME_CLAIM = 'authentication.kubernetes.io/pod-name';
export const POD_UID_CLAIM = 'authentication.kubernetes.io/pod-uid';
const SERVICE_ACCOUNT_USER = /^system:serviceaccount:([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/;

/** The caller, proven by its token. */
export interface CallerIdentity {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly podName: string;
  readonly podUid: string;
}

export type IdentityResult = { readonly ok: true; readonly identity: CallerIdentity } | { readonly ok: false; readonly refusal: Refusal };

/** 401 for a token the API server did not accept: the message names nothing. */
export function buildUnauthenticated(): Refusal {
  return buildRefusal(PROXY_ERRORS.unauthenticated, 'the X-Token header is missing or the token was not accepted');
}

/**
 * 401 for a token of another audience, typically the pod's automounted one: says what /secret wants
 * (piggy's audience is configuration, not a secret) and what to do, names nothing of the caller.
 */
export function buildWrongAudience(audiences: readonly string[]): Refusal {
  const wanted = audiences.length === 0 ? "piggy's audience" : `audience ${audiences.join(' or ')}`;
  return buildRefusal(
    PROXY_ERRORS.tokenAudience,
    `the token is not issued for ${wanted}: /secret does not accept the automounted service-account token; ` +
      'send the projected token the piggy webhook mounts (PIGGY_TOKEN_FILE): re-create pods admitted by an older piggy, or set PROXY_ACCEPT_LEGACY_PODS=true while migrating',
  );
}

function single(values: readonly string[] | undefined): string | undefined {
  return values?.length === 1 && values[0] !== '' ? values[0] : undefined;
}

/**
 * From a TokenReview answer and the pod the request names: the caller's identity, or why not.
 * Not a service account (a user, a node): 403. A service-account token without pod claims (a legacy
 * Secret-based token, or a TokenRequest not bound to a pod): 403. Bound to another pod: 403.
 */
export function planCallerIdentity(review: TokenReviewResult, requestedPod: string, audiences: readonly string[] = []): IdentityResult {
  if (!review.authenticated && review.wrongAudience === true) return { ok: false, refusal: buildWrongAudience(audiences) };
  if (!review.authenticated || review.user === undefined) return { ok: false, refusal: buildUnauthenticated() };
  const match = SERVICE_ACCOUNT_USER.exec(review.user.username);
  if (match === null) {
    return { ok: false, refusal: buildRefusal(PROXY_ERRORS.tokenNotBound, 'the token is not a service-account token') };
  }
  const namespace = match[1] ?? '';
  const serviceAccount = match[3] ?? '';
  const podName = single(review.user.extra[POD_NAME_CLAIM]);
  const podUid = single(review.user.extra[POD_UID_CLAIM]);
  if (podName === undefined || podUid === undefined) {
    return {
      ok: false,
      refusal: buildRefusal(PROXY_ERRORS.tokenNotBound, `the token of ${namespace}:${serviceAccount} is not bound to a pod (use the pod's projected service-account token)`),
    };
  }
  if (podName !== requestedPod) {
    return { ok: false, refusal: buildRefusal(PROXY_ERRORS.podMismatch, `the token is bound to another pod than ${namespace}/${requestedPod}`) };
  }
  return { ok: true, identity: { namespace, serviceAccount, podName, podUid } };
}

/**
 * The pod as it is now must be the one the token was issued for: it exists, has the token's pod uid
 * (not a re-created pod of the same name) and runs as the token's service account.
 */
export function checkPodBinding(identity: CallerIdentity, pod: PodSnapshot | undefined): Refusal | undefined {
  const where = `${identity.namespace}/${identity.podName}`;
  if (pod === undefined) return buildRefusal(PROXY_ERRORS.podMismatch, `pod ${where} does not exist`);
  if (pod.uid !== identity.podUid) return buildRefusal(PROXY_ERRORS.podMismatch, `pod ${where} is not the pod the token was issued for`);
  if (pod.serviceAccountName !== identity.serviceAccount) {
    return buildRefusal(
      PROXY_ERRORS.podMismatch,
      `pod ${where} runs as service account "${pod.serviceAccountName}", the token is of "${identity.serviceAccount}"`,
    );
  }
  return undefined;
}
