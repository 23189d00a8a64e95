/**
 * The /secret endpoint's refusals: a stable code, its HTTP status and a message written here (never
 * copied from AWS or the API server, never a value). Messages to a caller whose token was not accepted
 * name nothing: no pod, no service account, no secret.
 */
import { AWS_ERROR_CODES } from '../aws/aws-errors.ts';
import { isAppError } from '../shared/errors.ts';

export const PROXY_ERRORS = {
  methodNotAllowed: 'ERR_PROXY_METHOD_NOT_ALLOWED',
  unsupportedMediaType: 'ERR_PROXY_UNSUPPORTED_MEDIA_TYPE',
  bodyTooLarge: 'ERR_PROXY_BODY_TOO_LARGE',
  badRequest: 'ERR_PROXY_BAD_REQUEST',
  unauthenticated: 'ERR_PROXY_UNAUTHENTICATED',
  tokenAudience: 'ERR_PROXY_TOKEN_AUDIENCE',
  tokenNotBound: 'ERR_PROXY_TOKEN_NOT_BOUND',
  podMismatch: 'ERR_PROXY_POD_MISMATCH',
  integrity: 'ERR_PROXY_INTEGRITY',
  notAdmitted: 'ERR_PROXY_NOT_ADMITTED',
  podConfig: 'ERR_PROXY_POD_CONFIG',
  policyDenied: 'ERR_PROXY_POLICY_DENIED',
  serviceAccountNotAllowed: 'ERR_PROXY_SA_NOT_ALLOWED',
  awsDenied: 'ERR_PROXY_AWS_DENIED',
  secretNotFound: 'ERR_PROXY_SECRET_NOT_FOUND',
  versionNotFound: 'ERR_PROXY_VERSION_NOT_FOUND',
  secretFormat: 'ERR_PROXY_SECRET_FORMAT',
  busy: 'ERR_PROXY_BUSY',
  throttled: 'ERR_PROXY_THROTTLED',
  awsFailed: 'ERR_PROXY_AWS_FAILED',
  unavailable: 'ERR_PROXY_UNAVAILABLE',
  internal: 'ERR_PROXY_INTERNAL',
} as const;

export type ProxyErrorCode = (typeof PROXY_ERRORS)[keyof typeof PROXY_ERRORS];

export const PROXY_STATUS: Readonly<Record<ProxyErrorCode, number>> = {
  ERR_PROXY_METHOD_NOT_ALLOWED: 405,
  ERR_PROXY_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_PROXY_BODY_TOO_LARGE: 413,
  ERR_PROXY_BAD_REQUEST: 400,
  ERR_PROXY_UNAUTHENTICATED: 401,
  ERR_PROXY_TOKEN_AUDIENCE: 401,
  ERR_PROXY_TOKEN_NOT_BOUND: 403,
  ERR_PROXY_POD_MISMATCH: 403,
  ERR_PROXY_INTEGRITY: 403,
  ERR_PROXY_NOT_ADMITTED: 403,
  ERR_PROXY_POD_CONFIG: 400,
  ERR_PROXY_POLICY_DENIED: 403,
  ERR_PROXY_SA_NOT_ALLOWED: 403,
  ERR_PROXY_AWS_DENIED: 403,
  ERR_PROXY_SECRET_NOT_FOUND: 404,
  ERR_PROXY_VERSION_NOT_FOUND: 404,
  ERR_PROXY_SECRET_FORMAT: 422,
  ERR_PROXY_BUSY: 429,
  ERR_PROXY_THROTTLED: 429,
  ERR_PROXY_AWS_FAILED: 502,
  ERR_PROXY_UNAVAILABLE: 503,
  ERR_PROXY_INTERNAL: 500,
};

/** A refused request: what the caller gets (`{code, message}`), with its status. */
export interface Refusal {
  readonly code: ProxyErrorCode;
  readonly status: number;
  readonly message: string;
  /** Seconds for the Retry-After header (429, 503). */
  readonly retryAfterSeconds?: number;
}

const RETRY_AFTER: Partial<Record<ProxyErrorCode, number>> = {
  ERR_PROXY_BUSY: 1,
  ERR_PROXY_THROTTLED: 2,
  ERR_PROXY_UNAVAILABLE: 5,
};

export function buildRefusal(code: ProxyErrorCode, message: string): Refusal {
  const retryAfterSeconds = RETRY_AFTER[code];
  return { code, status: PROXY_STATUS[code], message, ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }) };
}

/** The metrics label of an outcome: `ok`, or the code without its prefix in lower case (`integrity`). */
export function buildResultLabel(code: ProxyErrorCode | undefined): string {
  return code === undefined ? 'ok' : code.slice('ERR_PROXY_'.length).toLowerCase();
}

/** Every result label, so the counters exist at 0 from the start. */
export const RESULT_LABELS: readonly string[] = ['ok', ...Object.values(PROXY_ERRORS).map(buildResultLabel)];

/**
 * A failed AWS read (an AppError of the secret source) as a refusal. `what` names the secret or path
 * (the caller is authenticated and bound to a pod whose annotations name it).
 */
export function planAwsRefusal(error: unknown, what: string): Refusal {
  const code = isAppError(error) ? error.code : undefined;
  switch (code) {
    case AWS_ERROR_CODES.secretNotFound:
      return buildRefusal(PROXY_ERRORS.secretNotFound, `${what} was not found`);
    case AWS_ERROR_CODES.versionNotFound:
      return buildRefusal(PROXY_ERRORS.versionNotFound, `${what} has no such version`);
    case AWS_ERROR_CODES.accessDenied:
      return isAppError(error) && error.kind === 'transient'
        ? buildRefusal(PROXY_ERRORS.unavailable, 'the controller\'s AWS credentials are being renewed; retry later')
        : buildRefusal(PROXY_ERRORS.awsDenied, `the controller's AWS role may not read ${what}`);
    case AWS_ERROR_CODES.throttled:
      return buildRefusal(PROXY_ERRORS.throttled, 'AWS is throttling the controller; retry later');
    case AWS_ERROR_CODES.decryption:
      return buildRefusal(PROXY_ERRORS.awsFailed, `${what} could not be decrypted with its KMS key`);
    case AWS_ERROR_CODES.invalidRequest:
      return buildRefusal(PROXY_ERRORS.awsFailed, `AWS rejected the request for ${what} as invalid`);
    case AWS_ERROR_CODES.unavailable:
      return buildRefusal(PROXY_ERRORS.unavailable, 'AWS did not answer; retry later');
    default:
      return buildRefusal(PROXY_ERRORS.internal, 'internal error (see the controller log)');
  }
}

/** A failed API-server call (token review, pod read) as a refusal; never names anything. */
export function planKubeRefusal(error: unknown): Refusal {
  if (!isAppError(error)) return buildRefusal(PROXY_ERRORS.internal, 'internal error (see the controller log)');
  const status = error.details.status;
  if (status === 429) return buildRefusal(PROXY_ERRORS.throttled, 'the Kubernetes API server is throttling the controller; retry later');
  return buildRefusal(PROXY_ERRORS.unavailable, 'the Kubernetes API server could not be asked; retry later');
}
