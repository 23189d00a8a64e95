// What the journeys read back from the real nodes: the replicas' metrics, the apps' output, the
// managed Secrets over time; and the Deployments they apply.
import { request as httpsRequest } from 'node:https';
import { buildAwsEnv } from '../../scripts/local/components.ts';
import { httpGet, run } from '../../scripts/local/procs.ts';
import { PIGGY_BIN } from './controller.ts';
import { appOutput, envDigests, fileDigests, runningPods, type Installation } from './journey.ts';
import { kube } from './kube.ts';
import { onRealNode } from './real-node.ts';
import { eventually, kubectl } from './stack.ts';

/** A metric summed over both replicas' /metrics. */
export async function metricOfBoth(inst: Installation, name: string): Promise<number> {
  let sum = 0;
  for (const node of ['127.0.0.1', '127.0.0.2']) {
    const res = await httpGet(`http://${node}:${inst.metricsPort}/metrics`);
    for (const line of res.body.split('\n')) if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.split(' ').pop());
  }
  return sum;
}

/** piggy_leader of the replica on node NODE (each listens on its pod IP, the node's address). */
export async function leaderGauge(node: string, port: number): Promise<number> {
  const res = await httpGet(`http://${node}:${port}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics on ${node} answered ${res.status}`);
  const line = res.body.split('\n').find((l) => l.startsWith('piggy_leader '));
  if (line === undefined) throw new Error(`no piggy_leader on ${node}`);
  return Number(line.split(' ')[1]);
}

/** The app's view of the newest Running pod of Deployment APP once its env shows WANT (name → sha256). */
export async function seenByNewestPod(namespace: string, app: string, want: Readonly<Record<string, string>>, container = 'app'): Promise<{ pod: string; lines: string[] }> {
  return eventually(async () => {
    const [pod] = await runningPods(namespace, app);
    const name = pod?.metadata?.name;
    if (name === undefined) throw new Error(`no running pod of ${app}`);
    const lines = await appOutput(namespace, name, container);
    const seen = { ...envDigests(lines), ...Object.fromEntries(Object.entries(fileDigests(lines)).map(([file, d]) => [file, d.sha256])) };
    const wrong = Object.keys(want).filter((key) => seen[key] !== want[key]);
    if (wrong.length > 0) throw new Error(`${name}: ${wrong.join(', ')} not as expected yet`);
    return { pod: name, lines };
  }, { timeoutMs: 120_000 });
}

/** A one-replica Deployment APP on the real nodes: the journey app image (no command), SHOW and EXTRA env. */
export function injectedDeployment(app: string, annotations: Record<string, string>, container: Record<string, unknown>, pod: Record<string, unknown> = {}): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: app },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app } },
      template: {
        metadata: { labels: { app }, annotations },
        spec: onRealNode({ terminationGracePeriodSeconds: 0, containers: [{ name: 'app', ...container }], ...pod }),
      },
    },
  };
}

/** `kubectl exec POD -- env`: what a person with exec access sees (never the resolved values). */
export async function execEnv(namespace: string, pod: string): Promise<string> {
  const res = await kubectl(['-n', namespace, 'exec', pod, '-c', 'app', '--', 'env']);
  if (res.code !== 0) throw new Error(`kubectl exec: ${res.stderr}`);
  return res.stdout;
}

/** Every piggy-managed Secret of NAMESPACE: name → data size, polled until stop(); records any that vanished or emptied. */
export function watchSecrets(namespace: string): { stop: () => Promise<string[]> } {
  const seen = new Map<string, number>();
  const problems: string[] = [];
  const state = { running: true };
  const loop = (async () => {
    while (state.running) {
      const list = await kube().core.listNamespacedSecret({ namespace, labelSelector: 'app.kubernetes.io/managed-by=piggy' });
      const now = new Map(list.items.map((s) => [s.metadata?.name ?? '', Object.keys(s.data ?? {}).length]));
      for (const [name] of seen) if (!now.has(name)) problems.push(`${name} disappeared`);
      for (const [name, keys] of now) if (keys === 0) problems.push(`${name} has no data`);
      for (const [name, keys] of now) seen.set(name, keys);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  return {
    stop: async () => {
      state.running = false;
      await loop;
      return problems;
    },
  };
}

export const readyReason = (awsSecret: { status?: { conditions?: { type: string; status: string; reason?: string }[] } }): string =>
  awsSecret.status?.conditions?.find((c) => c.type === 'Ready')?.reason ?? 'none';

/** POST /secret to a controller replica on loopback, trusting the CA the webhook gave the pod. */
export function postSecret(port: number, ca: string, token: string, body: object): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/secret', method: 'POST', ca, headers: { 'content-type': 'application/json', 'x-token': token } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** The piggy-env image the chart points the webhook at (repository@digest). */
export const launcherImage = (inst: Installation): string => `${inst.images.images['piggy-env'].pushed?.repository ?? ''}@${inst.images.images['piggy-env'].pushed?.digest ?? ''}`;

/** `piggy bump FILE` against the moto at AWSENDPOINT (what a user runs in their git checkout). */
export async function piggyBump(file: string, awsEndpoint: string): Promise<string> {
  const res = await run(process.execPath, [PIGGY_BIN, 'bump', file], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...buildAwsEnv(awsEndpoint) } });
  if (res.code !== 0) throw new Error(`piggy bump exited ${res.code}: ${res.stderr}`);
  return res.stdout;
}
