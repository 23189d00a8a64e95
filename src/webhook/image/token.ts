/**
 * The registry Bearer token flow (distribution's token spec): GET the challenge's realm with
 * service and scope, Basic credentials when there are some (or POST an OAuth2 refresh token), and
 * cache the token per (realm, service, scope, credential) until shortly before it expires.
 */
import type { LoadingCache } from './cache.ts';
import type { Challenge } from './challenge.ts';
import type { Credential } from './credentials.ts';
import { IMAGE_ERRORS, RegistryError } from './errors.ts';
import { sendRequest, type HttpDeps } from './http.ts';

export interface TokenGrant {
  readonly token: string;
  /** Life in ms, already shortened by a safety margin. */
  readonly ttlMs: number;
}

export interface TokenRequest {
  readonly challenge: Challenge;
  readonly scope: string;
  /** undefined: an anonymous token. */
  readonly credential: Credential | undefined;
  /** A stable, value-free id of the credential for cache keys. */
  readonly credentialId: string;
  /** Plain-HTTP registries may use a plain-HTTP realm; HTTPS registries may not (credentials would leak). */
  readonly registryIsPlainHttp: boolean;
  readonly registryHost: string;
  readonly budget: AbortSignal;
  /** Skip the cache (a cached token was just refused). */
  readonly fresh: boolean;
}

const DEFAULT_EXPIRES_IN_S = 60;
const MAX_TOKEN_BYTES = 1024 * 1024;

export function basicHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

function realmOf(request: TokenRequest): URL {
  const realm = request.challenge.params.realm;
  let url: URL;
  try {
    url = new URL(realm ?? '');
  } catch {
    throw new RegistryError(IMAGE_ERRORS.invalid, `registry ${request.registryHost} sent a Bearer challenge without a valid realm URL`);
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol === 'https:' || (url.protocol === 'http:' && (request.registryIsPlainHttp || loopback))) return url;
  throw new RegistryError(IMAGE_ERRORS.invalid, `registry ${request.registryHost} names a token realm that is not HTTPS; credentials are not sent there`);
}

export async function fetchToken(http: HttpDeps, tokens: LoadingCache<TokenGrant>, request: TokenRequest): Promise<string> {
  const realm = realmOf(request);
  const service = request.challenge.params.service ?? '';
  const key = [realm.href, service, request.scope, request.credentialId].join('|');
  if (request.fresh) {
    const grant = await requestToken(http, realm, service, request);
    tokens.set(key, grant, grant.ttlMs);
    return grant.token;
  }
  const { value } = await tokens.load(key, () => requestToken(http, realm, service, request), (grant) => grant.ttlMs);
  return value.token;
}

async function requestToken(http: HttpDeps, realm: URL, service: string, request: TokenRequest): Promise<TokenGrant> {
  const credential = request.credential;
  const url = new URL(realm);
  const headers: Record<string, string> = { accept: 'application/json' };
  let body: string | undefined;
  if (credential?.kind === 'refresh') {
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: credential.refreshToken, scope: request.scope, client_id: 'piggy' });
    if (service !== '') form.set('service', service);
    body = form.toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  } else {
    if (service !== '') url.searchParams.set('service', service);
    url.searchParams.set('scope', request.scope);
    if (credential?.kind === 'basic') {
      headers.authorization = basicHeader(credential.username, credential.password);
      if (credential.username !== '') url.searchParams.set('account', credential.username);
    }
  }
  const reply = await sendRequest(http, {
    url,
    method: body === undefined ? 'GET' : 'POST',
    headers,
    ...(body === undefined ? {} : { body }),
    kind: 'token',
    host: url.host,
    budget: request.budget,
    maxBytes: MAX_TOKEN_BYTES,
  });
  if (reply.status === 401 || reply.status === 403) {
    throw new RegistryError(IMAGE_ERRORS.unauthorized, `the token server ${url.host} refused the credentials (${reply.status})`, {
      details: { host: url.host, status: reply.status },
    });
  }
  if (reply.status < 200 || reply.status >= 300) {
    const kind = reply.status === 429 || reply.status >= 500 ? IMAGE_ERRORS.unreachable : IMAGE_ERRORS.invalid;
    throw new RegistryError(kind, `the token server ${url.host} answered ${reply.status}`, { details: { host: url.host, status: reply.status } });
  }
  return parseTokenReply(reply.body, url.host);
}

export function parseTokenReply(bytes: Uint8Array, host: string): TokenGrant {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const record = (parsed !== null && typeof parsed === 'object' ? parsed : {}) as Record<string, unknown>;
  const token = typeof record.token === 'string' && record.token !== '' ? record.token : record.access_token;
  if (typeof token !== 'string' || token === '') {
    throw new RegistryError(IMAGE_ERRORS.invalid, `the token server ${host} answered without a token`);
  }
  const expiresIn = typeof record.expires_in === 'number' && record.expires_in > 0 ? record.expires_in : DEFAULT_EXPIRES_IN_S;
  const lifeMs = expiresIn * 1000;
  return { token, ttlMs: Math.max(0, lifeMs - Math.min(30_000, lifeMs / 4)) };
}
