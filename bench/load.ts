// The load generator of the benchmarks, run as a SEPARATE process (`node bench/load.ts
// <config.json>`, or runLoadProcess), so the server's event loop and the client's never share a
// thread. A fixed number of workers each keep one request in flight over keep-alive HTTPS
// connections, sending the configured requests round robin, for a warm-up and then a measured
// window; or, with `once`, every request exactly once (a burst). Every answer is checked. Prints one
// JSON line: counts and latency percentiles of the measured requests.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';

/** What every answer must be. */
export type Expectation =
  /** An AdmissionReview: allowed, with a JSON patch. */
  | 'patch'
  /** An AdmissionReview: allowed, without a patch. */
  | 'no-patch'
  /** A TokenReview: 201 with status.authenticated true. */
  | 'authenticated'
  /** A /secret answer: 200 with a JSON object. */
  | 'json-200';

export interface LoadRequest {
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface LoadConfig {
  readonly port: number;
  readonly caFile: string;
  readonly path: string;
  /** A JSON file holding LoadRequest[] (sent round robin). */
  readonly requestsFile: string;
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Send every request exactly once (no warm-up, no window): a burst. */
  readonly once?: boolean;
  readonly expect: Expectation;
}

export interface LoadResult {
  /** Answers inside the measured window. */
  readonly requests: number;
  /** Every answer, warm-up included. */
  readonly answered: number;
  readonly errors: number;
  readonly firstError?: string;
  /** The measured window (or, with `once`, first request → last answer). */
  readonly windowMs: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

interface Reply {
  readonly status: number;
  readonly text: string;
}

function post(agent: Agent, config: LoadConfig, ca: string, item: { headers: Record<string, string>; body: Buffer }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: config.port, path: config.path, method: 'POST', agent, ca, headers: { ...item.headers, 'content-length': item.body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(item.body);
  });
}

/** A problem with the answer (status and the first bytes of the body, which are never secret values here: see callers), or undefined. */
export function checkReply(reply: Reply, expect: Expectation): string | undefined {
  if (expect === 'json-200' || expect === 'authenticated') {
    const wanted = expect === 'json-200' ? 200 : 201;
    if (reply.status !== wanted) return `HTTP ${reply.status}: ${reply.text.slice(0, 300)}`;
    const parsed = JSON.parse(reply.text) as { status?: { authenticated?: boolean } } | null;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return 'not a JSON object';
    if (expect === 'authenticated' && parsed.status?.authenticated !== true) return 'not authenticated';
    return undefined;
  }
  if (reply.status !== 200) return `HTTP ${reply.status}: ${reply.text.slice(0, 300)}`;
  const review = JSON.parse(reply.text) as { response?: { allowed?: boolean; patch?: string; status?: { message?: string } } };
  if (review.response?.allowed !== true) return `denied: ${review.response?.status?.message ?? ''}`;
  if (expect === 'patch' && typeof review.response.patch !== 'string') return 'allowed without a patch';
  if (expect === 'no-patch' && review.response.patch !== undefined) return 'unexpected patch';
  return undefined;
}

const percentile = (sorted: Float64Array, p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;

export async function runLoad(config: LoadConfig): Promise<LoadResult> {
  const ca = readFileSync(config.caFile, 'utf8');
  const items = (JSON.parse(readFileSync(config.requestsFile, 'utf8')) as LoadRequest[]).map((item) => ({
    headers: { 'content-type': 'application/json', ...item.headers },
    body: Buffer.from(item.body),
  }));
  if (items.length === 0) throw new Error('no requests to send');
  const agent = new Agent({ keepAlive: true, maxSockets: config.concurrency, ca });
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let sent = 0;
  let answered = 0;
  const start = performance.now();
  const measureFrom = config.once === true ? start : start + config.warmupMs;
  const end = config.once === true ? Number.POSITIVE_INFINITY : measureFrom + config.durationMs;
  let lastAnswer = start;
  const more = () => (config.once === true ? sent < items.length : performance.now() < end);
  const worker = async () => {
    while (more()) {
      const item = items[sent++ % items.length] ?? { headers: {}, body: Buffer.alloc(0) };
      const began = performance.now();
      let problem: string | undefined;
      try {
        problem = checkReply(await post(agent, config, ca, item), config.expect);
      } catch (error) {
        problem = error instanceof Error ? error.message : String(error);
      }
      const finished = performance.now();
      answered += 1;
      lastAnswer = Math.max(lastAnswer, finished);
      if (began < measureFrom || finished > end) continue;
      latencies.push(finished - began);
      if (problem !== undefined) {
        errors += 1;
        firstError ??= problem;
      }
    }
  };
  await Promise.all(Array.from({ length: config.concurrency }, worker));
  agent.destroy();
  const windowMs = config.once === true ? lastAnswer - start : config.durationMs;
  const sorted = Float64Array.from(latencies).sort();
  const total = latencies.reduce((sum, value) => sum + value, 0);
  return {
    requests: latencies.length,
    answered,
    errors,
    ...(firstError === undefined ? {} : { firstError }),
    windowMs,
    perSecond: latencies.length / (windowMs / 1000),
    p50Ms: percentile(sorted, 50),
    p90Ms: percentile(sorted, 90),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[sorted.length - 1] ?? Number.NaN,
    meanMs: latencies.length === 0 ? Number.NaN : total / latencies.length,
  };
}

const ms = (value: number) => (value < 10 ? value.toFixed(2) : value.toFixed(1));

/**
 * Stops a benchmark whose load was mostly refused: its rate, latency and memory would measure the
 * error path (a fixture that no longer matches what the server checks), not the work.
 */
export function assertServed(result: LoadResult, what: string): void {
  if (result.errors > result.requests * 0.01) {
    throw new Error(`${what}: ${result.errors} of ${result.requests} requests failed (first: ${result.firstError ?? 'unknown'}); the figures would measure the error path`);
  }
}

/** The columns a LoadResult fills in a results table: count, rate, ratio to the baseline's rate, latency percentiles, errors. */
export function rateColumns(unit: string, baselineName: string): string[] {
  return [unit, `${unit}/s`, `vs ${baselineName}`, 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'errors'];
}

/** The cells of rateColumns for one result, against the baseline's requests per second. */
export function rateCells(result: LoadResult, baselinePerSecond: number): string[] {
  return [
    String(result.requests),
    result.perSecond.toFixed(0),
    `${(result.perSecond / baselinePerSecond).toFixed(2)}×`,
    ms(result.p50Ms),
    ms(result.p90Ms),
    ms(result.p99Ms),
    ms(result.maxMs),
    String(result.errors),
  ];
}

/** Runs the load generator as its own node process (config written to `configFile`) and parses its one JSON line. */
export function runLoadProcess(config: LoadConfig, configFile: string): Promise<LoadResult> {
  writeFileSync(configFile, JSON.stringify(config));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [import.meta.filename, configFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`the load generator exited ${String(code)}`));
      else resolve(JSON.parse(out) as LoadResult);
    });
  });
}

if (process.argv[1] === import.meta.filename) {
  const config = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as LoadConfig;
  process.stdout.write(`${JSON.stringify(await runLoad(config))}\n`);
}
