// What the API server did while a phase ran: its requests by verb and resource (from its own
// apiserver_request_total counter) and, on request, its Go CPU profile (/debug/pprof/profile).
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { parseMetricSamples } from '../../scripts/local/piggy-controller.ts';

async function apiserverGet(kc: KubeConfig, path: string): Promise<Buffer> {
  const server = kc.getCurrentCluster()?.server;
  if (server === undefined) throw new Error('the kubeconfig names no cluster');
  const options: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(options);
  return new Promise((resolve, reject) => {
    const request = https.get(new URL(path, server), { ...options, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => (response.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`GET ${path}: HTTP ${response.statusCode}`))));
      response.on('error', reject);
    });
    request.on('error', reject);
  });
}

/** Requests served so far, keyed "VERB resource[/subresource]" (watches and lists included). */
export async function requestCounts(kc: KubeConfig): Promise<Map<string, number>> {
  const text = (await apiserverGet(kc, '/metrics')).toString('utf8');
  const counts = new Map<string, number>();
  for (const sample of parseMetricSamples(text, 'apiserver_request_total')) {
    const resource = sample.labels.get('resource') ?? '';
    if (resource === '') continue; // /metrics, /readyz and the like
    const subresource = sample.labels.get('subresource') ?? '';
    const key = `${sample.labels.get('verb') ?? '?'} ${resource}${subresource === '' ? '' : `/${subresource}`}`;
    counts.set(key, (counts.get(key) ?? 0) + sample.value);
  }
  return counts;
}

/** The requests between two readings, per object, largest first ("POST secrets 1.00, …"). */
export function describeRequests(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>, objects: number): string {
  const rows = [...after]
    .map(([key, n]) => [key, (n - (before.get(key) ?? 0)) / objects] as const)
    .filter(([key, n]) => n >= 0.005 && !key.endsWith(' leases'))
    .sort((a, b) => b[1] - a[1]);
  return rows.map(([key, n]) => `${key} ${n.toFixed(2)}`).join(', ') || 'none';
}

/** Starts a CPU profile of the API server for `seconds`; resolves once it is written to FILE. */
export async function profileApiserver(kc: KubeConfig, seconds: number, file: string): Promise<void> {
  writeFileSync(file, await apiserverGet(kc, `/debug/pprof/profile?seconds=${seconds}`));
}
