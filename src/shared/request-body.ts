/**
 * A request body read with a size limit, for the routes on the HTTPS listener (`/mutate`, `/secret`).
 * A body past the limit is refused by the caller (413); it is still read and dropped up to
 * DRAIN_FACTOR times the limit, so that a client that sends its whole body first reads the answer
 * on a kept-alive connection; beyond that the connection is cut. A Content-Length already beyond the
 * drain limit is refused before anything is read (answer with `Connection: close`).
 */
import type { IncomingMessage } from 'node:http';

export const DRAIN_FACTOR = 16;

export type BodyRead = { readonly ok: true; readonly body: Buffer } | { readonly ok: false; readonly tooLarge: true };

/** The declared Content-Length is beyond what is drained: refuse at once and close the connection. */
export function isDeclaredBeyondDrain(req: IncomingMessage, limitBytes: number): boolean {
  return Number(req.headers['content-length'] ?? '0') > limitBytes * DRAIN_FACTOR;
}

/** Reads the body; rejects when the client closes the connection before the body is complete. */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<BodyRead> {
  const drainLimit = limitBytes * DRAIN_FACTOR;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    req.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total <= limitBytes) chunks.push(chunk);
      else if (total > drainLimit) req.destroy();
    });
    req.on('end', () => resolve(total > limitBytes ? { ok: false, tooLarge: true } : { ok: true, body: Buffer.concat(chunks) }));
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete) reject(new Error('the client closed the connection before the body was complete'));
    });
  });
}
