import { isIP } from 'node:net';
import { hostname } from 'node:os';
import type { LevelWithSilent } from 'pino';
import { buildAccessPolicy, parseAccessPolicy, parseAccountId, type AccessPolicy } from '../shared/access-policy.ts';
import { parseBoolean, parseDuration, parseEnum, parseHostPort, parseInteger, parseNonEmpty, type HostPort, type Parsed } from './parse.ts';
import { parseAnnotationDefaults, type AnnotationDefaults } from './annotations.ts';
import { EnvReader, type ConfigIssue, type Environment } from './reader.ts';
import { parseCronOrOff } from './schedule.ts';

export type { ConfigIssue, Environment } from './reader.ts';

export interface OperatorConfig {
  /** OPERATOR_ENABLED: run the AWSSecret reconciler in this process. */
  readonly enabled: boolean;
  /** WATCH_NAMESPACE: reconcile AWSSecrets of one namespace only; undefined = all. */
  readonly watchNamespace: string | undefined;
  /** ACCESS_POLICY, with AWS_ACCOUNT_ID as the own account (undefined: learned with STS at start). */
  readonly accessPolicy: AccessPolicy;
  readonly concurrency: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly recheckMs: number;
  /** Cron expression of the AWSCURRENT check; undefined when turned off. */
  readonly updateCheckSchedule: string | undefined;
  readonly updateCheckJitterMs: number;
  readonly rolloutConcurrency: number;
  readonly rolloutTimeoutMs: number;
  readonly rolloutPollIntervalMs: number;
  /** DATA_HASH_KEY_SECRET: the Secret (in the lease namespace) holding the data-hash key. */
  readonly dataHashKeySecret: string;
  /** INFORMER_SYNC_TIMEOUT: a leader's first cache sync not done by then makes /readyz 503 (with the reason); every list call is bounded by it. */
  readonly syncTimeoutMs: number;
  readonly lease: {
    readonly namespace: string;
    readonly name: string;
    readonly identity: string;
    readonly durationMs: number;
    readonly renewDeadlineMs: number;
    readonly retryPeriodMs: number;
  };
}

export interface AwsConfig {
  readonly callsPerSecond: number;
  readonly callBurst: number;
  readonly cacheMaxBytes: number;
  readonly stageTtlMs: number;
  readonly callTimeoutMs: number;
}

export interface WebhookCertConfig {
  /** WEBHOOK_CERT_MANAGEMENT: `auto` = the controller keeps its CA, certificate and caBundle; `files` = TLS_*_FILE come from elsewhere. */
  readonly mode: 'auto' | 'files';
  readonly secretName: string;
  readonly namespace: string;
  readonly serviceName: string;
  readonly configurationName: string;
  readonly certDir: string;
  readonly checkIntervalMs: number;
  /** WEBHOOK_CERT_EXTRA_NAMES: further DNS names and IP addresses the serving certificate carries. */
  readonly extraDnsNames: readonly string[];
  readonly extraIpAddresses: readonly string[];
}

export interface InjectionConfig {
  /** WEBHOOK_ENABLED: serve POST /mutate. */
  readonly enabled: boolean;
  /** Controller-wide defaults of the piggysec.com/* annotations (AWS_REGION, PIGGY_ADDRESS, …). */
  readonly defaults: AnnotationDefaults;
  /** WEBHOOK_DEADLINE: budget for lookups and image reads inside one admission. */
  readonly deadlineMs: number;
  /** PULL_SECRET_CACHE_TTL: how long a service account's imagePullSecrets and a pull Secret are reused; 0 = read every time. */
  readonly pullSecretCacheTtlMs: number;
  /** WEBHOOK_CA_BUNDLE_FILE: the PEM the launcher trusts for the controller; default TLS_CERT_FILE. */
  readonly caBundleFile: string;
  readonly certificates: WebhookCertConfig;
  /** The projected token the webhook mounts for the launcher (proxy mode). */
  readonly proxyToken: {
    /** PROXY_TOKEN_AUDIENCE: its audience, piggy's own. */
    readonly audience: string;
    /** PROXY_TOKEN_EXPIRATION: its expirationSeconds (the kubelet refreshes it at 80 %). */
    readonly expirationSeconds: number;
  };
}

