/**
 * From a fetched secret to the response: the key → value map, the PIGGY_ALLOWED_SA check, the control
 * keys removed, and the caller's `keys` filter. Pure; nothing here logs or puts a value in a message.
 *
 * Secrets Manager SecretString:
 * - a JSON object: one key per field; strings as they are, `null` → "" (as Piggy), numbers, booleans
 *   and nested values → their JSON text (Piggy refused these with 400; the operator does the same);
 * - anything else (plain text, a JSON array or scalar): the whole string under the key `data` (the
 *   operator's rule; Piggy answered 400);
 * - a SecretBinary: refused (422), an environment value cannot carry arbitrary bytes (Piggy answered
 *   an empty map).
 * SSM: the secret source's map (last path element → value) as it is.
 */
import type { SecretVersionValue } from '../aws/secret-source.ts';
import { LAUNCHER_ENV_NAMES } from '../shared/injection-contract.ts';
import { buildRefusal, PROXY_ERRORS, type Refusal } from './errors.ts';
import type { CallerIdentity } from './identity.ts';
import { parseJsonObject } from '../shared/json.ts';

export const ALLOWED_SA_KEY = 'PIGGY_ALLOWED_SA';
/** The key a non-object SecretString is returned under. */
export const WHOLE_SECRET_KEY = 'data';

/**
 * Keys never returned: Piggy's 15 filtered names (KongZ/piggy service/secret.go), PIGGY_AWS_SECRET_VERSION
 * (stripped by Piggy's launcher), and every variable piggy's launcher reads (LAUNCHER_ENV).
 */
export const PROXY_CONTROL_KEYS: ReadonlySet<string> = new Set([
  'PIGGY_AWS_SECRET_NAME',
  'PIGGY_AWS_SSM_PARAMETER_PATH',
  'PIGGY_AWS_REGION',
  'PIGGY_POD_NAME',
  'PIGGY_DEBUG',
  'PIGGY_STANDALONE',
  'PIGGY_ADDRESS',
  ALLOWED_SA_KEY,
  'PIGGY_SKIP_VERIFY_TLS',
  'PIGGY_IGNORE_NO_ENV',
  'PIGGY_DEFAULT_SECRET_NAME_PREFIX',
  'PIGGY_DEFAULT_SECRET_NAME_SUFFIX',
  'PIGGY_DNS_RESOLVER',
  'PIGGY_INITIAL_DELAY',
  'PIGGY_NUMBER_OF_RETRY',
  'PIGGY_AWS_SECRET_VERSION',
  ...LAUNCHER_ENV_NAMES,
]);

export type SecretMap = ReadonlyMap<string, string>;
export type SecretMapResult = { readonly ok: true; readonly map: SecretMap } | { readonly ok: false; readonly refusal: Refusal };

function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null) return '';
  return JSON.stringify(value);
}

export function buildSecretMap(value: SecretVersionValue, what: string): SecretMapResult {
  if (value.secretString === undefined) {
    return { ok: false, refusal: buildRefusal(PROXY_ERRORS.secretFormat, `${what} holds binary data (SecretBinary), which cannot become environment values`) };
  }
  const parsed = parseJsonObject(value.secretString);
  if (parsed === undefined) {
    return { ok: true, map: new Map([[WHOLE_SECRET_KEY, value.secretString]]) };
  }
  return { ok: true, map: new Map(Object.entries(parsed).map(([key, field]) => [key, textOf(field)])) };
}

export function buildParameterSecretMap(parameters: Readonly<Record<string, string>>): SecretMap {
  return new Map(Object.entries(parameters));
}

/** `PIGGY_ALLOWED_SA`: comma-separated `namespace:serviceaccount`, exact (each entry trimmed, no wildcards). */
export function parseAllowedServiceAccounts(text: string): string[] {
  return text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}

/**
 * Piggy's allow-list inside the secret: when present, the caller must be listed; when absent, the
 * read is allowed unless `enforceServiceAccount` (annotation or controller-wide default) demands it.
 */
export function checkAllowedServiceAccount(map: SecretMap, identity: CallerIdentity, enforceServiceAccount: boolean, what: string): Refusal | undefined {
  const caller = `${identity.namespace}:${identity.serviceAccount}`;
  const listed = map.get(ALLOWED_SA_KEY);
  if (listed === undefined) {
    return enforceServiceAccount
      ? buildRefusal(PROXY_ERRORS.serviceAccountNotAllowed, `${what} has no ${ALLOWED_SA_KEY} key and service accounts are enforced`)
      : undefined;
  }
  if (parseAllowedServiceAccounts(listed).includes(caller)) return undefined;
  return buildRefusal(PROXY_ERRORS.serviceAccountNotAllowed, `${caller} is not in ${ALLOWED_SA_KEY} of ${what}`);
}

/**
 * The response body: every non-control key, or only the requested ones (missing ones are simply
 * absent). Built with defineProperty-like semantics (fromEntries), so a key such as `__proto__` stays
 * an ordinary key.
 */
export function buildResponseBody(map: SecretMap, keys: readonly string[] | undefined): Record<string, string> {
  const wanted = keys === undefined ? undefined : new Set(keys);
  const entries = [...map].filter(([key]) => !PROXY_CONTROL_KEYS.has(key) && (wanted === undefined || wanted.has(key)));
  return Object.fromEntries(entries);
}
