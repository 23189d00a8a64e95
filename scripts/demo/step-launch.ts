// Step: piggy-env at container start, on the real nodes. The proxy-mode Pod of the webhook step
// starts: the install-piggy-env init container (the pushed piggy-env image) fills /piggy, the
// launcher asks the controller's /secret with the pod's automounted token and execs the app. Then a
// standalone-mode Pod (IRSA as EKS sets it up: a projected token of audience sts.amazonaws.com):
// the launcher assumes a role on moto's STS and reads Secrets Manager itself.
import { CoreV1Api } from '@kubernetes/client-node';
import { buildAwsEnv } from '../local/components.ts';
import { sumMetric } from '../local/piggy-controller.ts';
import { NAMESPACE, PROXY_POD, STANDALONE_POD, need, type DemoContext, type DemoStep } from './context.ts';
import { buildInjectedPod, showInjectedPod } from './inject-app.ts';
import { command, good, say, show } from './narrate.ts';
import { formatPods, recreatePod } from './pods.ts';

const ROLE_ARN = 'arn:aws:iam::123456789012:role/demo-app';
const TOKEN_DIR = '/var/run/secrets/sts.amazonaws.com/serviceaccount';

/** piggy_proxy_requests_total of the demo controller, summed over the samples that carry `labels`. */
const proxyRequests = async (ctx: DemoContext, labels: Readonly<Record<string, string>> = {}) =>
  sumMetric(await need(ctx.controller, 'controller').scrapeMetrics(), 'piggy_proxy_requests_total', labels);

async function runStandalonePod(ctx: DemoContext): Promise<void> {
  const aws = buildAwsEnv(need(ctx.stack, 'stack').info.awsEndpoint);
  const irsa = { AWS_ROLE_ARN: ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE: `${TOKEN_DIR}/token`, AWS_REGION: aws.AWS_REGION ?? '', AWS_ENDPOINT_URL: aws.AWS_ENDPOINT_URL ?? '' };
  say(`standalone mode: Pod ${STANDALONE_POD}, piggysec.com/standalone: "true", and what EKS's pod identity webhook would add: a projected serviceAccountToken (audience sts.amazonaws.com) at ${TOKEN_DIR}/token and`);
  say(`  ${Object.entries(irsa).map(([name, value]) => `${name}=${value}`).join(' ')}   (moto: the pod is hostNetwork, so 127.0.0.1 is the host's)`);
  const pod = buildInjectedPod(ctx, STANDALONE_POD, { 'piggysec.com/standalone': 'true' }, {
    env: Object.entries(irsa).map(([name, value]) => ({ name, value })),
    mounts: [{ name: 'aws-iam-token', mountPath: TOKEN_DIR, readOnly: true }],
    spec: { volumes: [{ name: 'aws-iam-token', projected: { sources: [{ serviceAccountToken: { audience: 'sts.amazonaws.com', expirationSeconds: 3600, path: 'token' } }] } }] },
  });
  const proxyBefore = await proxyRequests(ctx);
  await recreatePod(need(ctx.kc, 'kc').makeApiClient(CoreV1Api), pod);
  await showInjectedPod(ctx, STANDALONE_POD);
  if ((await proxyRequests(ctx)) !== proxyBefore) throw new Error('standalone mode asked the proxy');
  good('the launcher\'s only credential was the kubelet\'s projected web-identity token: AssumeRoleWithWebIdentity on moto\'s STS, then GetSecretValue with the role\'s keys; the proxy was not asked (piggy_proxy_requests_total unchanged)');
  good('KongZ/piggy\'s standalone exits 1 after success; here the app is exec\'d, and the Pod runs on (RESTARTS 0)');
}

export const launchStep: DemoStep = {
  title: 'piggy-env at container start, on a real node: proxy mode and standalone mode',
  async run(ctx: DemoContext) {
    const before = await proxyRequests(ctx, { result: 'ok' });
    say(`proxy mode: Pod ${PROXY_POD} starts; the launcher proves the pod's identity with the token the kubelet mounted at /var/run/secrets/kubernetes.io/serviceaccount/token`);
    await showInjectedPod(ctx, PROXY_POD);
    good(`the controller answered /secret after a TokenReview, the pod binding and the command signature: piggy_proxy_requests_total{result="ok"} ${before} → ${await proxyRequests(ctx, { result: 'ok' })}`);
    command(`curl -s ${need(ctx.controller, 'controller').metricsUrl} | grep piggy_proxy_requests_total`);
    await runStandalonePod(ctx);
    command(`kubectl -n ${NAMESPACE} get pods -o wide`);
    show(formatPods((await need(ctx.kc, 'kc').makeApiClient(CoreV1Api).listNamespacedPod({ namespace: NAMESPACE })).items));
  },
};
