/**
 * The image entrypoint resolver: reference → (tag cache) top-level digest → (image cache) platform
 * image config. Tags are re-resolved after a TTL (a HEAD, so Docker Hub does not count a pull);
 * digests are immutable and never re-fetched. Loads are single-flight and share one concurrency
 * limit; every resolve has a time budget well inside the webhook's timeout.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Registry } from 'prom-client';
import type { AwsClients } from '../../aws/clients.ts';
import { isTransient, messageOf } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import { LoadingCache } from './cache.ts';
import { planCredentials, type Credential } from './credentials.ts';
import { DIGEST_PATTERN, verifyDigest } from './digest.ts';
import { createEcrCredentials, parseEcrHost, type EcrCredentials } from './ecr.ts';
import { buildImageError, IMAGE_ERRORS, RegistryError } from './errors.ts';
import { Limiter } from './limiter.ts';
import { waitFor } from './wait.ts';
import { parseImageConfig, parseManifest, type Manifest } from './manifest.ts';
import { createImageMetrics, type ImageMetrics } from './metrics.ts';
import { DEFAULT_PLATFORM, describePlatforms, formatPlatform, selectPlatformManifest } from './platform.ts';
import { apiHost, parseImageReference, repositoryKey } from './reference.ts';
import { isPlainHttpRegistry, RegistryClient, type CandidateCredential, type RegistrySession } from './registry-client.ts';
import type { ImageContext, ImageResolver, Platform, ResolvedImage } from './types.ts';

export interface ImageResolverOptions {
  /** IMAGE_PLATFORM: the platform picked from multi-arch indexes (a pod context may override it). */
  readonly platform?: Platform;
  /** IMAGE_CACHE_MAX_ENTRIES: entries per cache (tags, manifests, images, tokens). */
  readonly cacheMaxEntries?: number;
  /** IMAGE_TAG_TTL: how long a tag → digest mapping (and a digest's access check) is trusted. */
  readonly tagTtlMs?: number;
  /** IMAGE_RESOLVE_TIMEOUT: the whole resolve, queueing and every request included. */
  readonly resolveTimeoutMs?: number;
  /** REGISTRY_TIMEOUT: one HTTP request (registry, token server). */
  readonly requestTimeoutMs?: number;
  /** INSECURE_REGISTRIES: hosts (or host:port) spoken to over plain HTTP; loopback always is. */
  readonly insecureRegistries?: readonly string[];
  /** REGISTRY_MAX_CONCURRENCY: HTTP requests in flight at once, over all images. */
  readonly maxConcurrentRequests?: number;
}

export interface ImageResolverDeps {
  /** Defaults to the global fetch; tests pass a counting wrapper. */
  readonly fetch?: typeof fetch;
  /** Cache clock (ms); defaults to Date.now. */
  readonly now?: () => number;
  /** The controller's AWS clients, for ECR hosts; without them ECR images need pull secrets. */
  readonly aws?: Pick<AwsClients, 'ecr'>;
  readonly metricsRegistry?: Registry;
  readonly logger?: Logger;
}

export const RESOLVER_DEFAULTS = {
  cacheMaxEntries: 1000,
  tagTtlMs: 5 * 60_000,
  resolveTimeoutMs: 5_000,
  requestTimeoutMs: 3_000,
  maxConcurrentRequests: 32,
} as const;

interface TopEntry {
  readonly digest: string;
  /** Set when a stale mapping is kept because the registry could not be asked: retry sooner. */
  readonly retryAfterMs?: number;
}

/** While a registry is unreachable, an expired tag mapping is served and re-checked this often. */
const STALE_RETRY_MS = 15_000;

export function createImageResolver(options: ImageResolverOptions = {}, deps: ImageResolverDeps = {}): ImageResolver {
  return new RegistryImageResolver(options, deps);
}

class RegistryImageResolver implements ImageResolver {
  readonly #platform: Platform;
  readonly #tagTtlMs: number;
  readonly #resolveTimeoutMs: number;
  readonly #insecure: readonly string[];
  readonly #client: RegistryClient;
  readonly #tags: LoadingCache<TopEntry>;
  readonly #manifests: LoadingCache<Manifest>;
  readonly #images: LoadingCache<ResolvedImage>;
  readonly #ecr: EcrCredentials | undefined;
  readonly #metrics: ImageMetrics;
  readonly #logger: Logger | undefined;
  readonly #salt = randomBytes(16);

