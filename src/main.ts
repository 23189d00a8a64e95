import { once } from 'node:events';
import { createAwsMetrics } from './aws/aws-metrics.ts';
import { createCallBudget } from './aws/call-budget.ts';
import { createAwsClients } from './aws/clients.ts';
import { createSecretSource, type SecretSource } from './aws/secret-source.ts';
import { createVersionCache } from './aws/version-cache.ts';
import { loadConfig, type Config, type ConfigIssue } from './config/config.ts';
import { startOperator, type Operator } from './controller/operator.ts';
import { fetchServerVersion, loadKubeConfig } from './kube/client.ts';
import { createImageResolver } from './webhook/image/index.ts';
import { buildWebhookMetrics } from './webhook/metrics.ts';
import { buildKubeRefLookup } from './webhook/ref-lookup.ts';
import { buildResolveImage } from './webhook/resolve-image.ts';
import { buildWebhookRouter } from './webhook/router.ts';
import { buildPodReader } from './kube/pod-reader.ts';
import { startWebhookCertificates, type WebhookCertificates } from './kube/webhook-certificates.ts';
import { createTokenReviewer } from './kube/token-review.ts';
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
    return await serve(config, log);
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
  void waitForKubernetes(kc, log, abort.signal).then((ready) => readiness.set('kubernetes', ready));

  const certs = await startManagedCertificates(config, kc, log);
  const https = await startHttpsListener({
    address: config.listenAddress,
    certFile: config.tlsCertFile,
    keyFile: config.tlsKeyFile,
    reloadIntervalMs: config.tlsReloadIntervalMs,
    handler: buildApp({ readiness, metrics, log, mount: mountRoutes(config, kc, aws, source, metrics, log, certs) }),
    log,
  });
  const metricsListener = await startMetricsListener(config.metricsAddress, metrics).catch(async (error: unknown) => {
    await https.close(0);
    throw error;
  });
  const operator = config.operator.enabled ? startOperatorFor(config, kc, source, metrics, log) : undefined;
  log.info({ httpsPort: https.port, metricsPort: metricsListener.port, operator: operator !== undefined }, 'controller started');

  const signal = await Promise.race([
    once(process, 'SIGTERM').then(() => 'SIGTERM'),
    once(process, 'SIGINT').then(() => 'SIGINT'),
  ]);
  log.info({ signal }, 'shutting down');
  readiness.drain();
  abort.abort();
  await Promise.all([https.close(config.shutdownTimeoutMs), metricsListener.close(config.shutdownTimeoutMs), operator?.stop(), certs?.stop()]);
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
) {
  const caBundle = certs === undefined ? readCaBundle(config.injection.caBundleFile, log) : () => certs.caBundle();
  const webhook = config.injection.enabled ? mountWebhook(config, kc, aws, metrics, log, caBundle) : undefined;
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
) {
  const resolver = createImageResolver({ ...config.image }, { aws, metricsRegistry: metrics.registry, logger: log });
  const router = buildWebhookRouter({
    defaults: config.injection.defaults,
    lookupRef: buildKubeRefLookup(kc),
    resolveImage: buildResolveImage(kc, resolver),
    caBundle,
    proxyToken: config.injection.proxyToken,
    log,
    metrics: buildWebhookMetrics(metrics.registry),
    deadlineMs: config.injection.deadlineMs,
    allowsSecret: (namespace, secretId) => isSecretAllowed(config.operator.accessPolicy, namespace, secretId),
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

function startOperatorFor(config: Config, kc: ReturnType<typeof loadKubeConfig>, source: SecretSource, metrics: Metrics, log: Logger): Operator {
  const { operator } = config;
  return startOperator({
    kc,
    log,
    registry: metrics.registry,
    fetchVersion: (ref) => source.fetchVersion(ref),
    describeCurrentVersion: (ref) => source.describeCurrentVersion(ref),
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
      rolloutConcurrency: operator.rolloutConcurrency,
      rolloutTimeoutMs: operator.rolloutTimeoutMs,
      rolloutPollIntervalMs: operator.rolloutPollIntervalMs,
      lease: operator.lease,
    },
  });
}

/** Polls the API server with capped backoff until it answers or the process stops. */
async function waitForKubernetes(
  kc: ReturnType<typeof loadKubeConfig>,
  log: Logger,
  signal: AbortSignal,
): Promise<boolean> {
  for (let attempt = 0; !signal.aborted; attempt += 1) {
    try {
      const version = await fetchServerVersion(kc);
      log.info({ version }, 'kubernetes api reachable');
      return true;
    } catch (error) {
      if (attempt % 10 === 0) log.warn({ err: error, attempt }, 'kubernetes api not reachable yet');
      const delay = Math.min(5_000, 200 * 2 ** Math.min(attempt, 5));
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
    }
  }
  return false;
}

function reportConfigIssues(issues: readonly ConfigIssue[]): void {
  const log = createLogger({ level: 'info', destination: process.stderr });
  log.error({ code: 'ERR_CONFIG_INVALID', issues }, 'configuration invalid');
  const lines = issues.map((issue) => `  ${issue.variable}: ${issue.problem}`);
  process.stderr.write(`piggy: invalid configuration (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}\n`);
}

