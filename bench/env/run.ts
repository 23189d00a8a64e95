// `npx tsx bench/env/run.ts [--runs 30] [--warmup 3]`
// piggy-env's start-to-exec overhead, hyperfine-style: the built single executable (installed into a
// temp folder, with its own loader and libraries, as in a Pod) is run repeatedly, one run at a time,
// in interleaved rounds, against running the app directly:
//   direct          /bin/true
//   node -e 0       Node's own start (the floor of any Node.js single executable), for reference
//   no references   piggy-env -- /bin/true                 (start, plan, exec: the floor)
//   proxy, 3 keys   piggy-env -- /bin/true with 3 piggy: variables, resolved by a local HTTPS server
//                   (TLS handshake verified against PIGGY_CA_BUNDLE, one POST /secret)
// Wall time per run from spawn to exit; the launcher's own figure (its log's `ms`: process start
// to the execve call) alongside. Also prints the sizes from dist/piggy-env/build.json. The table is
// printed and appended, dated, to bench/env/results.md.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePiggyEnvBuild } from '../../scripts/build-piggy-env.ts';
import { installLauncher } from '../../src/env/install.ts';
import { makeServingCertificate } from '../../test/helpers/tls.ts';

interface Sample {
  readonly wallMs: number;
  readonly launcherMs: number | undefined;
}

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  const value = at === -1 ? undefined : Number(process.argv[at + 1]);
  return value !== undefined && Number.isInteger(value) && value > 0 ? value : fallback;
}

async function runOnce(file: string, args: readonly string[], env: Record<string, string>): Promise<Sample> {
  const started = process.hrtime.bigint();
  const child = spawn(file, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const err: Buffer[] = [];
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const stderr = Buffer.concat(err).toString('utf8');
  if (code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${code}: ${stderr}`);
  const match = /"msg":"starting the app".*"ms":(\d+)/.exec(stderr);
  return { wallMs, launcherMs: match?.[1] === undefined ? undefined : Number(match[1]) };
}

const quantile = (sorted: readonly number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

interface Case {
  readonly label: string;
  readonly file: string;
  readonly args: readonly string[];
  readonly env: Record<string, string>;
}

/** Warm-up runs of every case, then `runs` rounds that run each case once, so load drifts hit all alike. */
async function measure(cases: readonly Case[], runs: number, warmup: number) {
  for (const item of cases) for (let index = 0; index < warmup; index += 1) await runOnce(item.file, item.args, item.env);
  const samples = cases.map((): Sample[] => []);
  for (let round = 0; round < runs; round += 1) {
    for (const [index, item] of cases.entries()) samples[index]?.push(await runOnce(item.file, item.args, item.env));
  }
  return cases.map((item, index) => {
    const taken = samples[index] ?? [];
    const wall = taken.map((sample) => sample.wallMs).sort((a, b) => a - b);
    const own = taken.flatMap((sample) => (sample.launcherMs === undefined ? [] : [sample.launcherMs])).sort((a, b) => a - b);
    return { label: item.label, mean: wall.reduce((sum, value) => sum + value, 0) / wall.length, median: quantile(wall, 0.5), p95: quantile(wall, 0.95), min: wall[0] ?? Number.NaN, own: own.length === 0 ? undefined : quantile(own, 0.5) };
  });
}

const runs = option('--runs', 30);
const warmup = option('--warmup', 3);
const build = await ensurePiggyEnvBuild();
const scratch = await mkdtemp(join(tmpdir(), 'piggy-env-bench-'));
try {
  const launcher = (await installLauncher(build.executable, join(scratch, 'piggy'))).path;
  const cert = await makeServingCertificate(scratch);
  const server = createServer({ cert: cert.cert, key: await readFile(cert.keyFile) }, (req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ a: '1', b: '2', c: '3' })));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const tokenFile = join(scratch, 'token');
  await writeFile(tokenFile, 'bench-token');
  const base = { PATH: '/usr/bin:/bin' };
  const proxyEnv = {
    ...base,
    PIGGY_ADDRESS: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    PIGGY_CA_BUNDLE: cert.cert,
    PIGGY_UID: '0123456789abcdef0123456789abcdef',
    PIGGY_POD_NAME: 'bench',
    PIGGY_TOKEN_FILE: tokenFile,
    A: 'piggy:a',
    B: 'piggy:b',
    C: 'piggy:c',
  };
  const rows = await measure(
    [
      { label: 'direct /bin/true', file: '/bin/true', args: [], env: base },
      { label: "node -e 0 (Node's own start)", file: process.execPath, args: ['-e', '0'], env: base },
      { label: 'piggy-env, no references', file: launcher, args: ['--', '/bin/true'], env: base },
      { label: 'piggy-env, proxy mode, 3 keys', file: launcher, args: ['--', '/bin/true'], env: proxyEnv },
    ],
    runs,
    warmup,
  );
  server.close();
  const direct = rows[0]?.median ?? 0;
  const node = rows[1]?.median ?? Number.NaN;
  const ms = (value: number | undefined) => (value === undefined ? '—' : value.toFixed(1));
  const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  const lines: string[] = [];
  const print = (line: string) => {
    console.log(line);
    lines.push(line);
  };
  const load = loadavg().map((value) => value.toFixed(1)).join(' ');
  print(`piggy-env start-to-exec (${runs} interleaved rounds after ${warmup} warm-up runs, one run at a time; ${cpus().length} CPUs, ${cpus()[0]?.model ?? 'cpu'}, load average ${load}, Node ${process.version})`);
  print('command: npx tsx bench/env/run.ts' + (process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''));
  print('');
  print('| case | median ms | mean ms | p95 ms | min ms | overhead vs direct (median) | ÷ Node\'s own start | launcher\'s own start→execve (median) |');
  print('|---|---|---|---|---|---|---|---|');
  for (const row of rows) {
    print(`| ${row.label} | ${ms(row.median)} | ${ms(row.mean)} | ${ms(row.p95)} | ${ms(row.min)} | ${row === rows[0] ? '—' : `+${ms(row.median - direct)}`} | ${row === rows[0] ? '—' : `${(row.median / node).toFixed(2)}×`} | ${ms(row.own)} |`);
  }
  print('');
  print(`size: executable ${mib(build.executableBytes)} + lib/ ${mib(build.runtimeBytes)} (${build.runtimeFiles.length} files) = ${mib(build.executableBytes + build.runtimeBytes)} in the launcher volume; JavaScript bundle ${(build.bundleBytes / 1024).toFixed(0)} KiB`);
  await appendFile(join(import.meta.dirname, 'results.md'), `\n## ${new Date().toISOString()}\n\n${lines.join('\n')}\n`);
} finally {
  await rm(scratch, { recursive: true, force: true });
}
