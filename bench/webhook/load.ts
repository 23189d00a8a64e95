// The load generator of bench/webhook, run as a SEPARATE process (`node bench/webhook/load.ts
// <config.json>`), so the controller's event loop and the client's never share a thread. A fixed
// number of workers each keep one request in flight over keep-alive HTTPS connections (as the API
// server does), for a warm-up and then a measured window; every answer is checked. Prints one JSON
// line: counts and latency percentiles of the measured window.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';

export interface LoadConfig {
  readonly port: number;
  readonly caFile: string;
  /** Bodies to send, round robin (each an AdmissionReview JSON). */
  readonly bodyFiles: readonly string[];
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** What every answer must be: allowed with a JSON patch, or allowed without one. */
  readonly expect: 'patch' | 'no-patch';
}

export interface LoadResult {
  readonly requests: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly windowMs: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

function post(agent: Agent, config: LoadConfig, ca: string, body: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: config.port, path: '/mutate', method: 'POST', agent, ca, servername: 'localhost', headers: { 'content-type': 'application/json', 'content-length': body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function check(reply: { status: number; text: string }, expect: LoadConfig['expect']): string | undefined {
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
  const bodies = config.bodyFiles.map((file) => readFileSync(file));
  const agent = new Agent({ keepAlive: true, maxSockets: config.concurrency, ca });
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let sent = 0;
  const start = performance.now();
  const measureFrom = start + config.warmupMs;
  const end = measureFrom + config.durationMs;
  const worker = async () => {
    while (performance.now() < end) {
      const body = bodies[sent++ % bodies.length] ?? Buffer.alloc(0);
      const began = performance.now();
      let problem: string | undefined;
      try {
        problem = check(await post(agent, config, ca, body), config.expect);
      } catch (error) {
        problem = error instanceof Error ? error.message : String(error);
      }
      const finished = performance.now();
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
  const sorted = Float64Array.from(latencies).sort();
  const total = latencies.reduce((sum, value) => sum + value, 0);
  return {
    requests: latencies.length,
    errors,
    ...(firstError === undefined ? {} : { firstError }),
    windowMs: config.durationMs,
    perSecond: latencies.length / (config.durationMs / 1000),
    p50Ms: percentile(sorted, 50),
    p90Ms: percentile(sorted, 90),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[sorted.length - 1] ?? Number.NaN,
    meanMs: latencies.length === 0 ? Number.NaN : total / latencies.length,
  };
}

if (process.argv[1] === import.meta.filename) {
  const config = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as LoadConfig;
  process.stdout.write(`${JSON.stringify(await runLoad(config))}\n`);
}