export interface ImageConfig {
  readonly platform: { readonly os: string; readonly architecture: string; readonly variant?: string };
  readonly cacheMaxEntries: number;
  readonly tagTtlMs: number;
  readonly resolveTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly insecureRegistries: readonly string[];
  readonly maxConcurrentRequests: number;
}

export interface ProxyConfig {
  /** PROXY_ENABLED: serve POST /secret. */
  readonly enabled: boolean;
  /** PROXY_AUDIENCES: a token must be valid for one of them (default: PROXY_TOKEN_AUDIENCE). */
  readonly audiences: readonly string[];
  /**
   * PROXY_ACCEPT_LEGACY_PODS: also accept pods admitted by an older piggy: their automounted token
   * (the API server's own audience) and, for a container without an admission record, the pod's
   * live annotations. For a migration only.
   */
  readonly acceptLegacyPods: boolean;
  readonly maxConcurrency: number;
  readonly maxQueued: number;
  readonly queueTimeoutMs: number;
  readonly tokenReviewCacheTtlMs: number;
  readonly kubeTimeoutMs: number;
}

/** The controller's whole configuration: typed, validated and frozen. */
export interface Config {
  readonly logLevel: LevelWithSilent;
  /** HTTPS listener: health, and later the webhook and the proxy. */
  readonly listenAddress: HostPort;
  /** Plain HTTP listener for Prometheus `/metrics`. */
  readonly metricsAddress: HostPort;
  readonly tlsCertFile: string;
  readonly tlsKeyFile: string;
  /** How often the certificate files are re-read (file watching also triggers a reload). */
  readonly tlsReloadIntervalMs: number;
  /** How long SIGTERM waits for in-flight requests before closing connections. */
  readonly shutdownTimeoutMs: number;
  /** SHUTDOWN_DRAIN_DELAY: after SIGTERM, /readyz answers 503 while the listeners keep serving this long, then they close. */
  readonly shutdownDrainDelayMs: number;
  /** KUBECONFIG; undefined means in-cluster config (or the client's default chain). */
  readonly kubeconfig: string | undefined;
  /** AWS_REGION: the default region; the SDK's own chain applies when unset. */
  readonly awsRegion: string | undefined;
  readonly aws: AwsConfig;
  readonly operator: OperatorConfig;
  readonly injection: InjectionConfig;
  readonly image: ImageConfig;
  readonly proxy: ProxyConfig;
}

export type ConfigResult =
  | { readonly ok: true; readonly config: Config }
  | { readonly ok: false; readonly issues: readonly ConfigIssue[] };

const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function positiveDuration(text: string): Parsed<number> {
  const result = parseDuration(text);
  if (result.ok && result.value <= 0) return { ok: false, error: 'must be longer than 0s' };
  return result;
}

const between = (min: number, max: number) => (text: string) => parseInteger(text, min, max);

