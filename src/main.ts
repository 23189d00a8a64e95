import { once } from 'node:events';
import { createAwsMetrics } from './aws/aws-metrics.ts';
import { createCallBudget } from './aws/call-budget.ts';
import { createAwsClients } from './aws/clients.ts';
import { fetchOwnAccount, learnOwnAccount } from './aws/own-account.ts';
import { createSecretSource, type SecretSource } from './aws/secret-source.ts';
import { createVersionCache } from './aws/version-cache.ts';
import { loadConfig, type Config, type ConfigIssue } from './config/config.ts';
import { startOperator, type Operator } from './controller/operator.ts';
import { createOperatorMetrics } from './controller/operator-metrics.ts';
import { startRollouts } from './controller/rollouts.ts';
import { createEventRecorder } from './kube/events.ts';
import { buildResourceClient } from './kube/resources.ts';
import { fetchServerVersion, loadKubeConfig } from './kube/client.ts';
import { createImageResolver } from './webhook/image/index.ts';
import { buildPullSecretLookupMetric, buildWebhookMetrics } from './webhook/metrics.ts';
import { buildKubeRefLookup } from './webhook/ref-lookup.ts';
import { buildResolveImage } from './webhook/resolve-image.ts';
import { buildPullSecretReads, createPullSecretReader } from './kube/pull-secrets.ts';
import { buildWebhookRouter } from './webhook/router.ts';
import { buildPodReader } from './kube/pod-reader.ts';
import { startWebhookCertificates, type WebhookCertificates } from './kube/webhook-certificates.ts';
import { createTokenReviewer } from './kube/token-review.ts';
import { createDataHashKeyLoader } from './kube/data-hash-key.ts';
import { buildProxyRouter } from './proxy/router.ts';
import { isSecretAllowed } from './shared/access-policy.ts';
import { readFileSync } from 'node:fs';
import type { Express } from 'express';
import { buildApp } from './server/app.ts';
import { startHttpsListener } from './server/https-listener.ts';
import { startMetricsListener } from './server/metrics-listener.ts';
import { isAppError } from './shared/errors.ts';
import { createLogger, type Logger } from './shared/logger.ts';
import { createMetrics, type Metrics } from './shared/metrics.ts';
import { Readiness } from './shared/readiness.ts';
import type { LauncherDelivery } from './shared/injection-contract.ts';
import { chooseAutoDelivery } from './webhook/launcher-delivery.ts';

/** `piggy controller`: config → logger → clients → components → signals. Returns the exit code. */
export async function runController(): Promise<number> {
  const loaded = loadConfig();
  if (!loaded.ok) {
    reportConfigIssues(loaded.issues);
    return 1;
  }
  const config = loaded.config;
  const log = createLogger({ level: config.logLevel });
  try {
    return await serve(await withOwnAccount(config, log), log);
  } catch (error) {
    log.fatal({ err: error, code: isAppError(error) ? error.code : undefined }, 'controller failed to start');
    return 1;
  }
}

async function serve(config: Config, log: Logger): Promise<number> {
  const kc = loadKubeConfig(config.kubeconfig);
  const aws = createAwsClients(config.awsRegion);
  const metrics = createMetrics();
  const readiness = new Readiness();
  const abort = new AbortController();
  const source = buildSecretSource(config, aws, metrics, log, abort.signal);

  readiness.register('kubernetes');
  const delivery = settleAutoDelivery(log);
  void waitForKubernetes(kc, log, abort.signal).then((version) => {
    readiness.set('kubernetes', version !== undefined, 'the Kubernetes API server has not answered yet');
    delivery.learn(version);
  });

  const certs = await startManagedCertificates(config, kc, log);
  const https = await startHttpsListener({
    address: config.listenAddress,
    certFile: config.tlsCertFile,
    keyFile: config.tlsKeyFile,
    reloadIntervalMs: config.tlsReloadIntervalMs,
    handler: buildApp({ readiness, metrics, log, mount: mountRoutes(config, kc, aws, source, metrics, log, certs, delivery.current) }),
    log,
  });
  // The webhook and the proxy answer only over TLS: ready while the certificate served is valid.
  readiness.probe('certificates', () => https.certificateProblem());
  const metricsListener = await startMetricsListener(config.metricsAddress, metrics).catch(async (error: unknown) => {
    await https.close(0);
    throw error;
  });
  if (config.operator.enabled) readiness.register('operator', 'lease not tried yet');
  const operator = config.operator.enabled
    ? startOperatorFor(config, kc, source, metrics, log, (problem) => readiness.set('operator', problem === undefined, problem))
    : undefined;
  log.info({ httpsPort: https.port, metricsPort: metricsListener.port, operator: operator !== undefined }, 'controller started');

  const signal = await Promise.race([
    once(process, 'SIGTERM').then(() => 'SIGTERM'),
    once(process, 'SIGINT').then(() => 'SIGINT'),
  ]);
  // Readiness fails first; the listeners keep answering for the drain delay (whoever routes by
  // readiness stops sending), then they close and let in-flight requests finish. The operator
  // releases its lease at once, so the other replica takes over during the drain.
  log.info({ signal, drainDelayMs: config.shutdownDrainDelayMs }, 'shutting down');
  readiness.drain();
  abort.abort();
  const stopping = [operator?.stop(), certs?.stop()];
  await new Promise((resolve) => setTimeout(resolve, config.shutdownDrainDelayMs));
  log.info('drained, closing listeners');
  await Promise.all([https.close(config.shutdownTimeoutMs), metricsListener.close(config.shutdownTimeoutMs), ...stopping]);
  aws.destroy();
  await kc.close();
  log.info('stopped');
  return 0;
}

