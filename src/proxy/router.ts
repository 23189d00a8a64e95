/**
 * `POST /secret` for express: transport (method, content type, bounded body, bounded concurrency),
 * then handleSecretRequest, then one JSON answer, one log line and the metrics. Answers are
 * `Cache-Control: no-store`; refusals are `{code, message}` with the status of errors.ts.
 */
import { Router, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
import type { Logger } from '../shared/logger.ts';
import { isDeclaredBeyondDrain, readBody } from '../shared/request-body.ts';
import { buildRefusal, buildResultLabel, PROXY_ERRORS, type Refusal } from './errors.ts';
import { handleSecretRequest, type Outcome, type ProxyHandlerDeps, type RequestFacts } from './handler.ts';
import { createLimiter } from './limiter.ts';
import { buildProxyMetrics } from './metrics.ts';
import { MAX_BODY_BYTES, parseSecretRequest, parseTokenHeader, TOKEN_HEADER } from './request.ts';
import { buildUnauthenticated } from './identity.ts';

export const SECRET_PATH = '/secret';

export interface ProxyRouterDeps extends Omit<ProxyHandlerDeps, 'onTokenReview'> {
  readonly log: Logger;
  /** The process registry; the proxy registers its metrics on it. */
  readonly registry: Registry;
  /** Requests served at once (TokenReview, pod read, AWS read); default 64. */
  readonly maxConcurrency?: number;
  /** Requests waiting for a slot beyond that; default 1024. Beyond both: 429 with Retry-After. */
  readonly maxQueued?: number;
  /** Longest wait for a slot; default 10 s, then 429. */
  readonly maxQueueWaitMs?: number;
  /** Largest body; default 16 KiB (413 beyond). */
  readonly maxBodyBytes?: number;
}

/** What serving a request came to: a handled outcome, or a transport refusal (with the error behind it). */
interface Served {
  readonly outcome?: Outcome;
  readonly refusal?: Refusal;
  readonly facts?: RequestFacts;
  readonly error?: unknown;
}

function isJsonOrUnset(header: string | undefined): boolean {
  if (header === undefined || header.trim() === '') return true;
  return header.split(';', 1)[0]?.trim().toLowerCase() === 'application/json';
}

function sendJson(res: Response, status: number, body: unknown, retryAfterSeconds?: number): void {
  res.status(status).set('Cache-Control', 'no-store');
  if (retryAfterSeconds !== undefined) res.set('Retry-After', String(retryAfterSeconds));
  res.type('application/json').send(JSON.stringify(body));
}

function sendRefusal(res: Response, refusal: Refusal): void {
  sendJson(res, refusal.status, { code: refusal.code, message: refusal.message }, refusal.retryAfterSeconds);
}

/**
 * An error for the log line: code and message (and the stack of an unexpected one), never the error
 * object itself: a raw client error may carry a request or response body, and a TokenReview's
 * response echoes the token.
 */
function errorFields(error: unknown, withStack: boolean): Record<string, unknown> {
  if (error === undefined) return {};
  const code = (error as { code?: unknown }).code;
  return {
    errCode: typeof code === 'string' ? code : undefined,
    errMessage: error instanceof Error ? error.message : typeof error,
    ...(withStack && error instanceof Error ? { errStack: error.stack } : {}),
  };
}

export function buildProxyRouter(deps: ProxyRouterDeps): Router {
  const metrics = buildProxyMetrics(deps.registry);
  const limiter = createLimiter({
    maxInFlight: deps.maxConcurrency ?? 64,
    maxQueued: deps.maxQueued ?? 1024,
    maxWaitMs: deps.maxQueueWaitMs ?? 10_000,
  });
  metrics.watchLoad(() => ({ inFlight: limiter.inFlight(), queued: limiter.queued() }));
  const maxBodyBytes = deps.maxBodyBytes ?? MAX_BODY_BYTES;
  const handlerDeps: ProxyHandlerDeps = { ...deps, onTokenReview: (source) => metrics.recordTokenReview(source) };

  async function serve(req: Request, res: Response): Promise<Served> {
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return { refusal: buildRefusal(PROXY_ERRORS.methodNotAllowed, `${req.method} is not allowed: POST the request`) };
    }
    if (!isJsonOrUnset(req.headers['content-type'])) {
      return { refusal: buildRefusal(PROXY_ERRORS.unsupportedMediaType, 'the Content-Type must be application/json') };
    }
    const tooLarge = buildRefusal(PROXY_ERRORS.bodyTooLarge, `the body exceeds ${maxBodyBytes} bytes`);
    if (isDeclaredBeyondDrain(req, maxBodyBytes)) {
      res.setHeader('Connection', 'close');
      return { refusal: tooLarge };
    }
    const read = await readBody(req, maxBodyBytes);
    if (!read.ok) return { refusal: tooLarge };
    const token = parseTokenHeader(req.headers[TOKEN_HEADER]);
    if (token === undefined) return { refusal: buildUnauthenticated() };
    const parsed = parseSecretRequest(read.body);
    if (!parsed.ok) return { refusal: parsed.refusal };
    const release = await limiter.acquire();
    if (release === undefined) {
      return { refusal: buildRefusal(PROXY_ERRORS.busy, 'too many secret requests at once; retry later'), facts: { pod: parsed.request.name } };
    }
    try {
      if (req.socket.destroyed) return { facts: { pod: parsed.request.name } }; // the caller left while queued
      return { outcome: await handleSecretRequest(parsed.request, token, handlerDeps) };
    } finally {
      release();
    }
  }

  const router = Router();
  router.all(SECRET_PATH, async (req, res) => {
    const started = process.hrtime.bigint();
    let result: Served;
    try {
      result = await serve(req, res);
    } catch (error) {
      const unreadable = !req.complete;
      result = unreadable
        ? { refusal: buildRefusal(PROXY_ERRORS.badRequest, 'the body could not be read') }
        : { refusal: buildRefusal(PROXY_ERRORS.internal, 'internal error (see the controller log)'), error };
    }
    const { outcome } = result;
    const refusal = outcome === undefined ? result.refusal : outcome.ok ? undefined : outcome.refusal;
    if (!res.headersSent && !req.socket.destroyed) {
      if (outcome?.ok === true) sendJson(res, 200, outcome.body);
      else if (refusal !== undefined) sendRefusal(res, refusal);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const resultLabel = outcome === undefined && refusal === undefined ? 'abandoned' : buildResultLabel(refusal?.code);
    metrics.recordRequest(resultLabel, seconds);
    const level = refusal?.code === PROXY_ERRORS.internal ? 'error' : 'info';
    deps.log[level](
      {
        route: SECRET_PATH,
        status: outcome?.ok === true ? 200 : refusal?.status,
        result: resultLabel,
        code: refusal?.code,
        ...(outcome?.facts ?? result.facts ?? {}),
        ...errorFields(outcome !== undefined && !outcome.ok ? outcome.error : result.error, level === 'error'),
        durationMs: Math.round(seconds * 1000),
      },
      'secret request',
    );
  });
  return router;
}