function readOperator(env: EnvReader): OperatorConfig {
  const leaseNamespace = env.optional('LEASE_NAMESPACE') ?? env.optional('POD_NAMESPACE') ?? 'piggy-system';
  return {
    enabled: env.read('OPERATOR_ENABLED', 'true', parseBoolean),
    watchNamespace: env.optional('WATCH_NAMESPACE'),
    accessPolicy: buildAccessPolicy(env.read('ACCESS_POLICY', '{namespace}/*', parseAccessPolicy), env.read('AWS_ACCOUNT_ID', '', parseAccountId)),
    concurrency: env.read('RECONCILE_CONCURRENCY', '32', between(1, 1000)),
    retryBaseMs: env.read('RETRY_BASE_DELAY', '1s', positiveDuration),
    retryMaxMs: env.read('RETRY_MAX_DELAY', '5m', positiveDuration),
    recheckMs: env.read('RECHECK_INTERVAL', '5m', positiveDuration),
    updateCheckSchedule: env.read('UPDATE_CHECK_SCHEDULE', '0 * * * *', parseCronOrOff),
    updateCheckJitterMs: env.read('UPDATE_CHECK_JITTER', '5m', parseDuration),
    rolloutConcurrency: env.read('ROLLOUT_CONCURRENCY', '5', between(1, 1000)),
    rolloutTimeoutMs: env.read('ROLLOUT_TIMEOUT', '10m', positiveDuration),
    rolloutPollIntervalMs: env.read('ROLLOUT_POLL_INTERVAL', '5s', positiveDuration),
    dataHashKeySecret: env.read('DATA_HASH_KEY_SECRET', 'piggy-data-hash-key', parseNonEmpty),
    syncTimeoutMs: env.read('INFORMER_SYNC_TIMEOUT', '2m', positiveDuration),
    lease: {
      namespace: leaseNamespace,
      name: env.read('LEASE_NAME', 'piggy-operator', parseNonEmpty),
      identity: env.optional('POD_NAME') ?? `${hostname()}-${process.pid}`,
      durationMs: env.read('LEASE_DURATION', '15s', positiveDuration),
      renewDeadlineMs: env.read('LEASE_RENEW_DEADLINE', '10s', positiveDuration),
      retryPeriodMs: env.read('LEASE_RETRY_PERIOD', '2s', positiveDuration),
    },
  };
}

function readAws(env: EnvReader): AwsConfig {
  return {
    callsPerSecond: env.read('AWS_CALLS_PER_SECOND', '20', between(1, 10_000)),
    callBurst: env.read('AWS_CALL_BURST', '40', between(1, 100_000)),
    cacheMaxBytes: env.read('CACHE_MAX_BYTES', String(64 * 1024 * 1024), between(0, 2 ** 40)),
    stageTtlMs: env.read('STAGE_CACHE_TTL', '30s', parseDuration),
    callTimeoutMs: env.read('AWS_CALL_TIMEOUT', '10s', positiveDuration),
  };
}

function parsePlatformText(text: string): Parsed<ImageConfig['platform']> {
  const match = /^([a-z0-9]+)\/([a-z0-9_]+)(?:\/([a-z0-9]+))?$/.exec(text.trim());
  if (match === null) return { ok: false, error: 'expected os/architecture[/variant], for example linux/amd64' };
  const [, os = '', architecture = '', variant] = match;
  return { ok: true, value: variant === undefined ? { os, architecture } : { os, architecture, variant } };
}

const parseList = (text: string): Parsed<readonly string[]> => ({
  ok: true,
  value: text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== ''),
});

const DNS_NAME = /^(?=.{1,253}$)(\*\.)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;

/** Comma-separated DNS names and IP addresses (IPv4 or IPv6), split by kind. */
interface CertNames {
  readonly dns: readonly string[];
  readonly ips: readonly string[];
}

function parseCertNames(text: string): Parsed<CertNames> {
  const parts = text.split(',').map((part) => part.trim()).filter((part) => part !== '');
  const bad = parts.filter((part) => isIP(part) === 0 && !DNS_NAME.test(part));
  if (bad.length > 0) return { ok: false, error: `expected DNS names or IP addresses, got ${bad.map((b) => JSON.stringify(b)).join(', ')}` };
  return { ok: true, value: { dns: parts.filter((part) => isIP(part) === 0), ips: parts.filter((part) => isIP(part) !== 0) } };
}

