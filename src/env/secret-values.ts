/**
 * Secret payloads → key/value maps for the environment. Pure. Secrets Manager: a SecretString
 * that is a JSON object gives one key per field (strings as they are; numbers, booleans, null and
 * nested values as their JSON text, like AWSSecret's stringDataFrom). SSM: the last path element of
 * each parameter name is its key; a later parameter wins a collision (Piggy's rule).
 */
import { AppError } from '../shared/errors.ts';
import { ENV_ERRORS } from './error-codes.ts';
import { parseJsonObject } from '../shared/json.ts';

export interface SecretPayload {
  readonly secretString?: string;
  /** Base64, as the JSON API returns it. */
  readonly secretBinary?: string;
}

export function buildSecretValues(secretId: string, payload: SecretPayload): Record<string, string> {
  if (payload.secretString === undefined) {
    throw new AppError(ENV_ERRORS.secretFormat, `secret ${secretId} has a binary value; environment values need a SecretString holding a JSON object`);
  }
  const parsed = parseJsonObject(payload.secretString);
  if (parsed === undefined) {
    throw new AppError(ENV_ERRORS.secretFormat, `the SecretString of ${secretId} is not a JSON object of key/value pairs`);
  }
  return Object.fromEntries(Object.entries(parsed).map(([key, value]) => [key, typeof value === 'string' ? value : JSON.stringify(value)]));
}

export interface SsmParameter {
  readonly name: string;
  readonly value: string;
}

export function buildParameterValues(parameters: readonly SsmParameter[]): Record<string, string> {
  const values: Record<string, string> = {};
  for (const parameter of parameters) {
    const key = parameter.name.split('/').pop() ?? '';
    if (key !== '') values[key] = parameter.value;
  }
  return values;
}

/** The bytes a file-mode secret is written as: the SecretString verbatim, else the SecretBinary bytes. */
export function buildFileContent(secretId: string, payload: SecretPayload): Buffer {
  if (payload.secretString !== undefined) return Buffer.from(payload.secretString, 'utf8');
  if (payload.secretBinary !== undefined) return Buffer.from(payload.secretBinary, 'base64');
  throw new AppError(ENV_ERRORS.secretFormat, `secret ${secretId} has no value`);
}
