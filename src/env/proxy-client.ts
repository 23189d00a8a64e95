/**
 * Proxy mode: Piggy's request to the controller. `POST ${PIGGY_ADDRESS}/secret` with the pod's
 * service-account token in `X-Token` (PIGGY_TOKEN_FILE: the projected token of piggy's audience the
 * webhook mounts; pods admitted by an older piggy send the automounted one) and `{name, uid, signature, keys}`; HTTPS only, verified
 * against PIGGY_CA_BUNDLE alone. The answer is a JSON object of key → value; only the keys asked
 * for are kept.
 */
import { AppError } from '../shared/errors.ts';
import { AUTOMOUNTED_TOKEN_FILE, LAUNCHER_ENV } from '../shared/injection-contract.ts';
import { ENV_ERRORS } from './error-codes.ts';
import type { SendHttp } from './http-request.ts';
import type { Env } from './settings.ts';

export const PROXY_TIMEOUT_MS = 10_000;
export const PROXY_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

export interface ProxyConfig {
  readonly url: URL;
  readonly caBundle: string;
  readonly uid: string;
  readonly podName: string;
}

export type ProxyConfigResult = { readonly ok: true; readonly config: ProxyConfig } | { readonly ok: false; readonly problems: readonly string[] };

export function parseProxyConfig(env: Env): ProxyConfigResult {
  const problems: string[] = [];
  const address = env[LAUNCHER_ENV.address]?.trim() ?? '';
  let url: URL | undefined;
  if (address === '') problems.push(`${LAUNCHER_ENV.address} is not set (proxy mode needs the controller's https address)`);
  else {
    try {
      const parsed = new URL(address);
      if (parsed.protocol !== 'https:') problems.push(`${LAUNCHER_ENV.address} must be an https:// URL; plain ${parsed.protocol} is refused`);
      else url = new URL(`${parsed.pathname.replace(/\/+$/, '')}/secret`, parsed.origin);
    } catch {
      problems.push(`${LAUNCHER_ENV.address} is not a URL`);
    }
  }
  const caBundle = env[LAUNCHER_ENV.caBundle] ?? '';
  if (!caBundle.includes('-----BEGIN CERTIFICATE-----')) {
    problems.push(`${LAUNCHER_ENV.caBundle} holds no PEM certificate (the launcher trusts only this CA for ${LAUNCHER_ENV.address})`);
  }
  const uid = env[LAUNCHER_ENV.uid]?.trim() ?? '';
  if (uid === '') problems.push(`${LAUNCHER_ENV.uid} is not set`);
  const podName = env[LAUNCHER_ENV.podName]?.trim() ?? '';
  if (podName === '') problems.push(`${LAUNCHER_ENV.podName} is not set`);
  if (problems.length > 0 || url === undefined) return { ok: false, problems };
  return { ok: true, config: { url, caBundle, uid, podName } };
}

export function buildProxyRequestBody(config: ProxyConfig, signature: string, keys: readonly string[]): string {
  return JSON.stringify({ name: config.podName, uid: config.uid, signature, keys });
}

/** `code: message` of an error answer (the proxy's JSON, never a value), bounded and on one line. */
function describeErrorBody(body: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return '';
  }
  const record = (parsed ?? {}) as Record<string, unknown>;
  const inner = (typeof record.error === 'object' && record.error !== null ? record.error : record) as Record<string, unknown>;
  const parts = [inner.code, inner.message].filter((part): part is string => typeof part === 'string');
  return parts.join(': ').replace(/\s+/g, ' ').slice(0, 300);
}

/** The values of the requested keys from a proxy answer; throws AppError for anything but a usable 200. */
export function parseProxyResponse(status: number, body: string, keys: readonly string[]): Record<string, string> {
  if (status !== 200) {
    const detail = describeErrorBody(body);
    const transient = status === 429 || status >= 500;
    return fail(
      transient ? ENV_ERRORS.proxyUnavailable : ENV_ERRORS.proxyRefused,
      `the proxy answered ${status}${detail === '' ? '' : ` (${detail})`}`,
      transient,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return fail(ENV_ERRORS.proxyResponse, 'the proxy answered 200 with a body that is not JSON', false);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return fail(ENV_ERRORS.proxyResponse, 'the proxy answered 200 with JSON that is not an object', false);
  }
  const values: Record<string, string> = {};
  for (const key of keys) {
    const value = (parsed as Record<string, unknown>)[key];
    if (Object.hasOwn(parsed, key) && typeof value === 'string') values[key] = value;
  }
  return values;
}

function fail(code: string, message: string, transient: boolean): never {
  throw new AppError(code, message, { kind: transient ? 'transient' : 'terminal' });
}

export interface ProxyFetchInput {
  readonly config: ProxyConfig;
  readonly signature: string;
  readonly keys: readonly string[];
  readonly tokenFile: string;
}

export interface ProxyFetchDeps {
  readonly sendHttp: SendHttp;
  readonly readFile: (path: string) => Promise<string>;
}

/** One attempt (the token is read again each time: the kubelet rotates it). */
export async function fetchProxySecrets(input: ProxyFetchInput, deps: ProxyFetchDeps): Promise<Record<string, string>> {
  let token: string;
  try {
    token = (await deps.readFile(input.tokenFile)).trim();
  } catch (error) {
    const why =
      input.tokenFile === AUTOMOUNTED_TOKEN_FILE
        ? `no ${LAUNCHER_ENV.tokenFile} and no automounted token: re-create the pod so the piggy webhook mounts its projected token`
        : 'the projected token the piggy webhook mounts; was the volume removed?';
    throw new AppError(ENV_ERRORS.config, `cannot read the service-account token at ${input.tokenFile} (${why})`, { cause: error });
  }
  if (token === '') throw new AppError(ENV_ERRORS.config, `the service-account token at ${input.tokenFile} is empty`);
  const response = await deps.sendHttp({
    url: input.config.url,
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', 'x-token': token, 'user-agent': 'piggy-env' },
    body: buildProxyRequestBody(input.config, input.signature, input.keys),
    timeoutMs: PROXY_TIMEOUT_MS,
    ca: input.config.caBundle,
    maxBytes: PROXY_MAX_RESPONSE_BYTES,
    errorCode: ENV_ERRORS.proxyUnavailable,
  });
  return parseProxyResponse(response.status, response.body, input.keys);
}
