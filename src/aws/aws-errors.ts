import { AppError, isAppError, type ErrorKind } from '../shared/errors.ts';

/** Stable codes of the AWS access layer (listed in the README's error table). */
export const AWS_ERROR_CODES = {
  secretNotFound: 'ERR_AWS_SECRET_NOT_FOUND',
  versionNotFound: 'ERR_AWS_VERSION_NOT_FOUND',
  accessDenied: 'ERR_AWS_ACCESS_DENIED',
  decryption: 'ERR_AWS_DECRYPTION',
  invalidRequest: 'ERR_AWS_INVALID_REQUEST',
  throttled: 'ERR_AWS_THROTTLED',
  unavailable: 'ERR_AWS_UNAVAILABLE',
} as const;

export type AwsErrorCode = (typeof AWS_ERROR_CODES)[keyof typeof AWS_ERROR_CODES];

/** What was asked of AWS: names and ids only, never a value. Copied into AppError details. */
export interface AwsCallContext {
  readonly api: string;
  readonly region: string;
  readonly secretId?: string;
  readonly versionId?: string;
  readonly stage?: string;
  readonly path?: string;
}

/**
 * Which resource a ResourceNotFoundException is about. AWS and moto both answer
 * "can't find the specified secret value for VersionId: …" / "… for staging label: …" when the secret
 * exists but the version does not, and "can't find the specified secret." otherwise; moto also uses
 * the latter for a missing staging label, so 'unknown' means: ask DescribeSecret (the secret source
 * does that, on this error path only).
 */
export type NotFoundTarget = 'secret' | 'version' | 'unknown';

export interface ClassifyOptions {
  /** Settles an ambiguous ResourceNotFoundException (from a DescribeSecret follow-up). */
  readonly notFound?: 'secret' | 'version';
}

const THROTTLED = new Set([
  'ThrottlingException', 'Throttling', 'ThrottledException', 'TooManyRequestsException', 'RequestLimitExceeded',
  'RequestThrottled', 'RequestThrottledException', 'SlowDown', 'ProvisionedThroughputExceededException',
  'BandwidthLimitExceeded',
]);
const DENIED = new Set([
  'AccessDeniedException', 'AccessDenied', 'UnrecognizedClientException', 'InvalidClientTokenId',
  'InvalidSignatureException', 'SignatureDoesNotMatch', 'IncompleteSignature', 'MissingAuthenticationToken',
  'MissingAuthenticationTokenException', 'NotAuthorized', 'AuthFailure', 'UnauthorizedOperation',
]);
/** Credential problems that heal by themselves (the SDK reloads credentials on the next call). */
const DENIED_TRANSIENT = new Set([
  'ExpiredToken', 'ExpiredTokenException', 'RequestExpired', 'TokenRefreshRequired', 'CredentialsProviderError',
]);
const DECRYPTION = new Set([
  'DecryptionFailure', 'DecryptionFailureException', 'InvalidKeyId', 'KMSAccessDeniedException',
  'KMSDisabledException', 'KMSInvalidStateException', 'KMSNotFoundException', 'KMSOptInRequired',
]);
const INVALID = new Set([
  'InvalidParameterException', 'InvalidRequestException', 'ValidationException', 'InvalidNextTokenException',
  'InvalidFilterKey', 'InvalidFilterOption', 'InvalidFilterValue', 'InvalidNextToken', 'SerializationException',
  'UnknownOperationException', 'MalformedQueryString', 'InvalidParameterValue', 'InvalidParameterCombination',
]);
const NOT_FOUND = new Set(['ResourceNotFoundException', 'ParameterNotFound']);
const UNAVAILABLE = new Set([
  'InternalServiceError', 'InternalServiceErrorException', 'InternalServerError', 'InternalServerException',
  'InternalFailure', 'ServiceUnavailable', 'ServiceUnavailableException', 'RequestTimeout',
  'RequestTimeoutException', 'TimeoutError', 'AbortError', 'PriorRequestNotComplete',
]);

