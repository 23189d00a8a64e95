import { cpuModel, formatTable } from '../markdown.ts';
// The results table of bench/webhook (stdout and bench/webhook/results.md) and the machine it ran on.
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import { readVersions } from '../../scripts/local/procs.ts';
import type { LoadResult } from './load.ts';

export interface Row {
  readonly label: string;
  readonly concurrency: number;
  readonly result: LoadResult;
  /** Requests the controller sent to the registry during the scenario (0 with a warm cache). */
  readonly registryRequests: number;
}

const ms = (value: number) => (value < 10 ? value.toFixed(2) : value.toFixed(1));

export function buildTable(rows: readonly Row[]): string {
  const baseline = rows[0]?.result.perSecond ?? Number.NaN;
  const header = ['scenario', 'in flight', 'reviews', 'reviews/s', 'vs baseline', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'errors', 'registry requests'];
  const cells = rows.map(({ label, concurrency, result, registryRequests }) => [
    label,
    String(concurrency),
    String(result.requests),
    result.perSecond.toFixed(0),
    `${(result.perSecond / baseline).toFixed(2)}×`,
    ms(result.p50Ms),
    ms(result.p90Ms),
    ms(result.p99Ms),
    ms(result.maxMs),
    String(result.errors),
    String(registryRequests),
  ]);
  return formatTable(header, cells);
}


export function describeMachine(): string {
  return [`nproc ${os.availableParallelism()}`, cpuModel(), `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM`, `node ${process.version}`, `kube-apiserver ${readVersions().K8S_VERSION ?? '?'}`].join(', ');
}

/** The commit measured, `+dirty` when the working tree differs from it. */
export function describeRevision(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src', 'bin'], { encoding: 'utf8' }).trim() !== '';
    return `commit ${head}${dirty ? '+dirty' : ''}`;
  } catch {
    return 'commit unknown';
  }
}

/** The 1-minute load average: other work on the machine skews every figure. */
export function describeLoad(): string {
  return (os.loadavg()[0] ?? 0).toFixed(1);
}

/** Appends one dated section to FILE (created with a heading when missing). */
export function appendResults(file: string, section: { when: Date; machine: string; load: string; command: string; table: string; rss: { peakRssKiB: number }; revision: string }): void {
  const head = existsSync(file) ? '' : '# bench/webhook results\n\nAppended by `npm run bench:webhook`; see bench/README.md for what is measured.\n';
  appendFileSync(
    file,
    `${head}\n## ${section.when.toISOString()}\n\n${section.machine}, ${section.revision}  \n${section.load}; controller peak RSS ${(section.rss.peakRssKiB / 1024).toFixed(0)} MiB  \n` +
      `\`${section.command}\`\n\n${section.table}\n`,
  );
}
