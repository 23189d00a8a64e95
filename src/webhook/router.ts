/**
 * `POST /mutate` for express. Strict transport: whatever arrives (wrong method, wrong content type,
 * oversized or malformed body), the answer is an AdmissionReview, never an empty body or a crash.
 */
import { Router, type Request, type Response } from 'express';
import { isDeclaredBeyondDrain, readBody } from '../shared/request-body.ts';
import { MAX_REVIEW_BYTES, buildDenied, type AdmissionReview } from './admission.ts';
import { WEBHOOK_ERRORS, handleAdmission, type WebhookDeps } from './review.ts';

export const MUTATE_PATH = '/mutate';
function isJsonContentType(header: string | undefined): boolean {
  const mediaType = (header ?? '').split(';', 1)[0]?.trim().toLowerCase();
  return mediaType === 'application/json';
}

function send(res: Response, status: number, review: AdmissionReview): void {
  res.status(status).type('application/json').send(JSON.stringify(review));
}

async function serve(req: Request, res: Response, deps: WebhookDeps): Promise<void> {
  const reject = (status: number, reason: string, message: string) => {
    deps.log.warn({ code: WEBHOOK_ERRORS.malformed, method: req.method, status, problem: message }, 'malformed admission review');
    send(res, status, buildDenied('', 400, `piggy: ${message}`, reason));
  };
  if (req.method !== 'POST') {
    res.setHeader('Allow', 'POST');
    reject(405, 'MethodNotAllowed', `${req.method} is not allowed: POST an AdmissionReview`);
    return;
  }
  if (!isJsonContentType(req.headers['content-type'])) {
    reject(415, 'UnsupportedMediaType', 'the Content-Type must be application/json');
    return;
  }
  if (isDeclaredBeyondDrain(req, MAX_REVIEW_BYTES)) {
    res.setHeader('Connection', 'close');
    reject(413, 'RequestEntityTooLarge', `the body exceeds ${MAX_REVIEW_BYTES} bytes`);
    return;
  }
  // A body parser mounted before this router may already have read the body.
  const preParsed: unknown = req.body;
  let body: unknown = preParsed;
  if (preParsed === undefined) {
    const read = await readBody(req, MAX_REVIEW_BYTES);
    if (!read.ok) {
      reject(413, 'RequestEntityTooLarge', `the body exceeds ${MAX_REVIEW_BYTES} bytes`);
      return;
    }
    body = read.body;
  }
  const review = await handleAdmission(body, deps);
  send(res, review.response.status?.reason === 'BadRequest' ? 400 : 200, review);
}

/** Mounts `/mutate` (every method, so a wrong one still gets an AdmissionReview). */
export function buildWebhookRouter(deps: WebhookDeps): Router {
  const router = Router();
  router.all(MUTATE_PATH, async (req, res) => {
    try {
      await serve(req, res, deps);
    } catch (error) {
      deps.log.warn({ err: error, code: WEBHOOK_ERRORS.malformed }, 'admission request failed');
      if (!res.headersSent && !req.destroyed) send(res, 400, buildDenied('', 400, 'piggy: the request body could not be read', 'BadRequest'));
    }
  });
  return router;
}