/** The facts we read from an SDK error (a ServiceException, a Node system error or anything else). */
interface ErrorFacts {
  readonly awsCode: string;
  readonly message: string;
  readonly httpStatus: number | undefined;
  readonly requestId: string | undefined;
  readonly fault: string | undefined;
}

function readFacts(error: unknown): ErrorFacts {
  const record = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>;
  const metadata = (typeof record.$metadata === 'object' && record.$metadata !== null ? record.$metadata : {}) as Record<string, unknown>;
  const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
  const name = text(record.name);
  const systemCode = text(record.code);
  return {
    awsCode: text(record.__type)?.split('#').pop() ?? (name === 'Error' ? undefined : name) ?? systemCode ?? 'Unknown',
    message: error instanceof Error ? error.message : String(error),
    httpStatus: typeof metadata.httpStatusCode === 'number' ? metadata.httpStatusCode : undefined,
    requestId: text(metadata.requestId),
    fault: text(record.$fault),
  };
}

/** Reads which resource a not-found answer is about from its message (see NotFoundTarget). */
export function notFoundTargetOf(error: unknown): NotFoundTarget {
  const message = error instanceof Error ? error.message : '';
  if (/secret value for (VersionId|staging label)/i.test(message)) return 'version';
  return 'unknown';
}

/** True for the answer AWS gives about a secret that is scheduled for deletion. */
function isMarkedForDeletion(facts: ErrorFacts): boolean {
  return facts.awsCode === 'InvalidRequestException' && /marked\s+(for\s+)?delet/i.test(facts.message);
}

interface Verdict {
  readonly code: AwsErrorCode;
  readonly kind: ErrorKind;
}

/** The decision table: SDK error facts → code and kind. Pure; exported for the unit tests. */
export function planAwsErrorVerdict(error: unknown, context: AwsCallContext, options: ClassifyOptions = {}): Verdict {
  const facts = readFacts(error);
  const code = facts.awsCode;
  const terminal = (c: AwsErrorCode): Verdict => ({ code: c, kind: 'terminal' });
  const transient = (c: AwsErrorCode): Verdict => ({ code: c, kind: 'transient' });
  if (THROTTLED.has(code) || facts.httpStatus === 429) return transient(AWS_ERROR_CODES.throttled);
  if (NOT_FOUND.has(code)) {
    const asksVersion = context.versionId !== undefined || context.stage !== undefined;
    const target = options.notFound ?? (asksVersion ? notFoundTargetOf(error) : 'secret');
    return terminal(target === 'version' ? AWS_ERROR_CODES.versionNotFound : AWS_ERROR_CODES.secretNotFound);
  }
  if (isMarkedForDeletion(facts)) return terminal(AWS_ERROR_CODES.secretNotFound);
  if (DENIED_TRANSIENT.has(code)) return transient(AWS_ERROR_CODES.accessDenied);
  if (DENIED.has(code)) return terminal(AWS_ERROR_CODES.accessDenied);
  if (DECRYPTION.has(code)) return terminal(AWS_ERROR_CODES.decryption);
  if (INVALID.has(code)) return terminal(AWS_ERROR_CODES.invalidRequest);
  if (UNAVAILABLE.has(code)) return transient(AWS_ERROR_CODES.unavailable);
  if (facts.httpStatus !== undefined && facts.httpStatus >= 500) return transient(AWS_ERROR_CODES.unavailable);
  if (facts.fault === 'server') return transient(AWS_ERROR_CODES.unavailable);
  if (facts.httpStatus === 401 || facts.httpStatus === 403) return terminal(AWS_ERROR_CODES.accessDenied);
  if (facts.httpStatus !== undefined) return terminal(AWS_ERROR_CODES.invalidRequest);
  // No HTTP answer from AWS at all (ECONNREFUSED, ECONNRESET, ENOTFOUND, a socket hang-up, or anything
  // else we do not recognise): the transport failed; retry later.
  return transient(AWS_ERROR_CODES.unavailable);
}

function describeTarget(context: AwsCallContext): string {
  if (context.secretId !== undefined) return `secret "${context.secretId}" in ${context.region}`;
  if (context.path !== undefined) return `parameters under "${context.path}" in ${context.region}`;
  return `the request in ${context.region}`;
}

