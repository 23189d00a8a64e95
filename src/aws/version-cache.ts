/**
 * The one process-wide cache of Secrets Manager versions. A `(region, secretId, versionId)` never
 * changes, so an entry is never stale: it only leaves when the byte cap evicts it (least recently
 * used first) or a caller deletes it. Memory only; nothing is written anywhere.
 */

/** One immutable secret version as read from Secrets Manager. Treat it (and secretBinary) as read-only. */
export interface SecretVersionValue {
  readonly versionId: string;
  readonly secretString?: string;
  readonly secretBinary?: Uint8Array;
  readonly name: string;
  readonly arn: string;
}

export interface VersionKey {
  readonly region: string;
  readonly secretId: string;
  readonly versionId: string;
}

export interface VersionCache {
  get(key: VersionKey): SecretVersionValue | undefined;
  /** Caches the value; false when it alone is larger than the cap (then it is not cached). */
  set(key: VersionKey, value: SecretVersionValue): boolean;
  has(key: VersionKey): boolean;
  delete(key: VersionKey): boolean;
  /** Number of entries. */
  size(): number;
  /** Bytes held, as counted by measureVersionBytes. */
  bytes(): number;
  readonly maxBytes: number;
}

/**
 * The bytes an entry costs: the UTF-8 length of the secret string, the binary's length, and the
 * UTF-8 lengths of the version id, name and ARN (the cache key repeats those, so it is not counted
 * again). Object overhead is not counted: the cap is about secret payloads.
 */
export function measureVersionBytes(value: SecretVersionValue): number {
  return (
    (value.secretString === undefined ? 0 : Buffer.byteLength(value.secretString, 'utf8')) +
    (value.secretBinary?.byteLength ?? 0) +
    Buffer.byteLength(value.versionId, 'utf8') +
    Buffer.byteLength(value.name, 'utf8') +
    Buffer.byteLength(value.arn, 'utf8')
  );
}

/** A collision-free string key: the parts are joined with a character no AWS name or id can hold. */
export function buildVersionKey(key: VersionKey): string {
  return `${key.region}\u0000${key.secretId}\u0000${key.versionId}`;
}

interface Entry {
  readonly value: SecretVersionValue;
  readonly bytes: number;
}

export interface VersionCacheOptions {
  /** The cap in bytes; 0 disables caching. */
  readonly maxBytes: number;
  /** Called after every change of the byte total (metrics). */
  readonly onBytesChange?: (bytes: number) => void;
}

export function createVersionCache(options: VersionCacheOptions): VersionCache {
  if (!Number.isFinite(options.maxBytes) || options.maxBytes < 0) {
    throw new RangeError(`maxBytes must be a finite number >= 0, got ${options.maxBytes}`);
  }
  const maxBytes = options.maxBytes;
  // A Map iterates in insertion order: re-inserting on every hit keeps the least recently used first.
  const entries = new Map<string, Entry>();
  let total = 0;
  const changed = (): void => options.onBytesChange?.(total);

  function remove(id: string): boolean {
    const entry = entries.get(id);
    if (entry === undefined) return false;
    entries.delete(id);
    total -= entry.bytes;
    return true;
  }

  function evictUntilFits(incoming: number): void {
    for (const [id] of entries) {
      if (total + incoming <= maxBytes) return;
      remove(id);
    }
  }

  return {
    maxBytes,
    get(key) {
      const id = buildVersionKey(key);
      const entry = entries.get(id);
      if (entry === undefined) return undefined;
      entries.delete(id);
      entries.set(id, entry);
      return entry.value;
    },
    set(key, value) {
      const id = buildVersionKey(key);
      const bytes = measureVersionBytes(value);
      const removed = remove(id);
      if (bytes > maxBytes) {
        if (removed) changed();
        return false;
      }
      evictUntilFits(bytes);
      entries.set(id, { value, bytes });
      total += bytes;
      changed();
      return true;
    },
    has: (key) => entries.has(buildVersionKey(key)),
    delete(key) {
      const removed = remove(buildVersionKey(key));
      if (removed) changed();
      return removed;
    },
    size: () => entries.size,
    bytes: () => total,
  };
}
