/**
 * The operator's data-hash key: 32 random bytes in one Secret of the controller's namespace, created
 * by the first replica that needs it and shared by all (and by every restart). The recorded
 * `piggysec.com/data-hash` is an HMAC under this key, so someone who can edit a generated Secret but
 * cannot read the controller's namespace cannot make hand-edited data look like the pinned version.
 */
import { randomBytes } from 'node:crypto';
import { CoreV1Api, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { AppError } from '../shared/errors.ts';
import { classifyKubeError, isConflict, isNotFound } from './errors.ts';
import { buildTimeoutOptions } from './request-timeout.ts';

export const DATA_HASH_KEY_FIELD = 'key';
const KEY_BYTES = 32;

export interface DataHashKeyOptions {
  readonly kc: KubeConfig;
  readonly namespace: string;
  readonly name: string;
  /** Deadline of each API request (default 10 s). */
  readonly timeoutMs?: number;
}

/**
 * A loader that reads (or creates) the key once and then answers from memory. A failure is not
 * remembered: the next call tries again (it surfaces as the AWSSecret's KubernetesError meanwhile).
 */
export function createDataHashKeyLoader(options: DataHashKeyOptions): () => Promise<Buffer> {
  const api = options.kc.makeApiClient(CoreV1Api);
  const timeout = buildTimeoutOptions(options.timeoutMs ?? 10_000);
  const { namespace, name } = options;
  const object = `Secret ${namespace}/${name}`;
  let loaded: Promise<Buffer> | undefined;

  async function read(): Promise<Buffer | undefined> {
    try {
      return keyOf(await api.readNamespacedSecret({ name, namespace }, timeout), object);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error instanceof AppError ? error : classifyKubeError(error, 'get', object);
    }
  }

  async function load(): Promise<Buffer> {
    const existing = await read();
    if (existing !== undefined) return existing;
    const key = randomBytes(KEY_BYTES);
    const body: V1Secret = {
      metadata: { name, namespace, labels: { 'app.kubernetes.io/part-of': 'piggy', 'app.kubernetes.io/component': 'data-hash-key' } },
      type: 'Opaque',
      data: { [DATA_HASH_KEY_FIELD]: key.toString('base64') },
    };
    try {
      await api.createNamespacedSecret({ namespace, body }, timeout);
      return key;
    } catch (error) {
      if (!isConflict(error)) throw classifyKubeError(error, 'create', object);
    }
    // Another replica created it first: use theirs.
    const raced = await read();
    if (raced === undefined) throw new AppError('ERR_KUBE_UNAVAILABLE', `${object} was created and is gone again`, { kind: 'transient' });
    return raced;
  }

  return () => {
    loaded ??= load().catch((error: unknown) => {
      loaded = undefined;
      throw error;
    });
    return loaded;
  };
}

function keyOf(secret: V1Secret, object: string): Buffer {
  const key = Buffer.from(secret.data?.[DATA_HASH_KEY_FIELD] ?? '', 'base64');
  if (key.length < KEY_BYTES) {
    throw new AppError('ERR_KUBE_DATA_HASH_KEY', `${object} has no ${KEY_BYTES}-byte "${DATA_HASH_KEY_FIELD}"; delete it to have a new one made`, { kind: 'transient' });
  }
  return key;
}
