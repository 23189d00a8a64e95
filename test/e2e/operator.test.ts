import test from 'ava';
import { createSecretVersions, decodeData } from '../helpers/aws.ts';
import { startPiggy } from '../helpers/controller.ts';
import { applyCrds } from '../helpers/crd.ts';
import { createTestNamespace, kube } from '../helpers/kube.ts';
import { createAWSSecret, getAWSSecret, ref } from '../helpers/operator.ts';
import { eventually, kubeConfigPath } from '../helpers/stack.ts';
import { makeServingCertificate } from '../helpers/tls.ts';

const CANARY = 'canary-e2e-5b0f-VALUE';

test('piggy controller as a process syncs an AWSSecret, reports it in /metrics, and never prints a value', async (t) => {
  await applyCrds();
  const namespace = await createTestNamespace(t, 'e2e-op');
  const [v1] = await createSecretVersions(`${namespace}/db`, [JSON.stringify({ password: CANARY })]);
  const tls = await makeServingCertificate();
  const piggy = startPiggy(t, ['controller'], {
    KUBECONFIG: kubeConfigPath(),
    AWS_ENDPOINT_URL: process.env.AWS_ENDPOINT_URL ?? '',
    AWS_REGION: process.env.AWS_REGION ?? '',
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? '',
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? '',
    TLS_CERT_FILE: tls.certFile,
    TLS_PRIVATE_KEY_FILE: tls.keyFile,
    LISTEN_ADDRESS: '127.0.0.1:0',
    METRICS_ADDRESS: '127.0.0.1:0',
    WATCH_NAMESPACE: namespace,
    LEASE_NAMESPACE: namespace,
    LEASE_DURATION: '6s',
    LEASE_RENEW_DEADLINE: '4s',
    LEASE_RETRY_PERIOD: '500ms',
    LOG_LEVEL: 'debug',
  });
  const started = await piggy.waitForLog((line) => line.msg === 'controller started');
  await createAWSSecret(namespace, 'db', { stringDataFrom: ref(`${namespace}/db`, v1 ?? '') });
  const secret = await eventually(() => kube().core.readNamespacedSecret({ name: 'db', namespace }));
  t.deepEqual(decodeData(secret.data), { password: CANARY });
  await eventually(async () => {
    if ((await getAWSSecret(namespace, 'db')).status?.versionId !== v1) throw new Error('no status yet');
  });
  const metrics = await (await fetch(`http://127.0.0.1:${started.metricsPort as number}/metrics`)).text();
  t.regex(metrics, /piggy_reconcile_total\{result="synced"\} [1-9]/);
  t.regex(metrics, /piggy_aws_calls_total\{api="GetSecretValue",result="ok"\} 1/);
  t.regex(metrics, /piggy_leader 1/);

  piggy.child.kill('SIGTERM');
  t.is((await piggy.exited()).code, 0);
  t.truthy(piggy.lines.find((line) => line.msg === 'lease released'));
  t.false(piggy.stdout().includes(CANARY), 'no value in the log');
  t.false(piggy.stderr().includes(CANARY));
});

test('two controller processes: exactly one leads; killing it hands over to the other', async (t) => {
  await applyCrds();
  const namespace = await createTestNamespace(t, 'e2e-lead');
  const tls = await makeServingCertificate();
  const start = (identity: string) =>
    startPiggy(t, ['controller'], {
      KUBECONFIG: kubeConfigPath(),
      AWS_ENDPOINT_URL: process.env.AWS_ENDPOINT_URL ?? '',
      AWS_REGION: process.env.AWS_REGION ?? '',
      TLS_CERT_FILE: tls.certFile,
      TLS_PRIVATE_KEY_FILE: tls.keyFile,
      LISTEN_ADDRESS: '127.0.0.1:0',
      METRICS_ADDRESS: '127.0.0.1:0',
      WATCH_NAMESPACE: namespace,
      LEASE_NAMESPACE: namespace,
      POD_NAME: identity,
      LEASE_DURATION: '6s',
      LEASE_RENEW_DEADLINE: '4s',
      LEASE_RETRY_PERIOD: '300ms',
    });
  const processes = [start('replica-a'), start('replica-b')];
  const ports = await Promise.all(processes.map(async (piggy) => (await piggy.waitForLog((line) => line.msg === 'controller started')).metricsPort as number));
  const leaderGauge = async (port: number): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return Number(/^piggy_leader (\d)/m.exec(text)?.[1] ?? 'NaN');
  };
  const gauges = await eventually(async () => {
    const values = await Promise.all(ports.map(leaderGauge));
    if (values.reduce((sum, value) => sum + value, 0) !== 1) throw new Error(`leader gauges ${values.join(',')}`);
    return values;
  });
  const leaderIndex = gauges.indexOf(1);
  const followerIndex = 1 - leaderIndex;
  // Stay stable: still exactly one leader a few renewals later.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  t.deepEqual(await Promise.all(ports.map(leaderGauge)), gauges);

  processes[leaderIndex]?.child.kill('SIGKILL');
  await eventually(async () => {
    if ((await leaderGauge(ports[followerIndex] ?? 0)) !== 1) throw new Error('no take-over yet');
  }, { timeoutMs: 15_000 });
  t.pass();
});
