// The one body reader of the HTTPS routes, on a real loopback HTTP server: within the limit, past it
// (drained, then answered), far past it (the connection is cut), a declared length beyond the drain
// limit, and a client that leaves mid-body.
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { DRAIN_FACTOR, isDeclaredBeyondDrain, readBody, type BodyRead } from '../../src/shared/request-body.ts';

const LIMIT = 1024;

interface Server {
  readonly port: number;
  /** What readBody gave for each request, in order (an Error when it rejected). */
  readonly reads: (BodyRead | Error)[];
  readonly declared: boolean[];
}

async function serve(t: ExecutionContext): Promise<Server> {
  const reads: (BodyRead | Error)[] = [];
  const declared: boolean[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    declared.push(isDeclaredBeyondDrain(req, LIMIT));
    readBody(req, LIMIT).then(
      (read) => {
        reads.push(read);
        res.writeHead(read.ok ? 200 : 413).end(read.ok ? String(read.body.length) : 'too large');
      },
      (error: unknown) => reads.push(error as Error),
    );
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as AddressInfo).port, reads, declared };
}

function send(port: number, payload: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; text: string } | Error> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', (error) => resolve(error));
    req.end(payload);
  });
}

/** Waits (up to 5 s) for the server side to settle after the client is done. */
const until = async (condition: () => boolean): Promise<void> => {
  const deadline = Date.now() + 5_000;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
};

test('a body within the limit is read whole, chunked or not', async (t) => {
  const server = await serve(t);
  const payload = Buffer.alloc(LIMIT, 'a');
  t.deepEqual(await send(server.port, payload), { status: 200, text: String(LIMIT) });
  t.deepEqual(await send(server.port, payload, { 'transfer-encoding': 'chunked' }), { status: 200, text: String(LIMIT) });
  const first = server.reads[0];
  t.true(first !== undefined && !(first instanceof Error) && first.ok && first.body.equals(payload));
  t.deepEqual(server.declared, [false, false]);
});

test('a body past the limit is drained and refused, and the client reads the answer', async (t) => {
  const server = await serve(t);
  t.deepEqual(await send(server.port, Buffer.alloc(LIMIT + 1, 'a')), { status: 413, text: 'too large' });
  t.deepEqual(await send(server.port, Buffer.alloc(LIMIT * DRAIN_FACTOR, 'a'), { 'transfer-encoding': 'chunked' }), { status: 413, text: 'too large' });
  t.deepEqual(server.reads, [{ ok: false, tooLarge: true }, { ok: false, tooLarge: true }]);
});

test('a body past the drain limit cuts the connection; a declared one is recognised before reading', async (t) => {
  const server = await serve(t);
  const reply = await send(server.port, Buffer.alloc(LIMIT * DRAIN_FACTOR * 4, 'a'), { 'transfer-encoding': 'chunked' });
  t.true(reply instanceof Error, 'the connection was cut, no answer');
  await until(() => server.reads.length === 1);
  t.true(server.reads[0] instanceof Error, 'the read rejected');
  t.deepEqual(server.declared, [false], 'a chunked body declares no length');

  const declared = await serve(t);
  await send(declared.port, Buffer.alloc(LIMIT * DRAIN_FACTOR + 1, 'a'));
  await send(declared.port, Buffer.alloc(LIMIT * DRAIN_FACTOR, 'a'));
  t.deepEqual(declared.declared, [true, false]);
});

test('a client that leaves before the body is complete: the read rejects', async (t) => {
  const server = await serve(t);
  await new Promise<void>((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port: server.port, method: 'POST', path: '/', headers: { 'content-length': '100' }, agent: false });
    req.on('error', () => resolve());
    req.write(Buffer.alloc(10, 'a'), () => setImmediate(() => {
      req.destroy();
      resolve();
    }));
  });
  await until(() => server.reads.length === 1);
  t.is(server.reads.length, 1);
  t.true(server.reads[0] instanceof Error, 'the read rejected (no partial body is handed on)');
});
