/**
 * TokenReview over the Kubernetes API (authentication.k8s.io/v1), with an optional short-lived cache
 * of successful reviews keyed by the token's sha256 (the token itself is never kept or logged).
 *
 * Why a cache is safe for the proxy: a cached review only says "this token authenticated as user U
 * with these pod claims a few seconds ago". The proxy still GETs the pod on every request and checks
 * its uid against the pod-uid claim, so a token bound to a deleted (or re-created) pod is refused even
 * while its review is cached. What the cache delays is the revocation of a token whose pod still
 * exists (its service account deleted): at most `ttlMs`, never past the token's own `exp`.
 * Failed reviews are never cached.
 */
import { createHash } from 'node:crypto';
import { AuthenticationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { classifyKubeError } from './errors.ts';
import { buildTimeoutOptions } from './request-timeout.ts';

/** What a TokenReview said about a token; `user` only when it authenticated. */
export interface TokenReviewResult {
  readonly authenticated: boolean;
  readonly user?: {
    readonly username: string;
    readonly uid?: string | undefined;
    readonly groups: readonly string[];
    readonly extra: Readonly<Record<string, readonly string[]>>;
  };
  /** The audiences the API server found the token valid for (intersection with the ones asked). */
  readonly audiences: readonly string[];
  /** True when the answer came from the cache (no API call). */
  readonly cached: boolean;
  /** Accepted only for the API server's own audiences (acceptDefaultAudience). */
  readonly defaultAudience?: boolean;
  /** Not accepted, and the token (read unverified, for the message only) is not for any audience asked. */
  readonly wrongAudience?: boolean;
}

export type ReviewToken = (token: string) => Promise<TokenReviewResult>;

export interface TokenReviewOptions {
  /** spec.audiences; empty = the API server's default audiences (the standard service-account token). */
  readonly audiences: readonly string[];
  /**
   * When the token is not valid for `audiences`, review it again for the API server's own audiences
   * (the automounted token of a pod admitted by an older piggy). Default false.
   */
  readonly acceptDefaultAudience?: boolean;
  /** Longest wait for the API server; default 5 s. */
  readonly timeoutMs?: number;
}

/** One TokenReview call per token. Failures come back classified (ERR_KUBE_*). */
export function buildTokenReviewApi(kc: KubeConfig, options: TokenReviewOptions): ReviewToken {
  const api = kc.makeApiClient(AuthenticationV1Api);
  const audiences = [...options.audiences];
  const timeoutMs = options.timeoutMs ?? 5_000;
  const reviewFor = async (token: string, asked: readonly string[]): Promise<TokenReviewResult> => {
    let status;
    try {
      const spec = asked.length === 0 ? { token } : { token, audiences: [...asked] };
      ({ status } = await api.createTokenReview({ body: { spec } }, buildTimeoutOptions(timeoutMs)));
    } catch (error) {
      throw classifyKubeError(error, 'create', 'tokenreviews');
    }
    const granted = status?.audiences ?? [];
    const audienceOk = asked.length === 0 || granted.some((audience) => asked.includes(audience));
    const user = status?.user;
    if (status?.authenticated !== true || !audienceOk || user?.username === undefined) {
      return { authenticated: false, audiences: granted, cached: false };
    }
    return {
      authenticated: true,
      user: { username: user.username, uid: user.uid, groups: user.groups ?? [], extra: user.extra ?? {} },
      audiences: granted,
      cached: false,
    };
  };
  return async (token) => {
    const result = await reviewFor(token, audiences);
    if (result.authenticated || audiences.length === 0) return result;
    if (options.acceptDefaultAudience === true) {
      const legacy = await reviewFor(token, []);
      if (legacy.authenticated) return { ...legacy, defaultAudience: true };
    }
    const claimed = readTokenAudiences(token);
    const wrongAudience = claimed !== undefined && !claimed.some((audience) => audiences.includes(audience));
    return wrongAudience ? { ...result, wrongAudience } : result;
  };
}

/** The token's `aud` claim, read without verifying anything: only ever used to word a refusal. */
export function readTokenAudiences(token: string): readonly string[] | undefined {
  const claims = readClaims(token);
  const aud = claims?.aud;
  if (typeof aud === 'string') return [aud];
  return Array.isArray(aud) && aud.every((item) => typeof item === 'string') ? aud : undefined;
}

function readClaims(token: string): Record<string, unknown> | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined || payload.length > 16_384) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    return claims !== null && typeof claims === 'object' && !Array.isArray(claims) ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export interface TokenReviewCacheOptions {
  /** How long a successful review is reused; 0 disables the cache. */
  readonly ttlMs: number;
  /** Entries kept at most (oldest dropped first); default 10,000. */
  readonly maxEntries?: number;
  /** Milliseconds since the epoch; Date.now by default. */
  readonly now?: () => number;
}

interface CacheEntry {
  readonly result: TokenReviewResult;
  readonly until: number;
}

/** sha256 hex of the token: the cache key, so no token is held in memory by the cache. */
export function buildTokenKey(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * The token's own `exp` claim in milliseconds, read without verifying the signature: it is only used
 * to shorten a cache entry, never to accept a token. Undefined when the token is not a readable JWT.
 */
export function readTokenExpiry(token: string): number | undefined {
  const exp = readClaims(token)?.exp;
  return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
}

/**
 * Wraps a reviewer with the cache and a single flight per token: the containers of one pod starting
 * together (same token) cost one TokenReview.
 */
export function buildCachedReviewer(review: ReviewToken, options: TokenReviewCacheOptions): ReviewToken {
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? 10_000;
  const entries = new Map<string, CacheEntry>();
  const flights = new Map<string, Promise<TokenReviewResult>>();

  function remember(key: string, token: string, result: TokenReviewResult): void {
    if (!result.authenticated || options.ttlMs <= 0 || maxEntries <= 0) return;
    const until = Math.min(now() + options.ttlMs, readTokenExpiry(token) ?? Number.POSITIVE_INFINITY);
    if (until <= now()) return;
    entries.delete(key);
    while (entries.size >= maxEntries) {
      const oldest = entries.keys().next();
      if (oldest.done === true) break;
      entries.delete(oldest.value);
    }
    entries.set(key, { result, until });
  }

  return async (token) => {
    const key = buildTokenKey(token);
    const hit = entries.get(key);
    if (hit !== undefined) {
      if (hit.until > now()) return { ...hit.result, cached: true };
      entries.delete(key);
    }
    const inFlight = flights.get(key);
    if (inFlight !== undefined) return { ...(await inFlight), cached: true };
    const flight = review(token).then((result) => {
      remember(key, token, result);
      return result;
    });
    flights.set(key, flight);
    try {
      return await flight;
    } finally {
      flights.delete(key);
    }
  };
}

/** The reviewer the proxy uses: the API call, cached when `cacheTtlMs` > 0. */
export function createTokenReviewer(kc: KubeConfig, options: TokenReviewOptions & { readonly cacheTtlMs: number; readonly maxCacheEntries?: number }): ReviewToken {
  const api = buildTokenReviewApi(kc, options);
  if (options.cacheTtlMs <= 0) return api;
  return buildCachedReviewer(api, { ttlMs: options.cacheTtlMs, ...(options.maxCacheEntries === undefined ? {} : { maxEntries: options.maxCacheEntries }) });
}
