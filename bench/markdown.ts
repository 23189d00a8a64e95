// What every benchmark report shares: Markdown tables, and the machine, load and commit a figure was
// measured on.
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { readVersions } from '../scripts/local/procs.ts';

/** A Markdown table with padded columns, as the benchmarks append to their results.md. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

/** The CPU model from /proc/cpuinfo, for the machine line of a results table. */
export function cpuModel(): string {
  try {
    return /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown CPU';
  } catch {
    return 'unknown CPU';
  }
}

/** nproc, CPU, RAM, Node and the stack's versions. */
export function describeMachine(): string {
  const versions = readVersions();
  return [
    `nproc ${os.availableParallelism()}`,
    cpuModel(),
    `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM`,
    `node ${process.version}`,
    `kube-apiserver ${versions.K8S_VERSION ?? '?'}`,
    `etcd ${versions.ETCD_VERSION ?? '?'}`,
    `moto ${versions.MOTO_VERSION ?? '?'}`,
  ].join(', ');
}

/** The 1-minute load average (other work on the machine skews every figure). */
export function describeLoad(): string {
  return (os.loadavg()[0] ?? 0).toFixed(1);
}

/** The commit measured, `+dirty` when src/ or bin/ differ from it. */
export function describeRevision(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src', 'bin'], { encoding: 'utf8' }).trim() !== '';
    return `commit ${head}${dirty ? '+dirty' : ''}`;
  } catch {
    return 'commit unknown';
  }
}

/**
 * Appends one dated section (`## <ISO time>` then BODY) to a benchmark's results.md, writing the
 * file's heading first when it does not exist yet. NAME is the benchmark (`memory` → bench:memory).
 */
export function appendResultsSection(file: string, name: string, body: string, when = new Date()): void {
  const head = existsSync(file) ? '' : `# bench/${name} results\n\nAppended by \`npm run bench:${name}\`; see bench/README.md for what is measured.\n`;
  appendFileSync(file, `${head}\n## ${when.toISOString()}\n\n${body}`);
}
