/**
 * The launcher's AWS transport: endpoints (AWS_ENDPOINT_URL and the per-service variables are
 * honoured, so tests run against an emulator), JSON 1.1 calls signed with SigV4, and the
 * classification of AWS errors (throttling and 5xx transient; the rest terminal). Messages carry
 * AWS error codes and messages, which name secrets but never hold their values.
 */
import { AppError } from '../shared/errors.ts';
import { ENV_ERRORS } from './error-codes.ts';
import type { SendHttp } from './http-request.ts';
import type { Env } from './settings.ts';
import { buildSignedHeaders, type AwsCredentials } from './sigv4.ts';
import { parseJsonObject } from '../shared/json.ts';

export const AWS_TIMEOUT_MS = 10_000;
export const AWS_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

export type AwsService = 'secretsmanager' | 'ssm' | 'sts';

/** AWS_ENDPOINT_URL_<service id> names (the SDKs' "service-specific endpoint" variables). */
const SERVICE_ENDPOINT_ENV: Readonly<Record<AwsService, string>> = {
  secretsmanager: 'AWS_ENDPOINT_URL_SECRETS_MANAGER',
  ssm: 'AWS_ENDPOINT_URL_SSM',
  sts: 'AWS_ENDPOINT_URL_STS',
};

const TRANSIENT_TYPES = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'InternalServiceError',
  'InternalServiceErrorException',
  'InternalFailure',
  'InternalError',
  'ServiceUnavailable',
  'IDPCommunicationError',
]);

/** The region of an ARN (`arn:aws:secretsmanager:eu-west-1:…`), if it is one. */
export function readArnRegion(text: string): string | undefined {
  const parts = text.split(':');
  return parts.length >= 6 && parts[0] === 'arn' && parts[3] !== '' ? parts[3] : undefined;
}

/** The region the SDKs would use: AWS_REGION, then AWS_DEFAULT_REGION. */
export function readDefaultRegion(env: Env): string | undefined {
  return env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim() || undefined;
}

export function resolveAwsEndpoint(service: AwsService, region: string | undefined, env: Env): URL {
  const override = env[SERVICE_ENDPOINT_ENV[service]]?.trim() || env.AWS_ENDPOINT_URL?.trim();
  if (override) return new URL(override);
  if (region === undefined) return new URL(`https://${service}.amazonaws.com`);
  const domain = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return new URL(`https://${service}.${region}.${domain}`);
}

export function isTransientAwsFailure(status: number, type: string): boolean {
  return status === 429 || status >= 500 || TRANSIENT_TYPES.has(type);
}

export function buildAwsError(service: AwsService, operation: string, status: number, type: string, message: string): AppError {
  const text = message.replace(/\s+/g, ' ').slice(0, 300);
  return new AppError(ENV_ERRORS.aws, `${service} ${operation} failed: ${type || `HTTP ${status}`}${text === '' ? '' : `: ${text}`}`, {
    kind: isTransientAwsFailure(status, type) ? 'transient' : 'terminal',
    details: { service, operation, status, type },
  });
}

/** `__type` / `x-amzn-errortype` of a JSON protocol error, without its namespace. */
export function readJsonErrorType(header: string | undefined, body: Record<string, unknown>): string {
  const raw = (typeof body.__type === 'string' ? body.__type : undefined) ?? header ?? '';
  return raw.split(':')[0]?.split('#').pop() ?? '';
}

export interface AwsCallDeps {
  readonly sendHttp: SendHttp;
  readonly now: () => Date;
  readonly env: Env;
}

export interface AwsJsonCall {
  readonly service: 'secretsmanager' | 'ssm';
  /** e.g. `secretsmanager.GetSecretValue`, `AmazonSSM.GetParametersByPath`. */
  readonly target: string;
  readonly body: Readonly<Record<string, unknown>>;
  readonly region: string;
  readonly credentials: AwsCredentials;
}


export async function callAwsJson(call: AwsJsonCall, deps: AwsCallDeps): Promise<Record<string, unknown>> {
  const url = resolveAwsEndpoint(call.service, call.region, deps.env);
  const body = JSON.stringify(call.body);
  const headers = buildSignedHeaders({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': call.target },
    body,
    region: call.region,
    service: call.service,
    credentials: call.credentials,
    now: deps.now(),
  });
  const operation = call.target.split('.').pop() ?? call.target;
  const response = await deps.sendHttp({ url, method: 'POST', headers, body, timeoutMs: AWS_TIMEOUT_MS, maxBytes: AWS_MAX_RESPONSE_BYTES, errorCode: ENV_ERRORS.aws });
  const parsed = parseJsonObject(response.body === '' ? '{}' : response.body);
  if (response.status === 200 && parsed !== undefined) return parsed;
  const errorBody = parsed ?? {};
  const header = response.headers['x-amzn-errortype'];
  const type = readJsonErrorType(Array.isArray(header) ? header[0] : header, errorBody);
  const message = [errorBody.message, errorBody.Message].find((item): item is string => typeof item === 'string') ?? '';
  throw buildAwsError(call.service, operation, response.status, response.status === 200 ? 'InvalidResponse' : type, message);
}
