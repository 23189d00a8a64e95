/**
 * One HTTP(S) request with a total deadline and a bounded response, on node:http(s) (no keep-alive,
 * no global agent, so no proxy or pool settings of the app's environment apply). TLS is always
 * verified — `rejectUnauthorized` is explicit, so NODE_TLS_REJECT_UNAUTHORIZED=0 in the app's env
 * cannot turn it off — against `ca` alone when given, else Node's bundled roots.
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

export const sendHttp: SendHttp = (req) =>
  new Promise<HttpResponse>((resolve, reject) => {
    const https = req.url.protocol === 'https:';
    const options = {
      method: req.method,
      headers: { ...req.headers, ...(req.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(req.body)) }) },
      agent: false as const,
      ...(https ? { rejectUnauthorized: true, ...(req.ca === undefined ? {} : { ca: req.ca }) } : {}),
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
