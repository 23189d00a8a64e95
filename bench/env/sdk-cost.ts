// `npx tsx bench/env/sdk-cost.ts [--runs 20]`
// Why piggy-env signs its three AWS calls itself instead of bundling the AWS SDK v3: both ways of
// reaching AWS are bundled with the launcher's esbuild settings and loaded by a fresh Node process
// (load and construct, no call), interleaved, one at a time:
//   hand-written   src/env/standalone.ts (SigV4, STS web identity, Secrets Manager, SSM on node:crypto + node:https)
//   AWS SDK v3     @aws-sdk/client-secrets-manager + client-ssm + client-sts, one client each
// The table is printed and appended, dated, to bench/env/results.md.
import { spawnSync } from 'node:child_process';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import esbuild from 'esbuild';

const repoRoot = join(import.meta.dirname, '..', '..');
const at = process.argv.indexOf('--runs');
const runs = at === -1 ? 20 : Math.max(1, Number(process.argv[at + 1]) || 20);

const entries = {
  'hand-written': `
    import { fetchStandaloneSecrets } from './src/env/standalone.ts';
    import { sendHttp } from './src/env/http-request.ts';
    process.getBuiltinModule('node:https');
    Object.assign(globalThis, { keep: [fetchStandaloneSecrets, sendHttp] });`,
  'AWS SDK v3': `
    import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
    import { SSMClient } from '@aws-sdk/client-ssm';
    import { STSClient } from '@aws-sdk/client-sts';
    Object.assign(globalThis, { keep: [new SecretsManagerClient({ region: 'us-east-1' }), new SSMClient({ region: 'us-east-1' }), new STSClient({ region: 'us-east-1' })] });`,
};

const scratch = await mkdtemp(join(tmpdir(), 'piggy-env-sdk-cost-'));
try {
  const files: Record<string, { path: string; bytes: number }> = {};
  for (const [label, contents] of Object.entries(entries)) {
    const result = await esbuild.build({
      stdin: { contents, resolveDir: repoRoot, loader: 'ts', sourcefile: 'entry.ts' },
      bundle: true,
      platform: 'node',
      target: 'node24',
      format: 'cjs',
      minify: true,
      legalComments: 'none',
      write: false,
      logLevel: 'silent',
    });
    const text = result.outputFiles[0]?.text ?? '';
    const path = join(scratch, `${label.replace(/\W+/g, '-')}.cjs`);
    await writeFile(path, text);
    files[label] = { path, bytes: Buffer.byteLength(text) };
  }
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(files).map((label) => [label, []]));
  for (let index = 0; index < runs + 2; index += 1) {
    for (const [label, file] of Object.entries(files)) {
      const started = process.hrtime.bigint();
      const result = spawnSync(process.execPath, [file.path], { stdio: 'ignore' });
      if (result.status !== 0) throw new Error(`${label} failed`);
      if (index >= 2) times[label]?.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  }
  const lines: string[] = [];
  const print = (line: string) => {
    console.log(line);
    lines.push(line);
  };
  print(`AWS access in piggy-env: load cost of a fresh Node process (${runs} interleaved runs; load average ${loadavg().map((value) => value.toFixed(1)).join(' ')}; Node ${process.version})`);
  print('command: npx tsx bench/env/sdk-cost.ts');
  print('');
  print('| bundle | size | median ms |');
  print('|---|---|---|');
  for (const [label, file] of Object.entries(files)) {
    const sorted = (times[label] ?? []).sort((a, b) => a - b);
    print(`| ${label} | ${(file.bytes / 1024).toFixed(0)} KiB | ${(sorted[Math.floor(sorted.length / 2)] ?? Number.NaN).toFixed(1)} |`);
  }
  await appendFile(join(import.meta.dirname, 'results.md'), `\n## ${new Date().toISOString()}\n\n${lines.join('\n')}\n`);
} finally {
  await rm(scratch, { recursive: true, force: true });
}
