import type { LevelWithSilent } from 'pino';
import {
  parseDuration,
  parseEnum,
  parseHostPort,
  parseNonEmpty,
  type HostPort,
  type Parsed,
} from './parse.ts';

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
}

export interface ConfigIssue {
  readonly variable: string;
  readonly problem: string;
}

export type ConfigResult =
  | { readonly ok: true; readonly config: Config }
  | { readonly ok: false; readonly issues: readonly ConfigIssue[] };

export type Environment = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Reads every variable, collecting every problem, so one run reports all of them. */
export function parseConfig(env: Environment): ConfigResult {
  const issues: ConfigIssue[] = [];
  function read<T>(variable: string, fallback: string | undefined, parse: (text: string) => Parsed<T>): T {
    const raw = env[variable];
    const text = raw === undefined || raw.trim() === '' ? fallback : raw;
    if (text === undefined) {
      issues.push({ variable, problem: 'is required' });
      return undefined as T;
    }
    const result = parse(text);
    if (!result.ok) {
      issues.push({ variable, problem: result.error });
      return undefined as T;
    }
    return result.value;
  }
  const optional = (variable: string): string | undefined => {
    const raw = env[variable]?.trim();
    return raw === undefined || raw === '' ? undefined : raw;
  };

  const config: Config = {
    logLevel: read('LOG_LEVEL', 'info', (text) => parseEnum(text, LOG_LEVELS)),
    listenAddress: read('LISTEN_ADDRESS', ':8443', parseHostPort),
    metricsAddress: read('METRICS_ADDRESS', ':9090', parseHostPort),
    tlsCertFile: read('TLS_CERT_FILE', undefined, parseNonEmpty),
    tlsKeyFile: read('TLS_PRIVATE_KEY_FILE', undefined, parseNonEmpty),
    tlsReloadIntervalMs: read('TLS_RELOAD_INTERVAL', '10s', positiveDuration),
    shutdownTimeoutMs: read('SHUTDOWN_TIMEOUT', '25s', positiveDuration),
    kubeconfig: optional('KUBECONFIG'),
    awsRegion: optional('AWS_REGION'),
  };
  return issues.length > 0 ? { ok: false, issues } : { ok: true, config: Object.freeze(config) };
}

function positiveDuration(text: string): Parsed<number> {
  const result = parseDuration(text);
  if (result.ok && result.value <= 0) return { ok: false, error: 'must be longer than 0s' };
  return result;
}

/** The only reader of process.env in the controller. */
export function loadConfig(): ConfigResult {
  return parseConfig(process.env);
}
