/**
 * handleSecretRequest: one parsed /secret request, in order: TokenReview (piggy's audience) → token
 * bound to the named pod → the live pod (uid, service account) → the container's admission record
 * (uid, signature, which secret) → the namespace policy → the secret (shared cache) → PIGGY_ALLOWED_SA → the response. The decisions are
 * the pure functions of this folder; this file only sequences them around the three reads. Never
 * throws for an expected failure: every outcome is an answer with the facts to log (names, never
 * values, never the token).
 */
import type { SecretSource } from '../aws/secret-source.ts';
import { ANNOTATIONS, type AnnotationDefaults } from '../config/annotations.ts';
import { parseBoolean } from '../config/parse.ts';
import type { ReadPod } from '../kube/pod-reader.ts';
import type { ReviewToken } from '../kube/token-review.ts';
import type { AccessPolicy } from '../shared/access-policy.ts';
import { buildRefusal, planAwsRefusal, planKubeRefusal, PROXY_ERRORS, type Refusal } from './errors.ts';
import { planAdmittedConfig } from './admitted.ts';
import { checkPodBinding, planCallerIdentity } from './identity.ts';
import type { SecretRequest } from './request.ts';
import { buildParameterSecretMap, buildResponseBody, buildSecretMap, checkAllowedServiceAccount, type SecretMapResult } from './secret-map.ts';
import { describeTarget, planSecretSelection, type SecretTarget } from './selection.ts';

export type ProxySecretSource = Pick<SecretSource, 'fetchVersion' | 'fetchByStage' | 'fetchParametersByPath'>;

export interface ProxyHandlerDeps {
  readonly reviewToken: ReviewToken;
  readonly readPod: ReadPod;
  /** The process-wide secret source (shared cache, single flight, call budget). */
  readonly source: ProxySecretSource;
  /** Controller-wide defaults of the piggysec.com/* annotations. */
  readonly defaults: AnnotationDefaults;
  readonly policy: AccessPolicy;
  /** The audiences a token must be for (PROXY_AUDIENCES), named in the refusal of another audience. */
  readonly audiences?: readonly string[];
  /** PROXY_ACCEPT_LEGACY_PODS: containers without an admission record are judged by the live annotations. */
  readonly acceptLegacyPods?: boolean;
  readonly onTokenReview?: (source: 'api' | 'cache') => void;
}

/** Value-free facts about a request, for its one log line. */
export interface RequestFacts {
  /** The pod the request names (as claimed until the token proves it). */
  pod?: string;
  namespace?: string;
  serviceAccount?: string;
  uid?: string;
  secret?: string;
  version?: string;
  /** Number of keys returned. */
  keys?: number;
  /** Set when the request was let through by PROXY_ACCEPT_LEGACY_PODS (what it relied on). */
  legacy?: string;
}

export type Outcome =
  | { readonly ok: true; readonly body: Record<string, string>; readonly facts: RequestFacts }
  | { readonly ok: false; readonly refusal: Refusal; readonly facts: RequestFacts; readonly error?: unknown };

export async function handleSecretRequest(request: SecretRequest, token: string, deps: ProxyHandlerDeps): Promise<Outcome> {
  const facts: RequestFacts = { pod: request.name, uid: request.uid };
  const refuse = (refusal: Refusal, error?: unknown): Outcome => ({ ok: false, refusal, facts, ...(error === undefined ? {} : { error }) });

  let review;
  try {
    review = await deps.reviewToken(token);
  } catch (error) {
    return refuse(planKubeRefusal(error), error);
  }
  deps.onTokenReview?.(review.cached ? 'cache' : 'api');
  const caller = planCallerIdentity(review, request.name, deps.audiences);
  if (!caller.ok) return refuse(caller.refusal);
  const { identity } = caller;
  facts.namespace = identity.namespace;
  facts.serviceAccount = identity.serviceAccount;

  let pod;
  try {
    pod = await deps.readPod(identity.namespace, identity.podName);
  } catch (error) {
    return refuse(planKubeRefusal(error), error);
  }
  const binding = checkPodBinding(identity, pod);
  if (binding !== undefined || pod === undefined) return refuse(binding ?? buildRefusal(PROXY_ERRORS.podMismatch, 'the pod does not exist'));

  const admitted = planAdmittedConfig(pod, request, { acceptLegacyPods: deps.acceptLegacyPods === true, defaults: deps.defaults });
  if (!admitted.ok) return refuse(admitted.refusal);
  const { record } = admitted;
  const legacy = [review.defaultAudience === true ? 'token' : '', admitted.legacy ? 'annotations' : ''].filter((part) => part !== '');
  if (legacy.length > 0) facts.legacy = legacy.join(',');

  const selection = planSecretSelection(record.target, identity.namespace, deps.policy);
  if (!selection.ok) return refuse(selection.refusal);
  const { target } = selection;
  const what = describeTarget(target);
  facts.secret = target.kind === 'ssm' ? target.path : target.secretId;
  if (target.kind === 'secretsManager') facts.version = `${target.version.kind}:${target.version.value}`;

  let fetched: SecretMapResult;
  try {
    fetched = await fetchSecretMap(target, deps.source, what);
  } catch (error) {
    return refuse(planAwsRefusal(error, what), error);
  }
  if (!fetched.ok) return refuse(fetched.refusal);
  const allowed = checkAllowedServiceAccount(fetched.map, identity, record.enforceServiceAccount || isEnforcedByController(deps.defaults), what);
  if (allowed !== undefined) return refuse(allowed);

  const body = buildResponseBody(fetched.map, request.keys);
  facts.keys = Object.keys(body).length;
  return { ok: true, body, facts };
}

/** The controller-wide PIGGY_ENFORCE_SERVICE_ACCOUNT: it can only raise what admission recorded. */
function isEnforcedByController(defaults: AnnotationDefaults): boolean {
  const parsed = parseBoolean(defaults[ANNOTATIONS.enforceServiceAccount] ?? 'false');
  return parsed.ok && parsed.value;
}

async function fetchSecretMap(target: SecretTarget, source: ProxySecretSource, what: string): Promise<SecretMapResult> {
  if (target.kind === 'ssm') {
    const parameters = await source.fetchParametersByPath({ region: target.region, path: target.path });
    const map = buildParameterSecretMap(parameters);
    if (map.size === 0) return { ok: false, refusal: buildRefusal(PROXY_ERRORS.secretNotFound, `${what} holds no parameters`) };
    return { ok: true, map };
  }
  const ref = { region: target.region, secretId: target.secretId };
  const value =
    target.version.kind === 'id'
      ? await source.fetchVersion({ ...ref, versionId: target.version.value })
      : await source.fetchByStage({ ...ref, stage: target.version.value });
  return buildSecretMap(value, what);
}
