import test from 'ava';
import {
  AWS_ERROR_CODES,
  buildNotFoundError,
  buildResultLabel,
  classifyAwsError,
  notFoundTargetOf,
  type AwsCallContext,
} from '../../src/aws/aws-errors.ts';
import { AppError } from '../../src/shared/errors.ts';

/** An error shaped like the SDK's ServiceException (name, $fault, $metadata, __type). */
function serviceError(name: string, message: string, status: number, fault: 'client' | 'server' = 'client'): Error {
  const error = new Error(message);
  error.name = name;
  return Object.assign(error, { $fault: fault, $metadata: { httpStatusCode: status, requestId: 'req-1', attempts: 1 }, __type: name });
}

/** An error shaped like a Node system error, as the SDK's HTTP handler throws it. */
function systemError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, $metadata: { attempts: 1 } });
}

const byVersion: AwsCallContext = { api: 'GetSecretValue', region: 'eu-west-1', secretId: 'team/db', versionId: 'v-1' };
const byStage: AwsCallContext = { api: 'GetSecretValue', region: 'eu-west-1', secretId: 'team/db', stage: 'AWSPENDING' };
const describe: AwsCallContext = { api: 'DescribeSecret', region: 'eu-west-1', secretId: 'team/db' };
const ssm: AwsCallContext = { api: 'GetParametersByPath', region: 'eu-west-1', path: '/team/app' };

