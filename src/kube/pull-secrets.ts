import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { classifyKubeError, isNotFound } from './errors.ts';

export interface PullSecretRef {
  readonly name: string;
  readonly namespace: string;
}

/** The docker config text of a pull Secret (`.dockerconfigjson` or legacy `.dockercfg`), decoded. */
export type DockerConfigText = string;

export interface PullSecretInput {
  readonly namespace: string;
  readonly serviceAccountName: string;
  readonly imagePullSecrets: readonly string[];
  readonly extra: PullSecretRef | undefined;
}

export interface PullSecretReads {
  /** The Secret's docker config text; undefined when it does not exist or holds none. */
  readonly readSecret: (ref: PullSecretRef) => Promise<DockerConfigText | undefined>;
  /** The service account's imagePullSecrets names; empty when it does not exist. */
  readonly readServiceAccount: (namespace: string, name: string) => Promise<readonly string[]>;
}

export interface PullSecretCacheOptions {
  /** How long an answer (a 404 included) is reused; 0 reads through the API every time. */
  readonly ttlMs: number;
  /** Entries kept at most per kind (the oldest go first). */
  readonly maxEntries?: number;
  readonly now?: () => number;
  /** Called per lookup: which object kind, and whether the cache answered (hit) or the API (miss). */
  readonly onLookup?: (kind: 'serviceaccount' | 'secret', outcome: 'hit' | 'miss') => void;
}

export interface PullSecretReader {
  /**
   * The pod's pull credentials the way the kubelet finds them: the pod's imagePullSecrets, then its
   * service account's, plus any extra Secret. A missing Secret or service account is skipped (the
   * kubelet does the same); other failures are reported. `fresh` bypasses (and refreshes) the cache.
   */
  read(input: PullSecretInput, options?: { readonly fresh?: boolean }): Promise<DockerConfigText[]>;
}

/**
 * A short-TTL cache over the two reads an admission needs (service account, pull Secret): one API
 * round trip per object per TTL instead of one per admission, with concurrent misses sharing one
 * request. Chosen over informers so the webhook keeps `get`-only RBAC (an informer would need list
 * and watch on every Secret of the cluster). Failures are never cached.
 */
export function createPullSecretReader(reads: PullSecretReads, options: PullSecretCacheOptions): PullSecretReader {
  const now = options.now ?? Date.now;
  const max = options.maxEntries ?? 10_000;
  const accounts = new TtlMap<readonly string[]>(options.ttlMs, max, now, (outcome) => options.onLookup?.('serviceaccount', outcome));
  const secrets = new TtlMap<DockerConfigText | undefined>(options.ttlMs, max, now, (outcome) => options.onLookup?.('secret', outcome));

  return {
    async read(input, readOptions = {}) {
      const fresh = readOptions.fresh === true;
      const namespace = input.namespace;
      const account = input.serviceAccountName || 'default';
      const refs: PullSecretRef[] = input.imagePullSecrets.map((name) => ({ name, namespace }));
      const names = await accounts.load(`${namespace}/${account}`, fresh, () => reads.readServiceAccount(namespace, account));
      refs.push(...names.map((name) => ({ name, namespace })));
      if (input.extra !== undefined) refs.push(input.extra);
      const unique = [...new Map(refs.map((ref) => [`${ref.namespace}/${ref.name}`, ref])).values()];
      const texts = await Promise.all(unique.map((ref) => secrets.load(`${ref.namespace}/${ref.name}`, fresh, () => reads.readSecret(ref))));
      return texts.filter((text): text is string => text !== undefined);
    },
  };
}

/** The API reads behind the cache, through @kubernetes/client-node. */
export function buildPullSecretReads(kc: KubeConfig): PullSecretReads {
  const core = kc.makeApiClient(CoreV1Api);
  return {
    async readSecret(ref) {
      try {
        const secret = await core.readNamespacedSecret({ name: ref.name, namespace: ref.namespace });
        const encoded = secret.data?.['.dockerconfigjson'] ?? secret.data?.['.dockercfg'];
        return encoded === undefined ? undefined : Buffer.from(encoded, 'base64').toString('utf8');
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw classifyKubeError(error, 'read', `Secret/${ref.namespace}/${ref.name}`);
      }
    },
    async readServiceAccount(namespace, name) {
      try {
        const account = await core.readNamespacedServiceAccount({ name, namespace });
        return (account.imagePullSecrets ?? []).flatMap((entry) => (entry.name ? [entry.name] : []));
      } catch (error) {
        if (isNotFound(error)) return [];
        throw classifyKubeError(error, 'read', `ServiceAccount/${namespace}/${name}`);
      }
    },
  };
}

interface Entry<T> {
  readonly value: Promise<T>;
  /** When the answer arrived; undefined while the read is in flight. */
  settledAt?: number;
}

/** Answers by key for ttlMs after they arrive; in-flight reads are shared; rejections are dropped. */
class TtlMap<T> {
  readonly #entries = new Map<string, Entry<T>>();
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #onLookup: (outcome: 'hit' | 'miss') => void;

  constructor(ttlMs: number, max: number, now: () => number, onLookup: (outcome: 'hit' | 'miss') => void) {
    this.#ttlMs = ttlMs;
    this.#max = max;
    this.#now = now;
    this.#onLookup = onLookup;
  }

  load(key: string, fresh: boolean, read: () => Promise<T>): Promise<T> {
    const existing = this.#ttlMs <= 0 || fresh ? undefined : this.#entries.get(key);
    if (existing !== undefined && (existing.settledAt === undefined || this.#now() - existing.settledAt < this.#ttlMs)) {
      this.#onLookup('hit');
      return existing.value;
    }
    this.#onLookup('miss');
    const value = read();
    if (this.#ttlMs <= 0) return value;
    const entry: Entry<T> = { value };
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.#max) break;
      this.#entries.delete(oldest);
    }
    value.then(
      () => {
        entry.settledAt = this.#now();
      },
      () => {
        if (this.#entries.get(key) === entry) this.#entries.delete(key);
      },
    );
    return value;
  }
}
