// A TLS-terminating HTTP proxy in front of the stack's real kube-apiserver, for a client whose
// connection stops answering. Every request is forwarded unchanged (the caller's own bearer token
// goes through) and every answer, watch streams included, comes back from the API server, unless
// the request matches `hold`: then it is never answered, and the connection stays open. `holdAll()`
// also freezes the answers already streaming (a watch stops receiving events), as a dead
// connection does. Not a mock: in pass mode the answers are the API server's.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { ExecutionContext } from 'ava';
import { kubeConfigPath } from './stack.ts';
import { makeServingCertificate } from './tls.ts';

export type HoldRule = (request: { readonly method: string; readonly path: string }) => boolean;

export interface KubeFaultProxy {
  /** A kubeconfig whose server is the proxy (the stack's credentials). */
  readonly kubeconfig: string;
  /** Requests that match are held (never answered) from now on; the others pass. */
  hold(rule: HoldRule): void;
  /** Every request is held and every answer in flight stops, as a connection that went silent. */
  holdAll(): void;
  /** Back to forwarding everything (held requests stay unanswered). */
  pass(): void;
  /** How many requests are being held. */
  held(): number;
}

export async function startKubeFaultProxy(t: ExecutionContext): Promise<KubeFaultProxy> {
  const upstream = new KubeConfig();
  upstream.loadFromFile(kubeConfigPath());
  const cluster = upstream.getCurrentCluster();
  if (cluster === null) throw new Error('the stack kubeconfig names no cluster');
  const target = new URL(cluster.server);
  const ca = cluster.caData === undefined ? undefined : Buffer.from(cluster.caData, 'base64');
  const agent = new https.Agent({ ca, keepAlive: true });
  const cert = await makeServingCertificate();
  let rule: HoldRule | undefined;
  let frozen = false;
  const held = new Set<ServerResponse>();
  const streaming = new Set<IncomingMessage>();

  const server = https.createServer({ cert: cert.cert, key: await readFile(cert.keyFile) }, (req, res) => {
    const path = req.url ?? '/';
    if (frozen || rule?.({ method: req.method ?? 'GET', path }) === true) {
      held.add(res);
      res.on('close', () => held.delete(res));
      req.resume();
      return;
    }
    const forwarded = https.request(
      { protocol: target.protocol, hostname: target.hostname, port: target.port, method: req.method, path, headers: { ...req.headers, host: target.host }, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        streaming.add(answer);
        answer.on('close', () => streaming.delete(answer));
        answer.pipe(res);
      },
    );
    forwarded.on('error', () => res.destroy());
    res.on('close', () => forwarded.destroy());
    req.pipe(forwarded);
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;

  const dir = await mkdtemp(join(tmpdir(), 'piggy-kube-proxy-'));
  const kubeconfig = join(dir, 'kubeconfig');
  const user = upstream.getCurrentUser();
  await writeFile(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'proxy', cluster: { server: `https://127.0.0.1:${port}`, 'certificate-authority-data': Buffer.from(cert.cert).toString('base64') } }],
      users: [{ name: 'proxy', user: { token: user?.token } }],
      contexts: [{ name: 'proxy', context: { cluster: 'proxy', user: 'proxy' } }],
      'current-context': 'proxy',
    }),
  );
  t.teardown(async () => {
    for (const res of held) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    agent.destroy();
  });
  return {
    kubeconfig,
    hold: (next) => {
      rule = next;
    },
    holdAll: () => {
      frozen = true;
      for (const answer of streaming) answer.unpipe();
    },
    pass: () => {
      rule = undefined;
      frozen = false;
    },
    held: () => held.size,
  };
}
