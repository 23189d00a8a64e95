import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
import { AppError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';

export interface KeyPair {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** sha256 of both files, to tell a real change from a touch. */
  readonly fingerprint: string;
}

/** Reads and validates a PEM certificate chain and its private key. */
export async function fetchKeyPair(certFile: string, keyFile: string): Promise<KeyPair> {
  let cert: Buffer;
  let key: Buffer;
  try {
    [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
  } catch (cause) {
    throw new AppError('ERR_TLS_READ', 'cannot read the TLS certificate or key file', {
      kind: 'transient',
      cause,
      details: { certFile, keyFile },
    });
  }
  try {
    createSecureContext({ cert, key });
  } catch (cause) {
    throw new AppError('ERR_TLS_INVALID', 'the TLS certificate and key do not form a valid pair', {
      cause,
      details: { certFile, keyFile },
    });
  }
  const fingerprint = createHash('sha256').update(cert).update('\0').update(key).digest('hex');
  return { cert, key, fingerprint };
}

export interface CertificateWatchOptions {
  readonly certFile: string;
  readonly keyFile: string;
  readonly intervalMs: number;
  readonly initial: KeyPair;
  readonly log: Logger;
  readonly onChange: (pair: KeyPair) => void;
}

/**
 * Re-reads the files when their directories change (Kubernetes swaps a `..data` symlink) and on
 * an interval as a fallback. A half-written or mismatched pair is ignored until it becomes valid,
 * so the listener keeps serving the last good certificate. Returns a stop function.
 */
export function watchCertificateFiles(options: CertificateWatchOptions): () => void {
  let current = options.initial.fingerprint;
  let running = false;
  const check = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      const pair = await fetchKeyPair(options.certFile, options.keyFile);
      if (pair.fingerprint !== current) {
        current = pair.fingerprint;
        options.onChange(pair);
        options.log.info({ certFile: options.certFile }, 'tls certificate reloaded');
      }
    } catch (error) {
      options.log.warn({ err: error, certFile: options.certFile }, 'tls certificate reload skipped');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void check(), options.intervalMs);
  timer.unref();
  const watchers: FSWatcher[] = [];
  for (const dir of new Set([dirname(options.certFile), dirname(options.keyFile)])) {
    try {
      const watcher = watch(dir, () => void check());
      watcher.unref();
      watchers.push(watcher);
    } catch {
      // The interval still catches changes where a directory cannot be watched.
    }
  }
  return () => {
    clearInterval(timer);
    for (const watcher of watchers) watcher.close();
  };
}