function describeVersion(context: AwsCallContext): string {
  if (context.versionId !== undefined) return `version "${context.versionId}"`;
  if (context.stage !== undefined) return `version labelled "${context.stage}"`;
  return 'such version';
}

function buildMessage(verdict: Verdict, context: AwsCallContext, facts: ErrorFacts): string {
  const target = describeTarget(context);
  const why = facts.httpStatus === undefined ? facts.awsCode : `${facts.awsCode}, HTTP ${facts.httpStatus}`;
  switch (verdict.code) {
    case AWS_ERROR_CODES.secretNotFound:
      return isMarkedForDeletion(facts) ? `${target} is scheduled for deletion` : `${target} was not found`;
    case AWS_ERROR_CODES.versionNotFound:
      return `${target} has no ${describeVersion(context)}`;
    case AWS_ERROR_CODES.accessDenied:
      return `AWS denied ${context.api} on ${target} (${why})`;
    case AWS_ERROR_CODES.decryption:
      return `${target} could not be decrypted with its KMS key (${why})`;
    case AWS_ERROR_CODES.invalidRequest:
      return `AWS rejected ${context.api} on ${target} as invalid (${why})`;
    case AWS_ERROR_CODES.throttled:
      return `AWS throttled ${context.api} on ${target} (${why}); retrying later`;
    case AWS_ERROR_CODES.unavailable:
      return `AWS did not answer ${context.api} on ${target} (${why}); retrying later`;
  }
}

/**
 * A value-free stand-in for the SDK error as `cause`: its name, AWS message and request metadata,
 * without the raw HTTP response the SDK attaches (large, and not ours to log).
 */
function buildCause(error: unknown, facts: ErrorFacts): Error {
  const cause = new Error(facts.message);
  cause.name = facts.awsCode;
  Object.assign(cause, { httpStatus: facts.httpStatus, requestId: facts.requestId });
  if (error instanceof Error && error.stack !== undefined) cause.stack = error.stack;
  return cause;
}

/**
 * Classifies any error thrown by an AWS call at the boundary. Details hold names and ids (region,
 * secretId, versionId or stage, path, api, awsCode, httpStatus, requestId), never a value; the
 * message is written here, not copied from AWS.
 */
export function classifyAwsError(error: unknown, context: AwsCallContext, options: ClassifyOptions = {}): AppError {
  if (isAppError(error)) return error;
  const facts = readFacts(error);
  const verdict = planAwsErrorVerdict(error, context, options);
  const details: Record<string, unknown> = { ...context, awsCode: facts.awsCode };
  if (facts.httpStatus !== undefined) details.httpStatus = facts.httpStatus;
  if (facts.requestId !== undefined) details.requestId = facts.requestId;
  return new AppError(verdict.code, buildMessage(verdict, context, facts), {
    kind: verdict.kind,
    cause: buildCause(error, facts),
    details,
  });
}

/** The `result` label of piggy_aws_calls_total for a classified error. */
export function buildResultLabel(code: string): 'throttled' | 'not_found' | 'denied' | 'error' {
  if (code === AWS_ERROR_CODES.throttled) return 'throttled';
  if (code === AWS_ERROR_CODES.secretNotFound || code === AWS_ERROR_CODES.versionNotFound) return 'not_found';
  if (code === AWS_ERROR_CODES.accessDenied) return 'denied';
  return 'error';
}

/** A not-found AppError for what an answer itself shows (a deleted secret, no version with a label). */
export function buildNotFoundError(context: AwsCallContext, target: 'secret' | 'version', deleted = false): AppError {
  const where = describeTarget(context);
  if (target === 'version') {
    return new AppError(AWS_ERROR_CODES.versionNotFound, `${where} has no ${describeVersion(context)}`, { details: { ...context } });
  }
  const message = deleted ? `${where} is scheduled for deletion` : `${where} was not found`;
  return new AppError(AWS_ERROR_CODES.secretNotFound, message, { details: { ...context } });
}
