/**
 * One HTTP(S) request with a total deadline and a bounded response, on node:http(s) (no keep-alive,
 * no global agent, so no proxy or pool settings of the app's environment apply). TLS is always
 * verified — `rejectUnauthorized` is explicit, so NODE_TLS_REJECT_UNAUTHORIZED=0 in the app's env
 * cannot turn it off — against `ca` alone when given, else Node's bundled roots.
 *
 * `ca` becomes the process's default CA set (tls.setDefaultCACertificates) instead of the request's
 * `ca` option: with the option, OpenSSL's store is first filled with Node's ~150 bundled roots and the
 * CA added to them (measured: the TLS connection took 28 ms instead of 12, most of the launcher's
 * proxy round trip), while the default set holds the given certificates alone. Either way nothing
 * else is trusted.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { AppError } from '../shared/errors.ts';
import { builtins } from './builtins.ts';
import { ENV_ERRORS } from './error-codes.ts';

export interface HttpRequest {
  readonly url: URL;
  readonly method: 'GET' | 'POST';
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly timeoutMs: number;
  /** PEM certificates: the only roots trusted for this request. */
  readonly ca?: string;
  /** Response bodies above this many bytes are refused. */
  readonly maxBytes: number;
  /** Code of the AppError thrown on transport failures. */
  readonly errorCode: string;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export type SendHttp = (request: HttpRequest) => Promise<HttpResponse>;

/** Certificate and TLS handshake failures: retrying cannot fix them, and they must not be worked around. */
export function isTlsVerificationFailure(code: string | undefined): boolean {
  return code !== undefined && /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_SSL|ERR_TLS|EPROTO/.test(code);
}

function transportError(req: HttpRequest, error: unknown): AppError {
  const code = (error as { code?: string } | undefined)?.code;
  const tls = isTlsVerificationFailure(code);
  const what = tls ? 'TLS verification failed' : 'request failed';
  return new AppError(tls ? ENV_ERRORS.tls : req.errorCode, `${what}: ${req.method} ${req.url.origin}${req.url.pathname}: ${code ?? (error instanceof Error ? error.message : 'error')}`, {
    kind: tls ? 'terminal' : 'transient',
    cause: error,
    details: { code },
  });
}

/** The PEM blocks of a bundle, one certificate each (what setDefaultCACertificates takes). */
export function splitPemCertificates(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
}

/** The CA bundle the process's default set holds now; undefined: Node's bundled roots. */
let trusted: string | undefined;

/** Makes the process trust exactly `ca` (or, undefined, Node's bundled roots) for connections without a `ca` option. */
function trustOnly(ca: string | undefined): void {
  if (ca === trusted) return;
  const tls = builtins.tls();
  const certificates = ca === undefined ? tls.getCACertificates('bundled') : splitPemCertificates(ca);
  if (certificates.length === 0) throw Object.assign(new Error('the CA bundle holds no PEM certificate'), { code: 'ERR_TLS_CA_BUNDLE' });
  tls.setDefaultCACertificates(certificates);
  trusted = ca;
}

export const sendHttp: SendHttp = (req) =>
  new Promise<HttpResponse>((resolve, reject) => {
    const https = req.url.protocol === 'https:';
    if (https) {
      try {
        trustOnly(req.ca);
      } catch (error) {
        reject(transportError(req, error));
        return;
      }
    }
    const options = {
      method: req.method,
      headers: { ...req.headers, ...(req.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(req.body)) }) },
      agent: false as const,
      ...(https ? { rejectUnauthorized: true } : {}),
    };
    let settled = false;
    const finish = (error: unknown, response?: HttpResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (response === undefined) reject(error instanceof AppError ? error : transportError(req, error));
      else resolve(response);
    };
    const client = (https ? builtins.https().request : builtins.http().request)(req.url, options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > req.maxBytes) {
          finish(new AppError(req.errorCode, `response too large: more than ${req.maxBytes} bytes from ${req.url.origin}`, { kind: 'terminal' }));
          client.destroy();
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', (error) => finish(error));
      res.on('end', () => finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    const timer = setTimeout(() => {
      const error = Object.assign(new Error(`timed out after ${req.timeoutMs} ms`), { code: 'ETIMEDOUT' });
      finish(error);
      client.destroy(error);
    }, req.timeoutMs);
    client.on('error', (error) => finish(error));
    client.end(req.body);
  });
