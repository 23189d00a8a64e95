import { createServer } from 'node:http';
import type { HostPort } from '../config/parse.ts';
import type { Metrics } from '../shared/metrics.ts';
import { closeGracefully } from './close-gracefully.ts';
import type { RunningListener } from './https-listener.ts';
import { listen } from './listen.ts';

/** Plain HTTP listener serving Prometheus `/metrics` (and nothing else). */
export async function startMetricsListener(address: HostPort, metrics: Metrics): Promise<RunningListener> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    metrics.registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body),
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
    );
  });
  const port = await listen(server, address);
  return { port, server, close: (timeoutMs) => closeGracefully(server, timeoutMs) };
}
