/**
 * What /secret trusts about the calling container: the record admission wrote into its env
 * (PIGGY_ADMISSION, src/shared/admission-record.ts), found by PIGGY_UID among the pod's init and app
 * containers. A container's env cannot change after the pod is created, so patching the pod's
 * `piggysec.com/*` annotations afterwards redirects nothing. Pure.
 *
 * A container without a record was admitted by an older piggy (or by none): refused, unless
 * PROXY_ACCEPT_LEGACY_PODS is on, in which case its live annotations are read as before (the
 * chart's ValidatingAdmissionPolicy keeps them from being changed after creation).
 */
import { parsePodConfig, type AnnotationDefaults } from '../config/annotations.ts';
import type { PodSnapshot } from '../kube/pod-reader.ts';
import { buildSecretTarget, parseAdmissionRecord, type AdmissionRecord } from '../shared/admission-record.ts';
import { LAUNCHER_ENV } from '../shared/injection-contract.ts';
import { buildRefusal, PROXY_ERRORS, type Refusal } from './errors.ts';
import { checkIntegrity, checkSignature } from './integrity.ts';

export type AdmittedResult =
  | { readonly ok: true; readonly record: AdmissionRecord; readonly legacy: boolean }
  | { readonly ok: false; readonly refusal: Refusal };

export interface AdmittedOptions {
  readonly acceptLegacyPods: boolean;
  /** Controller-wide annotation defaults (the legacy path parses annotations with them). */
  readonly defaults: AnnotationDefaults;
}

const refuse = (code: (typeof PROXY_ERRORS)[keyof typeof PROXY_ERRORS], message: string): AdmittedResult => ({ ok: false, refusal: buildRefusal(code, message) });

/** The container's admitted configuration after the signature check, or why not. */
export function planAdmittedConfig(pod: PodSnapshot, request: { readonly uid: string; readonly signature: string }, options: AdmittedOptions): AdmittedResult {
  const matches = pod.containers.filter((container) => container.env[LAUNCHER_ENV.uid] === request.uid);
  if (matches.length > 1) return refuse(PROXY_ERRORS.integrity, 'more than one container of the pod carries this uid');
  const container = matches[0];
  const record = parseAdmissionRecord(container?.env[LAUNCHER_ENV.admission]);
  if (container !== undefined && record !== undefined) {
    if (record.uid !== request.uid) return refuse(PROXY_ERRORS.integrity, 'the admission record of this container names another uid');
    const mismatch = checkSignature(record.signature, request.signature, record.enforceIntegrity);
    return mismatch === undefined ? { ok: true, record, legacy: false } : { ok: false, refusal: mismatch };
  }
  if (options.acceptLegacyPods) return planLegacyConfig(pod, request, options.defaults);
  if (container === undefined) return refuse(PROXY_ERRORS.integrity, "the uid is not one of the pod's containers");
  return refuse(
    PROXY_ERRORS.notAdmitted,
    `container "${container.name}" carries no valid ${LAUNCHER_ENV.admission} record (admitted by an older piggy, or not by the piggy webhook): re-create the pod, or set PROXY_ACCEPT_LEGACY_PODS=true while migrating`,
  );
}

/** Pods admitted before the record existed: the live annotations, as piggy read them then. */
function planLegacyConfig(pod: PodSnapshot, request: { readonly uid: string; readonly signature: string }, defaults: AnnotationDefaults): AdmittedResult {
  const parsed = parsePodConfig(pod.annotations, defaults, { namespace: pod.namespace });
  // With unreadable annotations the signature is checked strictly, before anything else is said.
  const integrity = checkIntegrity({ annotations: pod.annotations, enforceIntegrity: parsed.ok ? parsed.config.enforceIntegrity : true, uid: request.uid, signature: request.signature });
  if (integrity !== undefined) return { ok: false, refusal: integrity };
  if (!parsed.ok) {
    const problems = parsed.issues.map((issue) => `${issue.annotation}: ${issue.problem}`).join('; ');
    return refuse(PROXY_ERRORS.podConfig, `the pod's annotations are invalid: ${problems}`);
  }
  const { config } = parsed;
  const record: AdmissionRecord = {
    uid: request.uid,
    signature: '',
    target: buildSecretTarget(config, pod.namespace, pod.serviceAccountName),
    enforceIntegrity: config.enforceIntegrity,
    enforceServiceAccount: config.enforceServiceAccount,
  };
  return { ok: true, record, legacy: true };
}
