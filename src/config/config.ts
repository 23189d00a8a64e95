import { hostname } from 'node:os';
import type { LevelWithSilent } from 'pino';
import { parseAccessPolicy, type AccessPolicy } from '../shared/access-policy.ts';
import { parseBoolean, parseDuration, parseEnum, parseHostPort, parseInteger, parseNonEmpty, type HostPort, type Parsed } from './parse.ts';
import { EnvReader, type ConfigIssue, type Environment } from './reader.ts';
import { parseCronOrOff } from './schedule.ts';

export type { ConfigIssue, Environment } from './reader.ts';

export interface OperatorConfig {
  /** OPERATOR_ENABLED: run the AWSSecret reconciler in this process. */
  readonly enabled: boolean;
  /** WATCH_NAMESPACE: reconcile AWSSecrets of one namespace only; undefined = all. */
  readonly watchNamespace: string | undefined;
  readonly accessPolicy: AccessPolicy;
  readonly concurrency: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly recheckMs: number;
  /** Cron expression of the AWSCURRENT check; undefined when turned off. */
  readonly updateCheckSchedule: string | undefined;
  readonly updateCheckJitterMs: number;
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
  /** KUBECONFIG; undefined means in-cluster config (or the client's default chain). */
  readonly kubeconfig: string | undefined;
  /** AWS_REGION: the default region; the SDK's own chain applies when unset. */
  readonly awsRegion: string | undefined;
  readonly aws: AwsConfig;
  readonly operator: OperatorConfig;
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
    accessPolicy: env.read('ACCESS_POLICY', '{namespace}/*', parseAccessPolicy),
    concurrency: env.read('RECONCILE_CONCURRENCY', '10', between(1, 1000)),
    retryBaseMs: env.read('RETRY_BASE_DELAY', '1s', positiveDuration),
    retryMaxMs: env.read('RETRY_MAX_DELAY', '5m', positiveDuration),
    recheckMs: env.read('RECHECK_INTERVAL', '5m', positiveDuration),
    updateCheckSchedule: env.read('UPDATE_CHECK_SCHEDULE', '0 * * * *', parseCronOrOff),
    updateCheckJitterMs: env.read('UPDATE_CHECK_JITTER', '5m', parseDuration),
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

/** Reads every variable, collecting every problem, so one run reports all of them. */
export function parseConfig(variables: Environment): ConfigResult {
  const env = new EnvReader(variables);
  const config: Config = {
    logLevel: env.read('LOG_LEVEL', 'info', (text) => parseEnum(text, LOG_LEVELS)),
    listenAddress: env.read('LISTEN_ADDRESS', ':8443', parseHostPort),
    metricsAddress: env.read('METRICS_ADDRESS', ':9090', parseHostPort),
    tlsCertFile: env.read('TLS_CERT_FILE', undefined, parseNonEmpty),
    tlsKeyFile: env.read('TLS_PRIVATE_KEY_FILE', undefined, parseNonEmpty),
    tlsReloadIntervalMs: env.read('TLS_RELOAD_INTERVAL', '10s', positiveDuration),
    shutdownTimeoutMs: env.read('SHUTDOWN_TIMEOUT', '25s', positiveDuration),
    kubeconfig: env.optional('KUBECONFIG'),
    awsRegion: env.optional('AWS_REGION'),
    aws: readAws(env),
    operator: readOperator(env),
  };
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
