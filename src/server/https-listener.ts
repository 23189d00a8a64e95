import { X509Certificate } from 'node:crypto';
import { createServer } from 'node:https';
import type { RequestListener, Server } from 'node:http';
import type { HostPort } from '../config/parse.ts';
import type { Logger } from '../shared/logger.ts';
import { fetchKeyPair, watchCertificateFiles } from './certificate-files.ts';
import { closeGracefully } from './close-gracefully.ts';
import { listen } from './listen.ts';

export interface HttpsListenerOptions {
  readonly address: HostPort;
  readonly certFile: string;
  readonly keyFile: string;
  readonly reloadIntervalMs: number;
  readonly handler: RequestListener;
  readonly log: Logger;
}

export interface RunningListener {
  readonly port: number;
  readonly server: Server;
  close(timeoutMs: number): Promise<void>;
}

export interface RunningHttpsListener extends RunningListener {
  /** Why the certificate served now is not valid (expired, not yet valid), for readiness; undefined when it is. */
  certificateProblem(now?: Date): string | undefined;
}

/** The validity window of the first certificate of a PEM chain. */
function validityOf(cert: Buffer): { from: Date; to: Date } {
  const parsed = new X509Certificate(cert);
  return { from: new Date(parsed.validFrom), to: new Date(parsed.validTo) };
}

/** The HTTPS listener, serving the current certificate and picking up renewed files. */
export async function startHttpsListener(options: HttpsListenerOptions): Promise<RunningHttpsListener> {
  const initial = await fetchKeyPair(options.certFile, options.keyFile);
  let validity = validityOf(initial.cert);
  const server = createServer({ cert: initial.cert, key: initial.key, minVersion: 'TLSv1.2' }, options.handler);
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 30_000;
  const stopWatching = watchCertificateFiles({
    certFile: options.certFile,
    keyFile: options.keyFile,
    intervalMs: options.reloadIntervalMs,
    initial,
    log: options.log,
    onChange: (pair) => {
      server.setSecureContext({ cert: pair.cert, key: pair.key, minVersion: 'TLSv1.2' });
      validity = validityOf(pair.cert);
    },
  });
  const port = await listen(server, options.address).catch((error: unknown) => {
    stopWatching();
    throw error;
  });
  return {
    port,
    server,
    certificateProblem: (now = new Date()) => {
      if (now < validity.from) return `the serving certificate ${options.certFile} is not valid before ${validity.from.toISOString()}`;
      if (now > validity.to) return `the serving certificate ${options.certFile} expired at ${validity.to.toISOString()}`;
      return undefined;
    },
    close: async (timeoutMs) => {
      stopWatching();
      await closeGracefully(server, timeoutMs);
    },
  };
}
