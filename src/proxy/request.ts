/**
 * The /secret request, Piggy-compatible: header `X-Token: <service-account token>`, JSON body
 * `{"name": "<pod>", "uid": "<PIGGY_UID>", "signature": "<hex>"}`; piggy-env of KongZ/piggy also sends
 * `"resources": "pods"`, which is ignored like any other unknown field. piggy's extension: an optional
 * `"keys": ["DB_PASSWORD", …]` naming the keys the container needs; when present, only those are
 * returned. `signature` may be absent or empty (then only `piggy-enforce-integrity: "false"` lets the
 * request through).
 */
import { buildRefusal, PROXY_ERRORS, type Refusal } from './errors.ts';

export const TOKEN_HEADER = 'x-token';
/** Largest accepted body (a request is ~200 bytes; `keys` lists make it grow). */
export const MAX_BODY_BYTES = 16 * 1024;
export const MAX_KEYS = 500;
const MAX_KEY_LENGTH = 256;
const MAX_UID_LENGTH = 64;
const MAX_SIGNATURE_LENGTH = 128;
/** Largest accepted token (bound service-account tokens are ~1 KiB). */
export const MAX_TOKEN_LENGTH = 8 * 1024;
const POD_NAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export interface SecretRequest {
  /** The pod's name (PIGGY_POD_NAME). */
  readonly name: string;
  /** The container's uid (PIGGY_UID). */
  readonly uid: string;
  /** The command signature; '' when absent. */
  readonly signature: string;
  /** The keys the container needs; undefined = every key (Piggy's behaviour). */
  readonly keys: readonly string[] | undefined;
}

export type ParsedRequest = { readonly ok: true; readonly request: SecretRequest } | { readonly ok: false; readonly refusal: Refusal };

const bad = (message: string): ParsedRequest => ({ ok: false, refusal: buildRefusal(PROXY_ERRORS.badRequest, message) });

/** Parses an untrusted body (raw bytes or text). */
export function parseSecretRequest(body: Buffer | string): ParsedRequest {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (text.trim() === '') return bad('the body is empty: send {"name", "uid", "signature"} as JSON');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return bad('the body is not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return bad('the body is not a JSON object');
  const { name, uid, signature, keys } = parsed as Record<string, unknown>;
  if (typeof name !== 'string' || name === '') return bad('"name" (the pod name) is missing');
  if (!POD_NAME.test(name)) return bad('"name" is not a valid pod name');
  if (typeof uid !== 'string' || uid === '') return bad('"uid" (the container uid, PIGGY_UID) is missing');
  if (uid.length > MAX_UID_LENGTH) return bad(`"uid" is longer than ${MAX_UID_LENGTH} characters`);
  if (signature !== undefined && signature !== null && typeof signature !== 'string') return bad('"signature" must be a string');
  if (typeof signature === 'string' && signature.length > MAX_SIGNATURE_LENGTH) return bad(`"signature" is longer than ${MAX_SIGNATURE_LENGTH} characters`);
  const parsedKeys = parseKeys(keys);
  if (typeof parsedKeys === 'string') return bad(parsedKeys);
  return { ok: true, request: { name, uid, signature: typeof signature === 'string' ? signature : '', keys: parsedKeys } };
}

function parseKeys(keys: unknown): readonly string[] | undefined | string {
  if (keys === undefined || keys === null) return undefined;
  if (!Array.isArray(keys)) return '"keys" must be an array of key names';
  if (keys.length > MAX_KEYS) return `"keys" lists more than ${MAX_KEYS} names`;
  const list: string[] = [];
  for (const key of keys as unknown[]) {
    if (typeof key !== 'string' || key === '' || key.length > MAX_KEY_LENGTH) return `"keys" must hold non-empty strings of at most ${MAX_KEY_LENGTH} characters`;
    list.push(key);
  }
  return [...new Set(list)];
}

/** The X-Token header: undefined when missing, empty, repeated or implausibly long. */
export function parseTokenHeader(value: string | readonly string[] | undefined): string | undefined {
  if (typeof value !== 'string') return undefined;
  const token = value.trim();
  if (token === '' || token.length > MAX_TOKEN_LENGTH || /\s/.test(token)) return undefined;
  return token;
}
