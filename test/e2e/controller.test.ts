import { request } from 'node:https';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { startPiggy } from '../helpers/controller.ts';
import { eventually, kubeConfigPath } from '../helpers/stack.ts';
import { makeServingCertificate } from '../helpers/tls.ts';

interface Reply {
  readonly status: number;
  readonly body: string;
  readonly certSubject: string;
}

function httpsGet(port: number, path: string, ca: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca, servername: 'localhost', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      const peer = res.socket as unknown as { getPeerCertificate(): { subject?: { CN?: string } } };
      const certSubject = peer.getPeerCertificate().subject?.CN ?? '';
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), certSubject }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function startController(t: Parameters<typeof startPiggy>[0], extraEnv: Record<string, string> = {}) {
  const tls = await makeServingCertificate(undefined, 'first');
  const piggy = startPiggy(t, ['controller'], {
    KUBECONFIG: kubeConfigPath(),
    AWS_ENDPOINT_URL: process.env.AWS_ENDPOINT_URL ?? '',
    AWS_REGION: process.env.AWS_REGION ?? '',
    TLS_CERT_FILE: tls.certFile,
    TLS_PRIVATE_KEY_FILE: tls.keyFile,
    TLS_RELOAD_INTERVAL: '200ms',
    LISTEN_ADDRESS: '127.0.0.1:0',
    METRICS_ADDRESS: '127.0.0.1:0',
    OPERATOR_ENABLED: 'false',
    ...extraEnv,
  });
  const started = await piggy.waitForLog((line) => line.msg === 'controller started');
  return { piggy, tls, httpsPort: started.httpsPort as number, metricsPort: started.metricsPort as number };
}

test('piggy controller serves /readyz and /metrics against the real stack and exits 0 on SIGTERM', async (t) => {
  const { piggy, tls, httpsPort, metricsPort } = await startController(t);

  const health = await httpsGet(httpsPort, '/healthz', tls.cert);
  t.is(health.status, 200);
  const ready = await eventually(async () => {
    const reply = await httpsGet(httpsPort, '/readyz', tls.cert);
    if (reply.status !== 200) throw new Error(`readyz ${reply.status}: ${reply.body}`);
    return reply;
  });
  t.deepEqual(JSON.parse(ready.body), { ready: true, draining: false, checks: { kubernetes: true, certificates: true }, reasons: {} });
  t.truthy(piggy.lines.find((line) => line.msg === 'kubernetes api reachable' && line.version === 'v1.37.2'));

  const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  t.is(metrics.status, 200);
  const text = await metrics.text();
  t.regex(text, /piggy_http_requests_total\{route="\/readyz",method="GET",code="200"\} [1-9]/);
  t.regex(text, /piggy_process_cpu_seconds_total/);
  t.is((await fetch(`http://127.0.0.1:${metricsPort}/other`)).status, 404);

  piggy.child.kill('SIGTERM');
  const exit = await piggy.exited();
  t.deepEqual(exit, { code: 0, signal: null });
  t.truthy(piggy.lines.find((line) => line.msg === 'shutting down' && line.signal === 'SIGTERM'));
  t.truthy(piggy.lines.find((line) => line.msg === 'stopped'));
});

test('a renewed certificate is served without a restart, and a broken one is ignored', async (t) => {
  const { piggy, tls, httpsPort } = await startController(t);
  t.is((await httpsGet(httpsPort, '/healthz', tls.cert)).certSubject, 'first');

  // A mismatched pair (new cert, old key) must not replace the working one.
  const broken = await makeServingCertificate(undefined, 'broken');
  await cp(broken.certFile, tls.certFile);
  await piggy.waitForLog((line) => line.msg === 'tls certificate reload skipped');
  t.is((await httpsGet(httpsPort, '/healthz', tls.cert)).certSubject, 'first');

  const renewed = await makeServingCertificate(undefined, 'renewed');
  await cp(renewed.keyFile, join(tls.dir, 'tls.key'));
  await cp(renewed.certFile, join(tls.dir, 'tls.crt'));
  const reply = await eventually(async () => {
    const answer = await httpsGet(httpsPort, '/healthz', renewed.cert);
    if (answer.certSubject !== 'renewed') throw new Error(`still serving ${answer.certSubject}`);
    return answer;
  });
  t.is(reply.status, 200);
  piggy.child.kill('SIGINT');
  t.is((await piggy.exited()).code, 0);
});