function readWebhookCerts(env: EnvReader): WebhookCertConfig {
  // undefined when invalid (the issue is recorded and the process exits before using it)
  const extra = env.read<CertNames | undefined>('WEBHOOK_CERT_EXTRA_NAMES', '', parseCertNames);
  return {
    extraDnsNames: extra?.dns ?? [],
    extraIpAddresses: extra?.ips ?? [],
    mode: env.read('WEBHOOK_CERT_MANAGEMENT', 'files', (text) => parseEnum(text, ['auto', 'files'] as const)),
    secretName: env.read('WEBHOOK_CERT_SECRET', 'piggy-webhook-tls', parseNonEmpty),
    namespace: env.optional('WEBHOOK_CERT_NAMESPACE') ?? env.optional('POD_NAMESPACE') ?? 'piggy-system',
    serviceName: env.read('WEBHOOK_SERVICE_NAME', 'piggy', parseNonEmpty),
    configurationName: env.read('WEBHOOK_CONFIGURATION_NAME', 'piggy', parseNonEmpty),
    certDir: env.read('WEBHOOK_CERT_DIR', '/var/run/piggy/tls', parseNonEmpty),
    checkIntervalMs: env.read('WEBHOOK_CERT_CHECK_INTERVAL', '1m', positiveDuration),
  };
}

/** PROXY_TOKEN_AUDIENCE's default: the audience of the tokens the webhook mounts for piggy-env. */
export const DEFAULT_PROXY_TOKEN_AUDIENCE = 'piggysec.com';
const MIN_TOKEN_EXPIRATION_S = 600;
const MAX_TOKEN_EXPIRATION_S = 86_400;

/** A token lifetime in whole seconds, between the kubelet's minimum (10m) and 24h. */
function parseTokenExpiration(text: string): Parsed<number> {
  const parsed = parseDuration(text);
  if (!parsed.ok) return parsed;
  if (parsed.value % 1000 !== 0) return { ok: false, error: 'must be whole seconds' };
  const seconds = parsed.value / 1000;
  if (seconds < MIN_TOKEN_EXPIRATION_S || seconds > MAX_TOKEN_EXPIRATION_S) return { ok: false, error: 'must be between 10m (the kubelet\'s minimum) and 24h' };
  return { ok: true, value: seconds };
}

const AUDIENCE = /^[^\s,]{1,253}$/;
const parseAudience = (text: string): Parsed<string> => (AUDIENCE.test(text.trim()) ? { ok: true, value: text.trim() } : { ok: false, error: 'expected one audience (no spaces or commas)' });

function readInjection(env: EnvReader, variables: Environment, tlsCertFile: string | undefined, certificates: WebhookCertConfig): InjectionConfig {
  const parsed = parseAnnotationDefaults(variables);
  if (!parsed.ok) env.issues.push(...parsed.issues);
  return {
    enabled: env.read('WEBHOOK_ENABLED', 'true', parseBoolean),
    defaults: parsed.ok ? parsed.defaults : {},
    deadlineMs: env.read('WEBHOOK_DEADLINE', '8s', positiveDuration),
    pullSecretCacheTtlMs: env.read('PULL_SECRET_CACHE_TTL', '10s', parseDuration),
    caBundleFile: env.optional('WEBHOOK_CA_BUNDLE_FILE') ?? tlsCertFile ?? '',
    certificates,
    proxyToken: {
      audience: env.read('PROXY_TOKEN_AUDIENCE', DEFAULT_PROXY_TOKEN_AUDIENCE, parseAudience),
      expirationSeconds: env.read('PROXY_TOKEN_EXPIRATION', '10m', parseTokenExpiration),
    },
  };
}

function readImage(env: EnvReader): ImageConfig {
  return {
    platform: env.read('IMAGE_PLATFORM', 'linux/amd64', parsePlatformText),
    cacheMaxEntries: env.read('IMAGE_CACHE_MAX_ENTRIES', '1000', between(1, 1_000_000)),
    tagTtlMs: env.read('IMAGE_TAG_TTL', '5m', parseDuration),
    resolveTimeoutMs: env.read('IMAGE_RESOLVE_TIMEOUT', '5s', positiveDuration),
    requestTimeoutMs: env.read('REGISTRY_TIMEOUT', '3s', positiveDuration),
    insecureRegistries: env.read('INSECURE_REGISTRIES', '', parseList),
    maxConcurrentRequests: env.read('REGISTRY_MAX_CONCURRENCY', '32', between(1, 10_000)),
  };
}

