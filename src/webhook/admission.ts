/**
 * AdmissionReview `admission.k8s.io/v1`: parsing untrusted review bodies and building answers.
 * Every answer is an AdmissionReview; nothing here throws.
 */
export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

export interface GroupVersionKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

export interface GroupVersionResource {
  readonly group: string;
  readonly version: string;
  readonly resource: string;
}

export interface AdmissionRequest {
  readonly uid: string;
  readonly kind: GroupVersionKind;
  readonly resource: GroupVersionResource;
  readonly subResource?: string;
  readonly name?: string;
  readonly namespace?: string;
  readonly operation: string;
  readonly object?: unknown;
  readonly dryRun?: boolean;
}

export interface AdmissionStatus {
  readonly code: number;
  readonly message: string;
  readonly reason?: string;
  readonly status: 'Failure';
}

export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly status?: AdmissionStatus;
  readonly patchType?: 'JSONPatch';
  /** base64 of the RFC 6902 JSON patch. */
  readonly patch?: string;
  readonly warnings?: readonly string[];
}

export interface AdmissionReview {
  readonly apiVersion: typeof ADMISSION_API_VERSION;
  readonly kind: 'AdmissionReview';
  readonly response: AdmissionResponse;
}

export type ParsedReview =
  | { readonly ok: true; readonly request: AdmissionRequest }
  | { readonly ok: false; readonly uid: string; readonly message: string };

/** Largest AdmissionReview body accepted (the API server's own limit for objects is 3 MiB; pods are far smaller). */
export const MAX_REVIEW_BYTES = 1024 * 1024;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isString = (value: unknown): value is string => typeof value === 'string';

/** Reads a body (raw bytes, text or an already-parsed value) as an AdmissionReview v1 with a request. */
export function parseAdmissionReview(body: unknown): ParsedReview {
  let value: unknown = body;
  if (Buffer.isBuffer(body) || typeof body === 'string') {
    const text = Buffer.isBuffer(body) ? body.toString('utf8') : body;
    if (text.trim() === '') return { ok: false, uid: '', message: 'the request body is empty: expected an AdmissionReview' };
    try {
      value = JSON.parse(text);
    } catch {
      return { ok: false, uid: '', message: 'the request body is not valid JSON: expected an AdmissionReview' };
    }
  }
  if (!isObject(value)) return { ok: false, uid: '', message: 'the request body is not a JSON object: expected an AdmissionReview' };
  const request = value.request;
  const uid = isObject(request) && isString(request.uid) ? request.uid : '';
  if (value.kind !== 'AdmissionReview') return { ok: false, uid, message: 'expected kind AdmissionReview' };
  if (value.apiVersion !== ADMISSION_API_VERSION) {
    return { ok: false, uid, message: `unsupported apiVersion: only ${ADMISSION_API_VERSION} is served (set admissionReviewVersions: ["v1"])` };
  }
  if (!isObject(request)) return { ok: false, uid, message: 'the AdmissionReview has no request' };
  if (uid === '') return { ok: false, uid, message: 'the AdmissionReview request has no uid' };
  const kind = request.kind;
  const resource = request.resource;
  if (!isObject(kind) || !isString(kind.kind) || !isString(kind.version)) return { ok: false, uid, message: 'request.kind is missing or malformed' };
  if (!isObject(resource) || !isString(resource.resource) || !isString(resource.version)) {
    return { ok: false, uid, message: 'request.resource is missing or malformed' };
  }
  if (!isString(request.operation)) return { ok: false, uid, message: 'request.operation is missing' };
  return {
    ok: true,
    request: {
      uid,
      kind: { group: isString(kind.group) ? kind.group : '', version: kind.version, kind: kind.kind },
      resource: { group: isString(resource.group) ? resource.group : '', version: resource.version, resource: resource.resource },
      ...(isString(request.subResource) && request.subResource !== '' ? { subResource: request.subResource } : {}),
      ...(isString(request.name) ? { name: request.name } : {}),
      ...(isString(request.namespace) ? { namespace: request.namespace } : {}),
      operation: request.operation,
      object: request.object,
      dryRun: request.dryRun === true,
    },
  };
}

function review(response: AdmissionResponse): AdmissionReview {
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response };
}

/** Warnings shown by kubectl: at most 120 characters each, no newlines (Kubernetes' guidance). */
function cleanWarnings(warnings: readonly string[]): string[] {
  return warnings.map((warning) => {
    const flat = warning.replace(/\s+/g, ' ').trim();
    return flat.length > 120 ? `${flat.slice(0, 117)}...` : flat;
  });
}

export function buildAllowed(uid: string, patch?: readonly unknown[], warnings: readonly string[] = []): AdmissionReview {
  const withPatch = patch !== undefined && patch.length > 0;
  return review({
    uid,
    allowed: true,
    ...(withPatch ? { patchType: 'JSONPatch' as const, patch: Buffer.from(JSON.stringify(patch)).toString('base64') } : {}),
    ...(warnings.length > 0 ? { warnings: cleanWarnings(warnings) } : {}),
  });
}

export function buildDenied(uid: string, code: number, message: string, reason?: string): AdmissionReview {
  return review({ uid, allowed: false, status: { code, message, status: 'Failure', ...(reason === undefined ? {} : { reason }) } });
}