/** WEBHOOK_CERT_MANAGEMENT=auto: the CA, serving certificate and caBundle kept by the controller. */
async function startManagedCertificates(config: Config, kc: ReturnType<typeof loadKubeConfig>, log: Logger): Promise<WebhookCertificates | undefined> {
  const settings = config.injection.certificates;
  if (settings.mode !== 'auto') return undefined;
  return startWebhookCertificates({
    kc,
    namespace: settings.namespace,
    secretName: settings.secretName,
    serviceName: settings.serviceName,
    webhookConfigurationName: settings.configurationName,
    certDir: settings.certDir,
    checkIntervalMs: settings.checkIntervalMs,
    extraDnsNames: settings.extraDnsNames,
    extraIpAddresses: settings.extraIpAddresses,
    log,
  });
}

/** The components' routes on the HTTPS listener: /mutate (webhook) and /secret (proxy). */
function mountRoutes(
  config: Config,
  kc: ReturnType<typeof loadKubeConfig>,
  aws: ReturnType<typeof createAwsClients>,
  source: SecretSource,
  metrics: Metrics,
  log: Logger,
  certs: WebhookCertificates | undefined,
  launcherDelivery: () => LauncherDelivery,
) {
  const caBundle = certs === undefined ? readCaBundle(config.injection.caBundleFile, log) : () => certs.caBundle();
  const webhook = config.injection.enabled ? mountWebhook(config, kc, aws, metrics, log, caBundle, launcherDelivery) : undefined;
  const proxy = config.proxy.enabled ? mountProxy(config, kc, source, metrics, log) : undefined;
  return (app: Express): void => {
    webhook?.(app);
    proxy?.(app);
  };
}

/** POST /secret: the proxy, on the same secret source (shared cache) as the operator. */
function mountProxy(config: Config, kc: ReturnType<typeof loadKubeConfig>, source: SecretSource, metrics: Metrics, log: Logger) {
  const router = buildProxyRouter({
    reviewToken: createTokenReviewer(kc, {
      audiences: config.proxy.audiences,
      acceptDefaultAudience: config.proxy.acceptLegacyPods,
      cacheTtlMs: config.proxy.tokenReviewCacheTtlMs,
      timeoutMs: config.proxy.kubeTimeoutMs,
    }),
    audiences: config.proxy.audiences,
    acceptLegacyPods: config.proxy.acceptLegacyPods,
    readPod: buildPodReader(kc, { timeoutMs: config.proxy.kubeTimeoutMs }),
    source,
    defaults: config.injection.defaults,
    policy: config.operator.accessPolicy,
    log,
    registry: metrics.registry,
    maxConcurrency: config.proxy.maxConcurrency,
    maxQueued: config.proxy.maxQueued,
    maxQueueWaitMs: config.proxy.queueTimeoutMs,
  });
  return (app: Express): void => {
    app.use(router);
  };
}

/** POST /mutate: the injection webhook with its image resolver and reference lookups. */
function mountWebhook(
  config: Config,
  kc: ReturnType<typeof loadKubeConfig>,
  aws: ReturnType<typeof createAwsClients>,
  metrics: Metrics,
  log: Logger,
  caBundle: () => string | undefined,
  launcherDelivery: () => LauncherDelivery,
) {
  const resolver = createImageResolver({ ...config.image }, { aws, metricsRegistry: metrics.registry, logger: log });
  const router = buildWebhookRouter({
    defaults: config.injection.defaults,
    lookupRef: buildKubeRefLookup(kc),
    resolveImage: buildResolveImage(
      createPullSecretReader(buildPullSecretReads(kc), { ttlMs: config.injection.pullSecretCacheTtlMs, onLookup: buildPullSecretLookupMetric(metrics.registry) }),
      resolver,
    ),
    caBundle,
    proxyToken: config.injection.proxyToken,
    launcherDelivery,
    log,
    metrics: buildWebhookMetrics(metrics.registry),
    deadlineMs: config.injection.deadlineMs,
    allowsSecret: (namespace, secretId, region) => isSecretAllowed(config.operator.accessPolicy, namespace, secretId, region),
  });
  return (app: Express): void => {
    app.use(router);
  };
}

/** The CA bundle handed to launchers, re-read at most every 10 s (the file rotates). */
function readCaBundle(file: string, log: Logger): () => string | undefined {
  let cached: { at: number; pem: string | undefined } | undefined;
  return () => {
    const now = Date.now();
    if (cached !== undefined && now - cached.at < 10_000) return cached.pem;
    try {
      cached = { at: now, pem: readFileSync(file, 'utf8') };
    } catch (error) {
      log.warn({ err: error, file }, 'ca bundle unreadable');
      cached = { at: now, pem: cached?.pem };
    }
    return cached.pem;
  };
}

