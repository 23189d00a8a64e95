// `piggy controller` as a real process for scripts (demo, bench): a serving certificate made with
// openssl, ports picked by the OS (127.0.0.1:0), JSON logs in a file, stopped by PID.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildAwsEnv } from './components.ts';
import { httpGet, isRunning, repoRoot, run, sleep, spawnDetached, stopGroup, tail } from './procs.ts';

export const PIGGY_BIN = path.join(repoRoot, 'bin', 'piggy.js');

export interface ServingCertificate {
  readonly certFile: string;
  readonly keyFile: string;
}

/** A self-signed serving certificate for 127.0.0.1/localhost in DIR (tls.crt, tls.key), via openssl. */
export async function writeServingCertificate(dir: string): Promise<ServingCertificate> {
  mkdirSync(dir, { recursive: true });
  const certFile = path.join(dir, 'tls.crt');
  const keyFile = path.join(dir, 'tls.key');
  const res = await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '7', '-subj', '/CN=piggy-local',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  if (res.code !== 0) throw new Error(`openssl could not make a serving certificate: ${res.stderr.trim()}`);
  return { certFile, keyFile };
}

export interface ControllerOptions {
  /** Working folder: the certificate, controller.log and controller.pid go here. */
  readonly dir: string;
  readonly kubeconfig: string;
  readonly awsEndpoint: string;
  /** Further configuration (WATCH_NAMESPACE, RECONCILE_CONCURRENCY, …); wins over the defaults here. */
  readonly env?: Readonly<Record<string, string>>;
  readonly startTimeoutMs?: number;
  /** The script node runs (default bin/piggy.js; the benchmarks pass the image's bundle). */
  readonly entry?: string;
  /** Node flags before the script (e.g. the image's entrypoint flags). */
  readonly nodeFlags?: readonly string[];
}

export interface LogLine {
  readonly msg?: string;
  readonly [field: string]: unknown;
}

export interface RunningController {
  readonly pid: number;
  readonly log: string;
  readonly metricsUrl: string;
  readonly httpsPort: number;
  /** The parsed JSON log lines written so far. */
  logLines(): LogLine[];
  /** Resolves with the first log line that matches; throws when the process exits first. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** The /metrics exposition text. */
  scrapeMetrics(): Promise<string>;
  /** VmHWM and VmRSS of the process in KiB (from /proc/PID/status). */
  memory(): { peakRssKiB: number; rssKiB: number };
  stop(): Promise<void>;
}

const pidFile = (dir: string) => path.join(dir, 'controller.pid');

function parseLines(text: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line) as LogLine);
    } catch {
      // a line still being written
    }
  }
  return lines;
}

/** True when pid runs `node … <entry> controller` (guards against PID reuse); entry defaults to bin/piggy.js. */
export function isPiggyController(pid: number, entry = PIGGY_BIN): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.includes(entry) && argv.includes('controller');
  } catch {
    return false;
  }
}

/** Stops a controller an earlier run left in DIR (its PID in DIR/controller.pid); returns its PID. */
export async function stopLeftoverController(dir: string, entry = PIGGY_BIN): Promise<number | undefined> {
  if (!existsSync(pidFile(dir))) return undefined;
  const pid = Number(readFileSync(pidFile(dir), 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0 || !isRunning(pid) || !isPiggyController(pid, entry)) return undefined;
  await stopGroup(pid, 15_000);
  return pid;
}

export function readMemory(pid: number): { peakRssKiB: number; rssKiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { peakRssKiB: field('VmHWM'), rssKiB: field('VmRSS') };
}

export interface MetricSample {
  readonly labels: ReadonlyMap<string, string>;
  readonly value: number;
}

/** The samples of one metric in Prometheus exposition text. */
export function parseMetricSamples(text: string, name: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (match?.[1] !== name) continue;
    const labels = new Map([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1] ?? '', m[2] ?? '']));
    samples.push({ labels, value: Number(match[3]) });
  }
  return samples;
}

/** Sum of a metric's samples whose labels include `labels`. */
export function sumMetric(text: string, name: string, labels: Readonly<Record<string, string>> = {}): number {
  return parseMetricSamples(text, name)
    .filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels.get(key) === value))
    .reduce((sum, sample) => sum + sample.value, 0);
}

/** A metric summed per value of one label (e.g. piggy_aws_calls_total by api). */
export function sumMetricBy(text: string, name: string, label: string): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const sample of parseMetricSamples(text, name)) {
    const key = sample.labels.get(label) ?? '';
    sums[key] = (sums[key] ?? 0) + sample.value;
  }
  return sums;
}

/**
 * Starts `node [nodeFlags] <entry> controller` (default bin/piggy.js) detached (its own process group, so it can outlive the
 * caller when asked to) and waits for its 'controller started' log line.
 */
export async function startController(options: ControllerOptions): Promise<RunningController> {
  mkdirSync(options.dir, { recursive: true });
  const cert = await writeServingCertificate(path.join(options.dir, 'tls'));
  const log = path.join(options.dir, 'controller.log');
  writeFileSync(log, '');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    KUBECONFIG: options.kubeconfig,
    ...buildAwsEnv(options.awsEndpoint),
    TLS_CERT_FILE: cert.certFile,
    TLS_PRIVATE_KEY_FILE: cert.keyFile,
    LISTEN_ADDRESS: '127.0.0.1:0',
    METRICS_ADDRESS: '127.0.0.1:0',
    ...options.env,
  };
  const entry = options.entry ?? PIGGY_BIN;
  const proc = spawnDetached(process.execPath, [...(options.nodeFlags ?? []), entry, 'controller'], log, env);
  writeFileSync(pidFile(options.dir), `${proc.pid}\n`);
  const logLines = () => parseLines(readFileSync(log, 'utf8'));
  const waitForLog = async (predicate: (line: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = logLines().find(predicate);
      if (found !== undefined) return found;
      const exit = proc.exited();
      if (exit !== undefined || !isRunning(proc.pid)) {
        throw new Error(`piggy controller ${exit ?? 'exited'}; last lines of ${log}:\n${await tail(log, 15)}`);
      }
      if (Date.now() > deadline) throw new Error(`piggy controller: log line not seen after ${timeoutMs / 1000}s; last lines of ${log}:\n${await tail(log, 15)}`);
      await sleep(50);
    }
  };
  let started: LogLine;
  try {
    started = await waitForLog((line) => line.msg === 'controller started', options.startTimeoutMs ?? 30_000);
  } catch (error) {
    await stopGroup(proc.pid, 5_000);
    throw error;
  }
  const metricsUrl = `http://127.0.0.1:${String(started.metricsPort)}/metrics`;
  return {
    pid: proc.pid,
    log,
    metricsUrl,
    httpsPort: Number(started.httpsPort),
    logLines,
    waitForLog,
    scrapeMetrics: async () => {
      const res = await httpGet(metricsUrl);
      if (res.status !== 200) throw new Error(`GET ${metricsUrl} answered ${res.status}`);
      return res.body;
    },
    memory: () => readMemory(proc.pid),
    stop: async () => {
      if (isRunning(proc.pid) && isPiggyController(proc.pid, entry)) await stopGroup(proc.pid, 15_000);
    },
  };
}
