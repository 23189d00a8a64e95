import { request } from 'node:https';
import test from 'ava';
import { startHttpsListener } from '../../src/server/https-listener.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { makeServingCertificate } from '../helpers/tls.ts';

function get(port: number, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/slow', ca, servername: 'localhost', agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('close() lets an in-flight request finish, then stops', async (t) => {
  const tls = await makeServingCertificate();
  let arrived!: () => void;
  const inFlight = new Promise<void>((resolve) => (arrived = resolve));
  const listener = await startHttpsListener({
    address: { host: '127.0.0.1', port: 0 },
    certFile: tls.certFile,
    keyFile: tls.keyFile,
    reloadIntervalMs: 60_000,
    log: createLogger({ level: 'silent' }),
    handler: (_req, res) => {
      arrived();
      setTimeout(() => res.writeHead(200).end('finished'), 500);
    },
  });
  const reply = get(listener.port, tls.cert);
  await inFlight;
  const closedAt = listener.close(5_000).then(() => Date.now());
  t.deepEqual(await reply, { status: 200, body: 'finished' });
  const replyAt = Date.now();
  t.true((await closedAt) >= replyAt - 5, 'the listener closed after the reply');
  await t.throwsAsync(get(listener.port, tls.cert), undefined, 'no new connections after close');
});

test('close() cuts a request that outlives the timeout', async (t) => {
  const tls = await makeServingCertificate();
  let arrived!: () => void;
  const inFlight = new Promise<void>((resolve) => (arrived = resolve));
  const listener = await startHttpsListener({
    address: { host: '127.0.0.1', port: 0 },
    certFile: tls.certFile,
    keyFile: tls.keyFile,
    reloadIntervalMs: 60_000,
    log: createLogger({ level: 'silent' }),
    handler: () => arrived(),
  });
  const reply = get(listener.port, tls.cert);
  await inFlight;
  const started = Date.now();
  await listener.close(300);
  t.true(Date.now() - started < 3_000);
  await t.throwsAsync(reply);
});
