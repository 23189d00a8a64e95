/**
 * The registry v2 API for one repository, as seen by one resolve: manifests and blobs, with
 * authentication negotiated like docker does. A request goes out anonymously (or with what the
 * host's last challenge asked for); a 401 names Basic or Bearer, the current credential is applied
 * (a token fetched for Bearer), and when it is refused the next matching credential is tried.
 */
import { LoadingCache } from './cache.ts';
import { parseChallenge, type Challenge } from './challenge.ts';
import type { Credential } from './credentials.ts';
import { buildStatusError, IMAGE_ERRORS, RegistryError, type AttemptSummary } from './errors.ts';
import { sendRequest, type HttpDeps, type HttpReply, type RequestKind } from './http.ts';
import { MANIFEST_ACCEPT } from './manifest.ts';
import { basicHeader, fetchToken, type TokenGrant } from './token.ts';

/** One credential to try; `load` may do I/O (the ECR token) and returns undefined for anonymous. */
export interface CandidateCredential {
  readonly id: string;
  readonly source: 'pull-secret' | 'ecr' | 'anonymous';
  readonly load: (budget: AbortSignal) => Promise<Credential | undefined>;
}

export interface RepositoryTarget {
  /** Host named in messages (`docker.io`, `127.0.0.1:5000`). */
  readonly registry: string;
  /** Host the API answers on (`registry-1.docker.io` for docker.io). */
  readonly apiHost: string;
  readonly repository: string;
  readonly plainHttp: boolean;
}

export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
export const MAX_CONFIG_BYTES = 8 * 1024 * 1024;
const MAX_HOSTS = 1024;

export const ANONYMOUS: CandidateCredential = { id: 'anonymous', source: 'anonymous', load: () => Promise.resolve(undefined) };

/** Shared across resolves: the last challenge per host and the Bearer tokens. */
export class RegistryClient {
  readonly http: HttpDeps;
  readonly tokens: LoadingCache<TokenGrant>;
  readonly challenges: LoadingCache<Challenge>;

  constructor(http: HttpDeps, now: () => number, maxTokens: number) {
    this.http = http;
    this.tokens = new LoadingCache(maxTokens, now);
    this.challenges = new LoadingCache(MAX_HOSTS, now);
  }

  openSession(target: RepositoryTarget, candidates: readonly CandidateCredential[], budget: AbortSignal): RegistrySession {
    return new RegistrySession(this, target, candidates.length === 0 ? [ANONYMOUS] : candidates, budget);
  }
}

export class RegistrySession {
  readonly #client: RegistryClient;
  readonly #target: RepositoryTarget;
  readonly #candidates: readonly CandidateCredential[];
  readonly #budget: AbortSignal;
  #index = 0;
  #authorization: string | undefined;

  constructor(client: RegistryClient, target: RepositoryTarget, candidates: readonly CandidateCredential[], budget: AbortSignal) {
    this.#client = client;
    this.#target = target;
    this.#candidates = candidates;
    this.#budget = budget;
  }

  get target(): RepositoryTarget {
    return this.#target;
  }

  /** GET or HEAD `/v2/<repo>/manifests/<tag|digest>`; non-2xx statuses become errors. */
  manifest(reference: string, method: 'GET' | 'HEAD'): Promise<HttpReply> {
    const what = reference.includes(':') ? `manifest ${reference}` : `manifest for tag ${reference}`;
    return this.#request(`manifests/${reference}`, method, 'manifest', MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, what);
  }

  blob(digest: string): Promise<HttpReply> {
    return this.#request(`blobs/${digest}`, 'GET', 'blob', '*/*', MAX_CONFIG_BYTES, `image config blob ${digest}`);
  }

  async #request(path: string, method: 'GET' | 'HEAD', kind: RequestKind, accept: string, maxBytes: number, what: string): Promise<HttpReply> {
    const { apiHost, repository, plainHttp, registry } = this.#target;
    const url = new URL(`${plainHttp ? 'http' : 'https'}://${apiHost}/v2/${repository}/${path}`);
    let lastStatus = 401;
    let lastRefusal: string | undefined;
    // Whether the header about to be sent was just made for a challenge (a refusal is then final
    // for this credential) rather than reused from an earlier request (a Bearer token may be stale).
    let answered = false;
    for (;;) {
      const candidate = this.#candidates[this.#index];
      if (candidate === undefined) throw buildStatusError(lastStatus, registry, what, { ...this.#summary(), ...(lastRefusal === undefined ? {} : { lastRefusal }) });
      try {
        if (this.#authorization === undefined) {
          const known = this.#client.challenges.get(apiHost);
          if (known !== undefined) this.#authorization = await this.#authorize(known, candidate, false);
        }
        const sent = this.#authorization;
        const headers: Record<string, string> = { accept };
        if (sent !== undefined) headers.authorization = sent;
        lastRefusal = undefined;
        const reply = await sendRequest(this.#client.http, { url, method, headers, kind, host: registry, budget: this.#budget, maxBytes });
        if (reply.status >= 200 && reply.status < 300) return reply;
        if (reply.status !== 401 && reply.status !== 403) throw buildStatusError(reply.status, registry, what, this.#summary());
        lastStatus = reply.status;
        const challenge = parseChallenge(reply.headers.get('www-authenticate'));
        if (challenge !== undefined) this.#client.challenges.set(apiHost, challenge, Number.POSITIVE_INFINITY);
        const retry = challenge !== undefined && !answered && (sent === undefined || challenge.scheme === 'bearer');
        if (retry) {
          answered = true;
          this.#authorization = await this.#authorize(challenge, candidate, sent !== undefined);
          if (this.#authorization !== undefined) continue;
        }
      } catch (error) {
        if (!(error instanceof RegistryError) || error.code !== IMAGE_ERRORS.unauthorized) throw error;
        lastStatus = typeof error.details.status === 'number' ? error.details.status : 401;
        lastRefusal = error.message;
      }
      // This credential cannot get in: the next one.
      this.#index += 1;
      this.#authorization = undefined;
      answered = false;
    }
  }

  /** The Authorization header for this challenge and credential; undefined when it cannot answer it. */
  async #authorize(challenge: Challenge, candidate: CandidateCredential, fresh: boolean): Promise<string | undefined> {
    const credential = await candidate.load(this.#budget);
    if (challenge.scheme === 'basic') {
      return credential?.kind === 'basic' ? basicHeader(credential.username, credential.password) : undefined;
    }
    if (credential?.kind === 'bearer') return `Bearer ${credential.token}`;
    const token = await fetchToken(this.#client.http, this.#client.tokens, {
      challenge,
      scope: `repository:${this.#target.repository}:pull`,
      credential,
      credentialId: candidate.id,
      registryIsPlainHttp: this.#target.plainHttp,
      registryHost: this.#target.registry,
      budget: this.#budget,
      fresh,
    });
    return `Bearer ${token}`;
  }

  #summary(): AttemptSummary {
    return {
      pullSecretCredentials: this.#candidates.filter((candidate) => candidate.source === 'pull-secret').length,
      ecrToken: this.#candidates.some((candidate) => candidate.source === 'ecr'),
    };
  }
}

/** `localhost`, 127.0.0.0/8 and ::1 are plain HTTP like docker treats them; others when listed (host or host:port). */
export function isPlainHttpRegistry(registry: string, insecure: readonly string[]): boolean {
  const host = registry.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)) return true;
  return insecure.some((entry) => {
    const normalized = entry.trim().toLowerCase().replace(/^https?:\/\//, '').replace(/\/+$/, '');
    return normalized === registry.toLowerCase() || normalized === host || normalized === `[${host}]`;
  });
}
