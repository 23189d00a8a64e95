// A tiny HTTP proxy in front of the real AWS emulator (moto) for fault injection: it forwards every
// request to moto unchanged, unless told to answer like a throttling, failing or silent AWS. Not a
// mock: in 'pass' mode the answers are moto's. It also counts requests by X-Amz-Target, which is what
// AWS bills and throttles, so tests can assert how many calls an operation cost.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * pass: forward to the target. throttle: HTTP 400 with AWS's JSON-protocol ThrottlingException.
 * unavailable: HTTP 503 with a non-AWS body (as a load balancer answers). reset: close the socket
 * without an answer. hang: never answer (until close()).
 */
export type FaultMode = 'pass' | 'throttle' | 'unavailable' | 'reset' | 'hang';

export interface FaultProxy {
  /** http://127.0.0.1:PORT, for an SDK client's `endpoint`. */
  readonly url: string;
  setMode(mode: FaultMode): void;
  /** The next n requests are throttled whatever the mode; later ones follow the mode again. */
  throttleNext(n: number): void;
  /** Requests received (answered by moto or by a fault), by X-Amz-Target, e.g. `secretsmanager.GetSecretValue`. */
  readonly requests: ReadonlyMap<string, number>;
  /** Requests received whose X-Amz-Target ends with `.${api}` (every target when omitted). */
  count(api?: string): number;
  /** Zeroes the counters. */
  resetCounts(): void;
  close(): Promise<void>;
}

const THROTTLE_BODY = JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' });

function answerThrottled(res: http.ServerResponse): void {
  res.writeHead(400, {
    'content-type': 'application/x-amz-json-1.1',
    'x-amzn-errortype': 'ThrottlingException',
    'x-amzn-requestid': randomUUID(),
    'content-length': Buffer.byteLength(THROTTLE_BODY),
  });
  res.end(THROTTLE_BODY);
}

function answerUnavailable(res: http.ServerResponse): void {
  const body = '<html><body>503 Service Unavailable</body></html>';
  res.writeHead(503, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function forward(target: URL, req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): void {
  const upstream = http.request(
    {
      protocol: target.protocol,
      hostname: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      headers: req.headers,
    },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on('error', () => res.destroy());
  upstream.end(body);
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const requests = new Map<string, number>();
  let mode: FaultMode = 'pass';
  let throttleRemaining = 0;
  const hanging = new Set<http.ServerResponse>();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const header = req.headers['x-amz-target'];
      const key = typeof header === 'string' ? header : `${req.method ?? 'GET'} ${req.url ?? '/'}`;
      requests.set(key, (requests.get(key) ?? 0) + 1);
      if (throttleRemaining > 0) {
        throttleRemaining -= 1;
        answerThrottled(res);
        return;
      }
      switch (mode) {
        case 'pass':
          forward(upstream, req, Buffer.concat(chunks), res);
          return;
        case 'throttle':
          answerThrottled(res);
          return;
        case 'unavailable':
          answerUnavailable(res);
          return;
        case 'reset':
          req.socket.destroy();
          return;
        case 'hang':
          hanging.add(res);
          res.on('close', () => hanging.delete(res));
          return;
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setMode(next) {
      mode = next;
    },
    throttleNext(n) {
      throttleRemaining = n;
    },
    count(api) {
      let total = 0;
      for (const [key, n] of requests) if (api === undefined || key.endsWith(`.${api}`)) total += n;
      return total;
    },
    resetCounts() {
      requests.clear();
    },
    close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