const table: [string, unknown, AwsCallContext, string, 'transient' | 'terminal'][] = [
  ['missing secret', serviceError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.", 400), byVersion, AWS_ERROR_CODES.secretNotFound, 'terminal'],
  ['missing secret (describe)', serviceError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.", 400), describe, AWS_ERROR_CODES.secretNotFound, 'terminal'],
  ['missing version id', serviceError('ResourceNotFoundException', "Secrets Manager can't find the specified secret value for VersionId: v-1", 400), byVersion, AWS_ERROR_CODES.versionNotFound, 'terminal'],
  ['missing stage', serviceError('ResourceNotFoundException', "Secrets Manager can't find the specified secret value for staging label: AWSPENDING", 400), byStage, AWS_ERROR_CODES.versionNotFound, 'terminal'],
  ['secret scheduled for deletion', serviceError('InvalidRequestException', "You can't perform this operation on the secret because it was marked for deletion.", 400), byVersion, AWS_ERROR_CODES.secretNotFound, 'terminal'],
  ['access denied', serviceError('AccessDeniedException', 'User: arn:aws:iam::1:role/x is not authorized', 400), byVersion, AWS_ERROR_CODES.accessDenied, 'terminal'],
  ['unknown access key', serviceError('UnrecognizedClientException', 'The security token included in the request is invalid.', 400), byVersion, AWS_ERROR_CODES.accessDenied, 'terminal'],
  ['bad signature', serviceError('InvalidSignatureException', 'Signature mismatch', 400), byVersion, AWS_ERROR_CODES.accessDenied, 'terminal'],
  ['expired token heals', serviceError('ExpiredTokenException', 'The security token included in the request is expired', 400), byVersion, AWS_ERROR_CODES.accessDenied, 'transient'],
  ['no credentials yet', Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }), byVersion, AWS_ERROR_CODES.accessDenied, 'transient'],
  ['bare 403', serviceError('Forbidden', '', 403), byVersion, AWS_ERROR_CODES.accessDenied, 'terminal'],
  ['kms decryption', serviceError('DecryptionFailure', "Secrets Manager can't decrypt the protected secret text using the provided KMS key.", 400), byVersion, AWS_ERROR_CODES.decryption, 'terminal'],
  ['ssm kms key', serviceError('InvalidKeyId', 'The query key ID is not valid.', 400), ssm, AWS_ERROR_CODES.decryption, 'terminal'],
  ['invalid parameter', serviceError('InvalidParameterException', 'bad', 400), byVersion, AWS_ERROR_CODES.invalidRequest, 'terminal'],
  ['invalid request', serviceError('InvalidRequestException', 'nope', 400), byVersion, AWS_ERROR_CODES.invalidRequest, 'terminal'],
  ['validation', serviceError('ValidationException', '1 validation error detected', 400), ssm, AWS_ERROR_CODES.invalidRequest, 'terminal'],
  ['unknown client error', serviceError('SomethingNewException', 'new', 400), byVersion, AWS_ERROR_CODES.invalidRequest, 'terminal'],
  ['throttling', serviceError('ThrottlingException', 'Rate exceeded', 400), byVersion, AWS_ERROR_CODES.throttled, 'transient'],
  ['too many requests', serviceError('TooManyRequestsException', 'slow down', 400), byVersion, AWS_ERROR_CODES.throttled, 'transient'],
  ['request limit', serviceError('RequestLimitExceeded', 'slow down', 400), byVersion, AWS_ERROR_CODES.throttled, 'transient'],
  ['http 429', serviceError('Unknown', '', 429), byVersion, AWS_ERROR_CODES.throttled, 'transient'],
  ['internal service error', serviceError('InternalServiceError', 'oops', 500, 'server'), byVersion, AWS_ERROR_CODES.unavailable, 'transient'],
  ['ssm internal error', serviceError('InternalServerError', 'oops', 500, 'server'), ssm, AWS_ERROR_CODES.unavailable, 'transient'],
  ['http 503', serviceError('Unknown', 'UnknownError', 503, 'server'), byVersion, AWS_ERROR_CODES.unavailable, 'transient'],
  ['server fault without status', Object.assign(new Error('x'), { name: 'Weird', $fault: 'server' }), byVersion, AWS_ERROR_CODES.unavailable, 'transient'],
  ['connection refused', systemError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1'), byVersion, AWS_ERROR_CODES.unavailable, 'transient'],
  ['connection reset', systemError('ECONNRESET', 'socket hang up'), byVersion, AWS_ERROR_CODES.unavailable, 'transient'],
  ['timeout', Object.assign(new Error('no answer within 10 ms'), { name: 'TimeoutError' }), byVersion, AWS_ERROR_CODES.unavailable, 'transient'],
  ['aborted', Object.assign(new Error('This operation was aborted'), { name: 'AbortError' }), byVersion, AWS_ERROR_CODES.unavailable, 'transient'],
  ['a string thrown', 'boom', byVersion, AWS_ERROR_CODES.unavailable, 'transient'],
];

for (const [title, error, context, code, kind] of table) {
  test(`classifies ${title} as ${code} (${kind})`, (t) => {
    const classified = classifyAwsError(error, context);
    t.true(classified instanceof AppError);
    t.is(classified.code, code);
    t.is(classified.kind, kind);
  });
}

test('details carry the request names and AWS facts, and the message is ours', (t) => {
  const error = serviceError('AccessDeniedException', 'AWS says: not authorized for team/db', 400);
  const classified = classifyAwsError(error, byVersion);
  t.deepEqual(classified.details, {
    api: 'GetSecretValue',
    region: 'eu-west-1',
    secretId: 'team/db',
    versionId: 'v-1',
    awsCode: 'AccessDeniedException',
    httpStatus: 400,
    requestId: 'req-1',
  });
  t.is(classified.message, 'AWS denied GetSecretValue on secret "team/db" in eu-west-1 (AccessDeniedException, HTTP 400)');
  t.false(classified.message.includes('AWS says'), 'the AWS message stays in the cause');
  const cause = classified.cause as Error & { $response?: unknown };
  t.is(cause.message, 'AWS says: not authorized for team/db');
  t.is(cause.name, 'AccessDeniedException');
  t.false('$metadata' in cause);
});

test('messages name the missing thing', (t) => {
  t.is(
    classifyAwsError(serviceError('ResourceNotFoundException', "can't find the specified secret value for VersionId: v-1", 400), byVersion).message,
    'secret "team/db" in eu-west-1 has no version "v-1"',
  );
  t.is(
    classifyAwsError(serviceError('ResourceNotFoundException', "can't find the specified secret.", 400), byStage, { notFound: 'version' }).message,
    'secret "team/db" in eu-west-1 has no version labelled "AWSPENDING"',
  );
  t.regex(classifyAwsError(serviceError('ThrottlingException', 'Rate exceeded', 400), ssm).message, /^AWS throttled GetParametersByPath on parameters under "\/team\/app" in eu-west-1/);
});

test('an ambiguous not-found follows the DescribeSecret verdict when one is given', (t) => {
  const ambiguous = serviceError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.", 400);
  t.is(notFoundTargetOf(ambiguous), 'unknown');
  t.is(classifyAwsError(ambiguous, byStage).code, AWS_ERROR_CODES.secretNotFound);
  t.is(classifyAwsError(ambiguous, byStage, { notFound: 'version' }).code, AWS_ERROR_CODES.versionNotFound);
  t.is(classifyAwsError(ambiguous, byStage, { notFound: 'secret' }).code, AWS_ERROR_CODES.secretNotFound);
});

test('an AppError passes through unchanged', (t) => {
  const original = new AppError('ERR_AWS_THROTTLED', 'x', { kind: 'transient' });
  t.is(classifyAwsError(original, byVersion), original);
});

test('result labels for the calls metric', (t) => {
  t.is(buildResultLabel(AWS_ERROR_CODES.throttled), 'throttled');
  t.is(buildResultLabel(AWS_ERROR_CODES.secretNotFound), 'not_found');
  t.is(buildResultLabel(AWS_ERROR_CODES.versionNotFound), 'not_found');
  t.is(buildResultLabel(AWS_ERROR_CODES.accessDenied), 'denied');
  t.is(buildResultLabel(AWS_ERROR_CODES.unavailable), 'error');
  t.is(buildResultLabel(AWS_ERROR_CODES.decryption), 'error');
});

test('not-found errors built from an answer', (t) => {
  const deleted = buildNotFoundError(describe, 'secret', true);
  t.is(deleted.code, AWS_ERROR_CODES.secretNotFound);
  t.is(deleted.kind, 'terminal');
  t.is(deleted.message, 'secret "team/db" in eu-west-1 is scheduled for deletion');
  const noCurrent = buildNotFoundError({ ...describe, stage: 'AWSCURRENT' }, 'version');
  t.is(noCurrent.code, AWS_ERROR_CODES.versionNotFound);
  t.is(noCurrent.message, 'secret "team/db" in eu-west-1 has no version labelled "AWSCURRENT"');
});
