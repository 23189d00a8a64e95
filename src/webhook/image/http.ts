/**
 * One HTTP exchange with a registry or token server: bounded concurrency, a per-request timeout
 * inside the resolve budget, redirects followed by hand (Authorization dropped when the origin
 * changes, e.g. blob downloads redirected to object storage), bodies read up to a size limit.
 */
import { IMAGE_ERRORS, RegistryError } from './errors.ts';
import type { Limiter } from './limiter.ts';

export type RequestKind = 'manifest' | 'blob' | 'token';

export interface HttpDeps {
  readonly fetch: typeof fetch;
  readonly limiter: Limiter;
  readonly requestTimeoutMs: number;
  /** Called once per HTTP request sent: its kind and the status code, or 'error'. */
  readonly onRequest?: (kind: RequestKind, outcome: string) => void;
}

export interface HttpRequest {
  readonly url: URL;
  readonly method: 'GET' | 'HEAD' | 'POST';
  readonly headers: Record<string, string>;
  readonly body?: string;
  readonly kind: RequestKind;
  /** Host named in error messages (the registry, or the token server). */
  readonly host: string;
  /** The whole resolve's budget: when it aborts, so does this request. */
  readonly budget: AbortSignal;
  /** Bodies larger than this are refused (ERR_IMAGE_INVALID). */
  readonly maxBytes: number;
}

export interface HttpReply {
  readonly status: number;
  readonly headers: Headers;
  /** The body of a 2xx answer to GET/POST; empty otherwise. */
  readonly body: Uint8Array;
}

const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export async function sendRequest(deps: HttpDeps, request: HttpRequest): Promise<HttpReply> {
  // The per-request timeout starts once a slot is free; waiting for one counts against the budget only.
  let timeout: AbortSignal | undefined;
  try {
    return await deps.limiter.run(() => {
      timeout = AbortSignal.timeout(deps.requestTimeoutMs);
      return exchange(deps, request, AbortSignal.any([request.budget, timeout]));
    }, request.budget);
  } catch (error) {
    if (error instanceof RegistryError) throw error;
    throw classifyFailure(error, request, timeout, deps.requestTimeoutMs);
  }
}

async function exchange(deps: HttpDeps, request: HttpRequest, signal: AbortSignal): Promise<HttpReply> {
  let url = request.url;
  const headers = { ...request.headers };
  for (let hop = 0; ; hop += 1) {
    let response: Response;
    try {
      response = await deps.fetch(url, {
        method: request.method,
        headers,
        body: request.body ?? null,
        redirect: 'manual',
        signal,
      });
    } catch (error) {
      deps.onRequest?.(request.kind, 'error');
      throw error;
    }
    deps.onRequest?.(request.kind, String(response.status));
    const location = response.headers.get('location');
    if (REDIRECTS.has(response.status) && location !== null) {
      await response.body?.cancel();
      if (hop >= MAX_REDIRECTS) {
        throw new RegistryError(IMAGE_ERRORS.unreachable, `registry ${request.host} redirected more than ${MAX_REDIRECTS} times`);
      }
      const next = new URL(location, url);
      if (next.protocol !== 'https:' && next.protocol !== 'http:') {
        throw new RegistryError(IMAGE_ERRORS.invalid, `registry ${request.host} redirected to an unsupported URL scheme`);
      }
      if (next.origin !== url.origin) delete headers.authorization;
      url = next;
      continue;
    }
    const ok = response.status >= 200 && response.status < 300;
    if (!ok || request.method === 'HEAD') {
      await response.body?.cancel();
      return { status: response.status, headers: response.headers, body: new Uint8Array() };
    }
    return { status: response.status, headers: response.headers, body: await readLimited(response, request) };
  }
}

async function readLimited(response: Response, request: HttpRequest): Promise<Uint8Array> {
  const tooLarge = (): RegistryError =>
    new RegistryError(IMAGE_ERRORS.invalid, `the ${request.kind} from ${request.host} is larger than ${request.maxBytes} bytes`);
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > request.maxBytes) {
    await response.body?.cancel();
    throw tooLarge();
  }
  if (response.body === null) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader: ReadableStreamDefaultReader<Uint8Array> = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > request.maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

function classifyFailure(error: unknown, request: HttpRequest, timeout: AbortSignal | undefined, timeoutMs: number): RegistryError {
  const host = request.host;
  if (request.budget.aborted) {
    return new RegistryError(IMAGE_ERRORS.unreachable, `the time allowed to read the image ran out while waiting for ${host}`, {
      cause: error,
      details: { host },
    });
  }
  if (timeout?.aborted === true) {
    return new RegistryError(IMAGE_ERRORS.unreachable, `${host} did not answer within ${timeoutMs} ms`, { cause: error, details: { host } });
  }
  const code = networkCode(error);
  const reason = code === undefined ? 'the connection failed' : `the connection failed (${code})`;
  return new RegistryError(IMAGE_ERRORS.unreachable, `cannot reach ${host}: ${reason}`, { cause: error, details: { host, code } });
}

/** ECONNREFUSED, ENOTFOUND, CERT_HAS_EXPIRED…: the system code from fetch's cause chain, if any. */
function networkCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current !== null && typeof current === 'object'; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z0-9_]+$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
