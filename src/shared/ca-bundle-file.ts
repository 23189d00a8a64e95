/**
 * WEBHOOK_CERT_MANAGEMENT=files (cert-manager or any other issuer): the CA bundle the webhook injects
 * into pods comes from a file (cert-manager's `ca.crt`), re-read when it changes. A file that does not
 * hold at least one CA certificate is rejected at start and ignored later (the last good bundle stays).
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AppError } from './errors.ts';
import type { Logger } from './logger.ts';
import { parseCertificate, splitPemCertificates } from './pki.ts';

export interface CaBundleFile {
  /** The current bundle (PEM). */
  caBundle(): string;
  stop(): void;
}

/** The CA certificates of a PEM text, re-serialised; an error message when there is none or one is not a CA. */
export function parseCaBundle(text: string): { readonly ok: true; readonly bundle: string } | { readonly ok: false; readonly problem: string } {
  const certificates = splitPemCertificates(text).map(parseCertificate);
  if (certificates.length === 0) return { ok: false, problem: 'no PEM certificate' };
  if (certificates.some((cert) => cert === undefined || !cert.isCa)) return { ok: false, problem: 'a certificate is unreadable or not a CA' };
  return { ok: true, bundle: certificates.map((cert) => cert?.pem ?? '').join('') };
}

async function fetchCaBundle(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new AppError('ERR_WEBHOOK_CA_FILE', 'cannot read the webhook CA bundle file', { kind: 'transient', cause, details: { file } });
  }
  const parsed = parseCaBundle(text);
  if (!parsed.ok) throw new AppError('ERR_WEBHOOK_CA_FILE', `the webhook CA bundle file is invalid: ${parsed.problem}`, { details: { file } });
  return parsed.bundle;
}

/** Reads the bundle (throws ERR_WEBHOOK_CA_FILE when unusable), then follows the file. */
export async function startCaBundleFile(options: { readonly file: string; readonly intervalMs: number; readonly log: Logger }): Promise<CaBundleFile> {
  let current = await fetchCaBundle(options.file);
  let running = false;
  const check = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      const next = await fetchCaBundle(options.file);
      if (next !== current) {
        current = next;
        options.log.info({ file: options.file }, 'webhook ca bundle reloaded');
      }
    } catch (error) {
      options.log.warn({ err: error, file: options.file }, 'webhook ca bundle reload skipped');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void check(), options.intervalMs);
  timer.unref();
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(options.file), () => void check());
    watcher.unref();
  } catch {
    // The interval still notices changes.
  }
  return {
    caBundle: () => current,
    stop: () => {
      clearInterval(timer);
      watcher?.close();
    },
  };
}