function buildSecretSource(config: Config, aws: ReturnType<typeof createAwsClients>, metrics: Metrics, log: Logger, signal: AbortSignal): SecretSource {
  const awsMetrics = createAwsMetrics(metrics.registry);
  return createSecretSource({
    clients: aws,
    budget: createCallBudget({ ratePerSecond: config.aws.callsPerSecond, burst: config.aws.callBurst, log }),
    cache: createVersionCache({ maxBytes: config.aws.cacheMaxBytes }),
    metrics: awsMetrics,
    log,
    stageTtlMs: config.aws.stageTtlMs,
    callTimeoutMs: config.aws.callTimeoutMs,
    signal,
  });
}

/** The operator and the clients it uses: one resource client, one event recorder, rollouts per leadership term. */
function startOperatorFor(
  config: Config,
  kc: ReturnType<typeof loadKubeConfig>,
  source: SecretSource,
  metrics: Metrics,
  log: Logger,
  onReadiness: (problem: string | undefined) => void,
): Operator {
  const { operator } = config;
  const operatorMetrics = createOperatorMetrics(metrics.registry);
  const events = createEventRecorder(kc, 'piggy', log, { onDrop: (type) => operatorMetrics.eventsDropped.inc({ type }) });
  const rolloutSettings = { concurrency: operator.rolloutConcurrency, timeoutMs: operator.rolloutTimeoutMs, pollIntervalMs: operator.rolloutPollIntervalMs };
  return startOperator({
    kc,
    client: buildResourceClient(kc),
    events,
    metrics: operatorMetrics,
    startRollouts: () => startRollouts({ kc, events, log, metrics: operatorMetrics, settings: rolloutSettings }),
    log,
    fetchVersion: (ref) => source.fetchVersion(ref),
    describeCurrentVersion: (ref) => source.describeCurrentVersion(ref),
    dataHashKey: createDataHashKeyLoader({ kc, namespace: operator.lease.namespace, name: operator.dataHashKeySecret }),
    onReadiness,
    settings: {
      watchNamespace: operator.watchNamespace,
      policy: operator.accessPolicy,
      defaultRegion: config.awsRegion,
      concurrency: operator.concurrency,
      recheckMs: operator.recheckMs,
      retryBaseMs: operator.retryBaseMs,
      retryMaxMs: operator.retryMaxMs,
      updateCheckSchedule: operator.updateCheckSchedule,
      updateCheckJitterMs: operator.updateCheckJitterMs,
      syncTimeoutMs: operator.syncTimeoutMs,
      lease: operator.lease,
    },
  });
}

/** What piggy-env-delivery `auto` (PIGGY_ENV_DELIVERY's default) means, as the webhook asks it per admission: settled once the API server's version is known. */
function settleAutoDelivery(log: Logger): { current: () => LauncherDelivery; learn: (version: string | undefined) => void } {
  let choice = chooseAutoDelivery(undefined);
  return {
    current: () => choice.delivery,
    learn: (version) => {
      if (version === undefined) return;
      choice = chooseAutoDelivery(version);
      log.info({ delivery: choice.delivery, reason: choice.reason }, 'launcher delivery for auto');
    },
  };
}

/** Polls the API server with capped backoff until it answers (its version) or the process stops (undefined). */
async function waitForKubernetes(
  kc: ReturnType<typeof loadKubeConfig>,
  log: Logger,
  signal: AbortSignal,
): Promise<string | undefined> {
  for (let attempt = 0; !signal.aborted; attempt += 1) {
    try {
      const version = await fetchServerVersion(kc);
      log.info({ version }, 'kubernetes api reachable');
      return version;
    } catch (error) {
      if (attempt % 10 === 0) log.warn({ err: error, attempt }, 'kubernetes api not reachable yet');
      const delay = Math.min(5_000, 200 * 2 ** Math.min(attempt, 5));
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
    }
  }
  return undefined;
}

function reportConfigIssues(issues: readonly ConfigIssue[]): void {
  const log = createLogger({ level: 'info', destination: process.stderr });
  log.error({ code: 'ERR_CONFIG_INVALID', issues }, 'configuration invalid');
  const lines = issues.map((issue) => `  ${issue.variable}: ${issue.problem}`);
  process.stderr.write(`piggy: invalid configuration (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}\n`);
}

/** The config with the access policy's own AWS account (AWS_ACCOUNT_ID, else STS once; see own-account.ts). */
async function withOwnAccount(config: Config, log: Logger): Promise<Config> {
  if (config.operator.accessPolicy.ownAccount !== undefined) return config;
  const aws = createAwsClients(config.awsRegion);
  try {
    const accessPolicy = await learnOwnAccount(config.operator.accessPolicy, () => fetchOwnAccount(aws.sts(), config.aws.callTimeoutMs), log);
    return { ...config, operator: { ...config.operator, accessPolicy } };
  } finally {
    aws.destroy();
  }
}
