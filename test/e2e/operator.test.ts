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
    LEASE_DURATION: '3s',
    LEASE_RENEW_DEADLINE: '2s',
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