test('after SIGTERM /readyz turns 503 at once, admissions are answered for SHUTDOWN_DRAIN_DELAY, then new connections are refused and it exits 0', async (t) => {
  const { piggy, tls, httpsPort } = await startController(t, { SHUTDOWN_TIMEOUT: '5s', SHUTDOWN_DRAIN_DELAY: '3s' });
  await eventually(async () => {
    if ((await httpsGet(httpsPort, '/readyz', tls.cert)).status !== 200) throw new Error('not ready yet');
  });
  piggy.child.kill('SIGTERM');
  const signalledAt = Date.now();
  await piggy.waitForLog((line) => line.msg === 'shutting down');
  const draining = await httpsGet(httpsPort, '/readyz', tls.cert);
  t.is(draining.status, 503, 'readiness fails first');
  t.like(JSON.parse(draining.body), { ready: false, draining: true, reasons: { shutdown: 'draining before shutdown' } });
  // A new connection during the drain still gets its admission answered.
  const review = await httpsPost(httpsPort, '/mutate', tls.cert, JSON.stringify(plainReview()));
  t.is(review.status, 200);
  t.like(JSON.parse(review.body), { response: { uid: 'drain-1', allowed: true } });
  t.true(Date.now() - signalledAt < 3_000, 'answered inside the drain delay');
  await eventually(async () => {
    const refused = await httpsGet(httpsPort, '/healthz', tls.cert).then(
      () => false,
      () => true,
    );
    if (!refused) throw new Error('still accepting connections');
  });
  t.true(Date.now() - signalledAt >= 3_000, 'the listener stayed open for the drain delay');
  t.is((await piggy.exited()).code, 0);
});

/** An AdmissionReview of a pod that does not opt in (the webhook allows it unchanged). */
function plainReview(): object {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'plain', namespace: 'default' }, spec: { containers: [{ name: 'app', image: 'busybox' }] } };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'drain-1',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'default',
      operation: 'CREATE',
      userInfo: { username: 'test' },
      object: pod,
      dryRun: false,
    },
  };
}

function httpsPost(port: number, path: string, ca: string, body: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca, servername: 'localhost', agent: false, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), certSubject: '' }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('a bad configuration exits 1 naming every bad variable, and no listener starts', async (t) => {
  const piggy = startPiggy(t, ['controller'], {
    KUBECONFIG: kubeConfigPath(),
    LISTEN_ADDRESS: 'everywhere',
    METRICS_ADDRESS: ':123456',
    LOG_LEVEL: 'chatty',
    SHUTDOWN_TIMEOUT: 'later',
  });
  const exit = await piggy.exited();
  t.is(exit.code, 1);
  const stderr = piggy.stderr();
  for (const variable of ['LISTEN_ADDRESS', 'METRICS_ADDRESS', 'LOG_LEVEL', 'SHUTDOWN_TIMEOUT', 'TLS_CERT_FILE', 'TLS_PRIVATE_KEY_FILE']) {
    t.true(stderr.includes(`${variable}:`), `${variable} is named`);
  }
  t.false(stderr.includes('controller started'));
  t.is(piggy.stdout(), '');
});

test('a certificate that cannot be read fails the start with exit 1 and a stable code', async (t) => {
  const piggy = startPiggy(t, ['controller'], {
    KUBECONFIG: kubeConfigPath(),
    TLS_CERT_FILE: '/nonexistent/tls.crt',
    TLS_PRIVATE_KEY_FILE: '/nonexistent/tls.key',
    LISTEN_ADDRESS: '127.0.0.1:0',
    METRICS_ADDRESS: '127.0.0.1:0',
  });
  t.is((await piggy.exited()).code, 1);
  t.truthy(piggy.lines.find((line) => line.msg === 'controller failed to start' && line.code === 'ERR_TLS_READ'));
});
