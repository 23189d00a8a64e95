import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import type { AWSSecretSpec } from './awssecret.ts';
import { parseJsonObject } from '../shared/json.ts';

/** A fetched Secrets Manager value (never logged). */
export interface SourceValue {
  readonly secretString?: string;
  readonly secretBinary?: Uint8Array;
}

/** Secret.data: key → base64 value. */
export type SecretData = Readonly<Record<string, string>>;

export type DataResult =
  | { readonly ok: true; readonly data: SecretData }
  | { readonly ok: false; readonly problems: readonly string[] };

const KEY_PATTERN = /^[-._a-zA-Z0-9]+$/;
const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** The key a non-JSON SecretString lands under (mumoshu/aws-secret-operator's behaviour). */
export const RAW_KEY = 'data';

/** Kubernetes Secret key rules: [-._a-zA-Z0-9]+, at most 253 characters, not "." or "..". */
export function isValidSecretKey(key: string): boolean {
  return key.length > 0 && key.length <= 253 && KEY_PATTERN.test(key) && key !== '.' && key !== '..';
}

const toBase64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

/** A name safe to report: key names may be shown, but never unbounded. */
const showKey = (key: string): string => JSON.stringify(key.length > 64 ? `${key.slice(0, 61)}...` : key);

/**
 * stringDataFrom: a JSON object becomes one key per field (strings as they are; numbers, booleans,
 * null and nested values as their JSON text); anything else becomes the single key `data`.
 */
export function buildStringData(value: SourceValue): DataResult {
  if (value.secretString === undefined) {
    if (value.secretBinary === undefined) return { ok: false, problems: ['the secret version has no value'] };
    return { ok: true, data: { [RAW_KEY]: Buffer.from(value.secretBinary).toString('base64') } };
  }
  const object = parseJsonObject(value.secretString);
  if (object === undefined) return { ok: true, data: { [RAW_KEY]: toBase64(value.secretString) } };
  return checkKeys(
    Object.fromEntries(
      Object.entries(object).map(([key, field]) => [key, toBase64(typeof field === 'string' ? field : JSON.stringify(field))]),
    ),
    'stringDataFrom',
  );
}

/** dataFrom: a JSON object whose values are base64 strings, decoded into Secret.data. */
export function buildBinaryData(value: SourceValue): DataResult {
  const object = value.secretString === undefined ? undefined : parseJsonObject(value.secretString);
  if (object === undefined) {
    return { ok: false, problems: ['dataFrom: the SecretString is not a JSON object of base64 values'] };
  }
  const problems: string[] = [];
  const data: Record<string, string> = {};
  for (const [key, field] of Object.entries(object)) {
    if (typeof field !== 'string' || !BASE64_PATTERN.test(field)) {
      problems.push(`dataFrom: the value of key ${showKey(key)} is not valid base64`);
      continue;
    }
    data[key] = field;
  }
  if (problems.length > 0) return { ok: false, problems };
  return checkKeys(data, 'dataFrom');
}

function checkKeys(data: Record<string, string>, field: string): DataResult {
  const invalid = Object.keys(data).filter((key) => !isValidSecretKey(key));
  if (invalid.length === 0) return { ok: true, data };
  const shown = invalid.slice(0, 10).map(showKey).join(', ');
  const more = invalid.length > 10 ? ` and ${invalid.length - 10} more` : '';
  return {
    ok: false,
    problems: [`${field}: ${invalid.length} key(s) are not valid Secret keys ([-._a-zA-Z0-9]+, max 253): ${shown}${more}`],
  };
}

export interface FetchedValues {
  readonly stringDataFrom?: SourceValue;
  readonly dataFrom?: SourceValue;
}

/**
 * The whole Secret.data of a spec. Both sources may be given: keys are merged and, on a collision,
 * stringDataFrom wins (as Kubernetes applies stringData over data).
 */
export function buildSecretData(spec: AWSSecretSpec, values: FetchedValues): DataResult {
  const parts: DataResult[] = [];
  if (spec.dataFrom?.secretsManagerSecretRef !== undefined) {
    parts.push(values.dataFrom === undefined ? { ok: false, problems: ['dataFrom: no value'] } : buildBinaryData(values.dataFrom));
  }
  if (spec.stringDataFrom?.secretsManagerSecretRef !== undefined) {
    parts.push(
      values.stringDataFrom === undefined ? { ok: false, problems: ['stringDataFrom: no value'] } : buildStringData(values.stringDataFrom),
    );
  }
  const problems = parts.flatMap((part) => (part.ok ? [] : part.problems));
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, data: Object.assign({}, ...parts.map((part) => (part.ok ? part.data : {}))) as SecretData };
}

// createHmac with a Buffer key builds (and checks) a key object on every call: ~0.1 ms each in
// the controller's profile at 1,000 AWSSecrets. The loader hands out one Buffer, so one KeyObject.
const keyObjects = new WeakMap<Buffer, KeyObject>();
function keyObjectOf(key: Buffer): KeyObject {
  let keyObject = keyObjects.get(key);
  if (keyObject === undefined) {
    keyObject = createSecretKey(key);
    keyObjects.set(key, keyObject);
  }
  return keyObject;
}

/**
 * HMAC-SHA256 under the controller's data-hash key (src/kube/data-hash-key.ts) over the type and the
 * sorted keys and values: the Secret's data fingerprint, which an editor of the Secret cannot forge.
 */
export function hashSecretData(data: SecretData, type: string, key: Buffer): string {
  const hash = createHmac('sha256', keyObjectOf(key)).update(type).update('\n');
  for (const name of Object.keys(data).sort()) hash.update(name).update('\0').update(data[name] ?? '').update('\n');
  return `hmac-sha256:${hash.digest('hex')}`;
}