  constructor(options: ImageResolverOptions, deps: ImageResolverDeps) {
    const now = deps.now ?? Date.now;
    const size = options.cacheMaxEntries ?? RESOLVER_DEFAULTS.cacheMaxEntries;
    this.#platform = options.platform ?? DEFAULT_PLATFORM;
    this.#tagTtlMs = options.tagTtlMs ?? RESOLVER_DEFAULTS.tagTtlMs;
    this.#resolveTimeoutMs = options.resolveTimeoutMs ?? RESOLVER_DEFAULTS.resolveTimeoutMs;
    this.#insecure = options.insecureRegistries ?? [];
    this.#metrics = createImageMetrics(deps.metricsRegistry);
    this.#logger = deps.logger;
    this.#tags = new LoadingCache(size, now);
    this.#manifests = new LoadingCache(size, now);
    this.#images = new LoadingCache(size, now);
    const http = {
      fetch: deps.fetch ?? globalThis.fetch,
      limiter: new Limiter(options.maxConcurrentRequests ?? RESOLVER_DEFAULTS.maxConcurrentRequests),
      requestTimeoutMs: options.requestTimeoutMs ?? RESOLVER_DEFAULTS.requestTimeoutMs,
      onRequest: (kind: string, outcome: string) => this.#metrics.request(kind, outcome),
    };
    this.#client = new RegistryClient(http, now, size);
    const aws = deps.aws;
    this.#ecr =
      aws === undefined
        ? undefined
        : createEcrCredentials({ ecr: (region) => aws.ecr(region), now, onRequest: (outcome) => this.#metrics.request('ecr-token', outcome) });
  }

  async resolve(image: string, context: ImageContext): Promise<ResolvedImage> {
    const started = performance.now();
    try {
      const resolved = await this.#resolve(image, context);
      this.#metrics.resolved('ok', (performance.now() - started) / 1000);
      return { ...resolved, entrypoint: [...resolved.entrypoint], cmd: [...resolved.cmd], ...(resolved.env ? { env: [...resolved.env] } : {}) };
    } catch (error) {
      const failure = buildImageError(image, error);
      this.#metrics.resolved(failure.code, (performance.now() - started) / 1000);
      throw failure;
    }
  }

  async #resolve(image: string, context: ImageContext): Promise<ResolvedImage> {
    const parsed = parseImageReference(image);
    if (!parsed.ok) throw new RegistryError(IMAGE_ERRORS.reference, `not a valid image reference: ${parsed.error}`);
    const reference = parsed.reference;
    const platform = context.platform ?? this.#platform;
    const candidates = this.#candidates(reference, context);
    const scope = candidates.length === 0 ? 'anonymous' : hashOf(candidates.map((candidate) => candidate.id).join('\n'));
    const name = reference.digest ?? reference.tag ?? 'latest';
    const tagKey = `${repositoryKey(reference)}|${name}|${scope}`;
    const platformKey = formatPlatform(platform);

    // The common case, fully cached: no timer, no promise chain.
    const knownTop = this.#tags.get(tagKey);
    const known = knownTop === undefined ? undefined : this.#images.get(`${knownTop.digest}|${platformKey}`);
    if (known !== undefined) {
      this.#metrics.cache('tag', 'hit');
      this.#metrics.cache('image', 'hit');
      return known;
    }

    const budget = AbortSignal.timeout(this.#resolveTimeoutMs);
    const wait = context.signal === undefined ? budget : AbortSignal.any([budget, context.signal]);
    const target = {
      registry: reference.registry,
      apiHost: apiHost(reference),
      repository: reference.repository,
      plainHttp: isPlainHttpRegistry(reference.registry, this.#insecure),
    };
    let session: RegistrySession | undefined;
    const open = (): RegistrySession => (session ??= this.#client.openSession(target, candidates, budget));

    const top = await waitFor(
      this.#tags.load(tagKey, (stale) => this.#fetchTop(open(), name, reference.digest, stale), (entry) => entry.retryAfterMs ?? this.#tagTtlMs),
      wait,
      context.signal,
      this.#resolveTimeoutMs,
    );
    this.#metrics.cache('tag', top.outcome);
    const resolved = await waitFor(
      this.#images.load(`${top.value.digest}|${platformKey}`, () => this.#fetchImage(open(), top.value.digest, platform), () => Number.POSITIVE_INFINITY),
      wait,
      context.signal,
      this.#resolveTimeoutMs,
    );
    this.#metrics.cache('image', resolved.outcome);
    this.#logger?.debug(
      { image, namespace: context.namespace, digest: resolved.value.digest, tagCache: top.outcome, imageCache: resolved.outcome },
      'image resolved',
    );
    return resolved.value;
  }

  /** Pull-secret credentials that match the image, then the controller's ECR token for ECR hosts. */
  #candidates(reference: { registry: string; repository: string }, context: ImageContext): CandidateCredential[] {
    const candidates: CandidateCredential[] = planCredentials(reference, context.pullSecrets).map((credential) => ({
      id: this.#credentialId(credential),
      source: 'pull-secret',
      load: () => Promise.resolve(credential),
    }));
    const ecrHost = parseEcrHost(reference.registry);
    const ecr = this.#ecr;
    if (ecrHost !== undefined && ecr !== undefined) {
      candidates.push({ id: `ecr:${ecrHost.region}`, source: 'ecr', load: (budget) => ecr.credential(ecrHost, budget) });
    }
    return candidates;
  }

  /** A salted hash: cache keys tell credentials apart without holding anything reusable. */
  #credentialId(credential: Credential): string {
    const material =
      credential.kind === 'basic'
        ? `basic\n${credential.username}\n${credential.password}`
        : credential.kind === 'refresh'
          ? `refresh\n${credential.refreshToken}`
          : `bearer\n${credential.token}`;
    return hashOf(Buffer.concat([this.#salt, Buffer.from(material)]).toString('base64'));
  }

  /** Tag (or pinned digest) → top-level manifest digest; a HEAD revalidates an expired entry. */
  async #fetchTop(session: RegistrySession, name: string, pinned: string | undefined, stale: TopEntry | undefined): Promise<TopEntry> {
    if (stale !== undefined) {
      let announced: string;
      try {
        announced = (await session.manifest(name, 'HEAD')).headers.get('docker-content-digest') ?? '';
      } catch (error) {
        // stale-if-error: a registry outage does not turn known images into denials.
        if (!isTransient(error)) throw error;
        this.#logger?.warn({ image: `${session.target.registry}/${session.target.repository}:${name}`, error: messageOf(error) }, 'registry unreachable, serving the cached tag');
        return { digest: stale.digest, retryAfterMs: Math.min(STALE_RETRY_MS, this.#tagTtlMs) };
      }
      if (pinned !== undefined) return { digest: pinned };
      if (DIGEST_PATTERN.test(announced)) return { digest: announced };
    }
    const reply = await session.manifest(name, 'GET');
    const digest = verifyDigest(reply.body, pinned, reply.headers.get('docker-content-digest'), `manifest ${name}`);
    this.#manifests.set(digest, parseManifest(reply.body, reply.headers.get('content-type')), Number.POSITIVE_INFINITY);
    return { digest };
  }

  async #manifest(session: RegistrySession, digest: string): Promise<Manifest> {
    const { value, outcome } = await this.#manifests.load(
      digest,
      async () => {
        const reply = await session.manifest(digest, 'GET');
        verifyDigest(reply.body, digest, reply.headers.get('docker-content-digest'), `manifest ${digest}`);
        return parseManifest(reply.body, reply.headers.get('content-type'));
      },
      () => Number.POSITIVE_INFINITY,
    );
    this.#metrics.cache('manifest', outcome);
    return value;
  }

  async #fetchImage(session: RegistrySession, topDigest: string, platform: Platform): Promise<ResolvedImage> {
    let manifest = await this.#manifest(session, topDigest);
    let digest = topDigest;
    for (let depth = 0; manifest.kind === 'index'; depth += 1) {
      if (depth >= 2) throw new RegistryError(IMAGE_ERRORS.invalid, 'the image index nests other indexes too deeply');
      const chosen = selectPlatformManifest(manifest.manifests, platform);
      if (chosen === undefined) {
        throw new RegistryError(
          IMAGE_ERRORS.platform,
          `the image index has no ${formatPlatform(platform)} image (it offers ${describePlatforms(manifest.manifests)})`,
          { details: { platform: formatPlatform(platform) } },
        );
      }
      digest = chosen.digest;
      manifest = await this.#manifest(session, digest);
    }
    const configDigest = manifest.config.digest;
    const blob = await session.blob(configDigest);
    verifyDigest(blob.body, configDigest, null, 'image config');
    const config = parseImageConfig(blob.body);
    return {
      entrypoint: config.entrypoint,
      cmd: config.cmd,
      digest,
      ...(digest === topDigest ? {} : { indexDigest: topDigest }),
      ...(config.env === undefined ? {} : { env: config.env }),
      ...(config.user === undefined ? {} : { user: config.user }),
      ...(config.workingDir === undefined ? {} : { workingDir: config.workingDir }),
    };
  }
}

function hashOf(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}
