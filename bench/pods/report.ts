// The results table of `npm run bench:pods` (stdout and bench/pods/results.md).
import { appendResultsSection, formatTable } from '../markdown.ts';
import type { CaseStats } from './measure.ts';
import { CASE_TITLES, type CaseName } from './pods.ts';

const ms = (value: number) => `${Math.round(value)} ms`;
const ratio = (value: number, base: number) => `${(value / base).toFixed(2)}×`;
const mib = (bytes: number) => (bytes === 0 ? '0 bytes' : `${(bytes / 1024 / 1024).toFixed(1)} MiB`);
const signed = (value: number) => `${value >= 0 ? '+' : '−'}${Math.round(Math.abs(value))} ms`;

export function buildTable(stats: ReadonlyMap<CaseName, CaseStats>): string {
  const plain = stats.get('plain');
  if (plain === undefined) throw new Error('the plain case is the baseline');
  const header = ['case', 'pods', 'apply → app p50', 'p99', '÷ plain p50', '÷ plain p99', 'added p50', 'apply → running p50', 'p99'];
  const rows = [...stats].map(([name, s]) => [
    CASE_TITLES[name],
    `${s.count} (${Object.entries(s.byNode).sort().map(([node, n]) => `${node.split('.').pop() ?? node}: ${n}`).join(', ')})`,
    ms(s.app.p50),
    ms(s.app.p99),
    ratio(s.app.p50, plain.app.p50),
    ratio(s.app.p99, plain.app.p99),
    name === 'plain' ? '—' : signed(s.app.p50 - plain.app.p50),
    ms(s.running.p50),
    ms(s.running.p99),
  ]);
  return formatTable(header, rows);
}

/** The per-case lines under the table: where the injected pod's time goes, the sync's Secret. */
export function buildNotes(stats: ReadonlyMap<CaseName, CaseStats>): string[] {
  const notes: string[] = [];
  for (const kind of ['injected', 'injected-copy'] as const) {
    const injected = stats.get(kind);
    if (injected?.launcherExec === undefined || injected.launcherMs === undefined) continue;
    const at = (what: string, stat: { p50: number; p99: number } | undefined) => (stat === undefined ? '' : `apply → ${what} p50 ${ms(stat.p50)}, p99 ${ms(stat.p99)}; `);
    const init = `${at('install-piggy-env running (watch)', injected.initRunning)}${at('install-piggy-env done (watch)', injected.initDone)}`;
    const bytes = injected.launcherBytes === undefined ? '' : `; launcher bytes written per pod ${mib(injected.launcherBytes.min)}${injected.launcherBytes.max === injected.launcherBytes.min ? '' : `–${mib(injected.launcherBytes.max)}`}`;
    notes.push(`${kind}: ${init}apply → the launcher's execve p50 ${ms(injected.launcherExec.p50)}, p99 ${ms(injected.launcherExec.p99)}; ` +
      `the launcher's own start → execve (its log's \`ms\`) p50 ${ms(injected.launcherMs.p50)}, p99 ${ms(injected.launcherMs.p99)}${bytes}`);
  }
  const sync = stats.get('awssecret-sync');
  if (sync?.secret !== undefined) notes.push(`AWSSecret + pod together: apply → the generated Secret seen p50 ${ms(sync.secret.p50)}, p99 ${ms(sync.secret.p99)}`);
  return notes;
}

/** Appends one dated section to FILE (created with a heading when missing). */
export function appendResults(file: string, section: { when: Date; machine: string; settings: string; command: string; table: string; notes: readonly string[] }): void {
  const notes = section.notes.map((note) => `- ${note}\n`).join('');
  appendResultsSection(file, 'pods', `${section.machine}  \n${section.settings}  \n\`${section.command}\`\n\n${section.table}\n${notes === '' ? '' : `\n${notes}`}`, section.when);
}
