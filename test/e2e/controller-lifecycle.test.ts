// The controller's life as a process against the real API server: leadership when its API-server
// connection goes silent, readiness while its caches cannot sync or its Lease cannot be written.
import { request } from 'node:https';
import test, { type ExecutionContext } from 'ava';
import { createSecretVersions, decodeData } from '../helpers/aws.ts';
import { localControllerEnv, startPiggy, type PiggyProcess } from '../helpers/controller.ts';
import { applyCrds } from '../helpers/crd.ts';
import { startKubeFaultProxy } from '../helpers/kube-fault-proxy.ts';
import { createTestNamespace, kube } from '../helpers/kube.ts';
import { createAWSSecret, ref } from '../helpers/operator.ts';
import { eventually, uniqueName } from '../helpers/stack.ts';
import { makeServingCertificate } from '../helpers/tls.ts';

test.before(async () => {
  await applyCrds();
});

interface Controller {
  readonly piggy: PiggyProcess;
  readonly metricsPort: number;
  /** GET /readyz: the status and the parsed body. */
  readyz(): Promise<{ status: number; body: { ready: boolean; reasons?: Record<string, string> } }>;
  leaderGauge(): Promise<number>;
}

async function startController(t: ExecutionContext, namespace: string, env: Record<string, string>): Promise<Controller> {
  const tls = await makeServingCertificate();
  const piggy = startPiggy(t, ['controller'], {
    ...localControllerEnv(tls),
    WEBHOOK_ENABLED: 'false',
    PROXY_ENABLED: 'false',
    WATCH_NAMESPACE: namespace,
    LEASE_NAMESPACE: namespace,
    LEASE_DURATION: '6s',
    LEASE_RENEW_DEADLINE: '4s',
    LEASE_RETRY_PERIOD: '500ms',
    SHUTDOWN_DRAIN_DELAY: '0s',
    LOG_LEVEL: 'debug',
    ...env,
  });
  const started = await piggy.waitForLog((line) => line.msg === 'controller started');
  const httpsPort = started.httpsPort as number;
  const metricsPort = started.metricsPort as number;
  return {
    piggy,
    metricsPort,
    readyz: () =>
      new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: httpsPort, path: '/readyz', ca: tls.cert, agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as { ready: boolean; reasons?: Record<string, string> } }));
        });
        req.on('error', reject);
        req.end();
      }),
    leaderGauge: async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return Number(/^piggy_leader (\d)/m.exec(text)?.[1] ?? 'NaN');
    },
  };
}

test('the leader whose API-server connection goes silent steps down before the other replica takes over: never two piggy_leader 1', async (t) => {
  t.timeout(120_000);
  const namespace = await createTestNamespace(t, 'e2e-silent');
  const proxy = await startKubeFaultProxy(t);
  // Replica a reaches the API server through the proxy, replica b directly.
  const a = await startController(t, namespace, { KUBECONFIG: proxy.kubeconfig, POD_NAME: 'replica-a' });
  await eventually(async () => {
    if ((await a.leaderGauge()) !== 1) throw new Error('replica a does not lead yet');
  });
  const b = await startController(t, namespace, { POD_NAME: 'replica-b' });
  await b.piggy.waitForLog((line) => line.msg === 'kubernetes api reachable');
  t.deepEqual([await a.leaderGauge(), await b.leaderGauge()], [1, 0], 'a leads, b stands by');

  proxy.holdAll();
  const cutAt = Date.now();
  const samples: { at: number; a: number; b: number }[] = [];
  let steppedDownAt: number | undefined;
  await eventually(
    async () => {
      const [ga, gb] = [await a.leaderGauge(), await b.leaderGauge()];
      samples.push({ at: Date.now() - cutAt, a: ga, b: gb });
      if (ga === 0) steppedDownAt ??= Date.now() - cutAt;
      if (gb !== 1) throw new Error(`piggy_leader a=${ga} b=${gb}`);
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  const both = samples.filter((sample) => sample.a === 1 && sample.b === 1);
  t.log(`a stepped down ${String(steppedDownAt)} ms after the cut, b led ${samples.at(-1)?.at ?? -1} ms after it (${samples.length} samples)`);
  t.deepEqual(both, [], 'never two leaders');
  t.not(steppedDownAt, undefined, 'a stepped down');
  t.truthy(a.piggy.lines.find((line) => line.msg === 'lease not renewed within the renew deadline, stepping down'));
  t.true(proxy.held() > 0, 'replica a still has calls hanging on the silent connection');
  t.is(await a.leaderGauge(), 0);
});

test('a first sync that never answers: /readyz says why after INFORMER_SYNC_TIMEOUT, and the operator syncs once the list answers', async (t) => {
  t.timeout(120_000);
  const namespace = await createTestNamespace(t, 'e2e-wedged');
  const proxy = await startKubeFaultProxy(t);
  // The AWSSecret list (not the watch, not the Lease) is never answered.
  proxy.hold(({ method, path }) => method === 'GET' && path.startsWith(`/apis/piggysec.com/v1alpha1/namespaces/${namespace}/awssecrets`) && !path.includes('watch=true'));
  const piggy = await startController(t, namespace, { KUBECONFIG: proxy.kubeconfig, INFORMER_SYNC_TIMEOUT: '2s' });
  const wedged = await eventually(async () => {
    const reply = await piggy.readyz();
    if (reply.status !== 503 || !/caches not synced/.test(reply.body.reasons?.operator ?? '')) throw new Error(`readyz ${reply.status} ${JSON.stringify(reply.body)}`);
    return reply;
  });
  t.regex(wedged.body.reasons?.operator ?? '', /awsSecrets not listed/);
  t.is(await piggy.leaderGauge(), 1, 'it leads, but cannot reconcile yet');
  t.truthy(piggy.piggy.lines.find((line) => line.msg === 'caches not synced in time' && line.code === 'ERR_OPERATOR_SYNC_TIMEOUT'));

  const [v1] = await createSecretVersions(`${namespace}/db`, [JSON.stringify({ user: 'u' })]);
  await createAWSSecret(namespace, 'db', { stringDataFrom: ref(`${namespace}/db`, v1 ?? '') });
  proxy.pass();
  const secret = await eventually(() => kube().core.readNamespacedSecret({ name: 'db', namespace }));
  t.deepEqual(decodeData(secret.data), { user: 'u' });
  await eventually(async () => {
    const reply = await piggy.readyz();
    if (reply.status !== 200) throw new Error(`readyz ${reply.status} ${JSON.stringify(reply.body)}`);
  });
  t.pass();
});

test('a controller whose Lease namespace does not exist is not ready and says why', async (t) => {
  const namespace = await createTestNamespace(t, 'e2e-nolease');
  const missing = uniqueName('no-such-namespace');
  const piggy = await startController(t, namespace, { LEASE_NAMESPACE: missing });
  const reply = await eventually(async () => {
    const answer = await piggy.readyz();
    const reason = answer.body.reasons?.operator;
    if (answer.status !== 503 || reason === undefined || reason === 'lease not tried yet') throw new Error(`readyz ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer;
  });
  t.is(reply.status, 503);
  t.regex(reply.body.reasons?.operator ?? '', new RegExp(`Lease/${missing}/piggy-operator.*HTTP 404.*namespaces "${missing}" not found`));
  const logged = await piggy.piggy.waitForLog((line) => line.msg === 'operator not ready');
  t.regex(String(logged.reason), /not found/);
  t.is(await piggy.leaderGauge(), 0);
});