function readProxy(env: EnvReader, tokenAudience: string): ProxyConfig {
  const audiences = env.read('PROXY_AUDIENCES', '', parseList);
  return {
    enabled: env.read('PROXY_ENABLED', 'true', parseBoolean),
    audiences: audiences.length > 0 ? audiences : [tokenAudience],
    acceptLegacyPods: env.read('PROXY_ACCEPT_LEGACY_PODS', 'false', parseBoolean),
    maxConcurrency: env.read('PROXY_MAX_CONCURRENCY', '64', between(1, 10_000)),
    maxQueued: env.read('PROXY_MAX_QUEUE', '1024', between(0, 100_000)),
    queueTimeoutMs: env.read('PROXY_QUEUE_TIMEOUT', '10s', positiveDuration),
    tokenReviewCacheTtlMs: env.read('TOKEN_REVIEW_CACHE_TTL', '10s', parseDuration),
    kubeTimeoutMs: env.read('PROXY_KUBE_TIMEOUT', '5s', positiveDuration),
  };
}

/** Reads every variable, collecting every problem, so one run reports all of them. */
export function parseConfig(variables: Environment): ConfigResult {
  const env = new EnvReader(variables);
  const certificates = readWebhookCerts(env);
  // With managed certificates the files live in WEBHOOK_CERT_DIR and need not be named.
  const managed = certificates.mode === 'auto' ? certificates.certDir : undefined;
  const tlsCertFile = env.read('TLS_CERT_FILE', managed === undefined ? undefined : `${managed}/tls.crt`, parseNonEmpty);
  const tlsKeyFile = env.read('TLS_PRIVATE_KEY_FILE', managed === undefined ? undefined : `${managed}/tls.key`, parseNonEmpty);
  const injection = readInjection(env, variables, tlsCertFile, certificates);
  // Read again for the cross-checks: an invalid one is already reported.
  const tokenAudience = parseAudience(env.optional('PROXY_TOKEN_AUDIENCE') ?? DEFAULT_PROXY_TOKEN_AUDIENCE);
  const config: Config = {
    logLevel: env.read('LOG_LEVEL', 'info', (text) => parseEnum(text, LOG_LEVELS)),
    listenAddress: env.read('LISTEN_ADDRESS', ':8443', parseHostPort),
    metricsAddress: env.read('METRICS_ADDRESS', ':9090', parseHostPort),
    tlsCertFile,
    tlsKeyFile,
    tlsReloadIntervalMs: env.read('TLS_RELOAD_INTERVAL', '10s', positiveDuration),
    shutdownTimeoutMs: env.read('SHUTDOWN_TIMEOUT', '25s', positiveDuration),
    shutdownDrainDelayMs: env.read('SHUTDOWN_DRAIN_DELAY', '5s', parseDuration),
    kubeconfig: env.optional('KUBECONFIG'),
    awsRegion: env.optional('AWS_REGION'),
    aws: readAws(env),
    operator: readOperator(env),
    injection,
    image: readImage(env),
    proxy: readProxy(env, tokenAudience.ok ? tokenAudience.value : DEFAULT_PROXY_TOKEN_AUDIENCE),
  };
  const { proxy } = config;
  if (config.injection.enabled && proxy.enabled && tokenAudience.ok && !proxy.audiences.includes(tokenAudience.value)) {
    env.issues.push({ variable: 'PROXY_AUDIENCES', problem: `must include PROXY_TOKEN_AUDIENCE (${injection.proxyToken.audience}): the tokens the webhook mounts would be refused` });
  }
  if (config.operator.lease.renewDeadlineMs >= config.operator.lease.durationMs) {
    env.issues.push({ variable: 'LEASE_RENEW_DEADLINE', problem: 'must be shorter than LEASE_DURATION' });
  }
  return env.issues.length > 0 ? { ok: false, issues: env.issues } : { ok: true, config: deepFreeze(config) };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** The process environment, for entry points that parse their own variables (piggy bump). */
export function processEnvironment(): Environment {
  return process.env;
}

/** The only reader of process.env in the controller. */
export function loadConfig(): ConfigResult {
  return parseConfig(processEnvironment());
}
