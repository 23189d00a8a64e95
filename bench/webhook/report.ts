// The results table of bench/webhook (stdout and bench/webhook/results.md) and the machine it ran on.
import { rateCells, rateColumns, type LoadResult } from '../load.ts';
import { appendResultsSection, formatTable } from '../markdown.ts';

export interface Row {
  readonly label: string;
  readonly concurrency: number;
  readonly result: LoadResult;
  /** Requests the controller sent to the registry during the scenario (0 with a warm cache). */
  readonly registryRequests: number;
}

export function buildTable(rows: readonly Row[]): string {
  const baseline = rows[0]?.result.perSecond ?? Number.NaN;
  const header = ['scenario', 'in flight', ...rateColumns('reviews', 'baseline'), 'registry requests'];
  const cells = rows.map(({ label, concurrency, result, registryRequests }) => [label, String(concurrency), ...rateCells(result, baseline), String(registryRequests)]);
  return formatTable(header, cells);
}


/** Appends one dated section to FILE (created with a heading when missing). */
export function appendResults(file: string, section: { when: Date; machine: string; load: string; command: string; table: string; rss: { peakRssKiB: number }; revision: string }): void {
  appendResultsSection(
    file,
    'webhook',
    `${section.machine}, ${section.revision}  \n${section.load}; controller peak RSS ${(section.rss.peakRssKiB / 1024).toFixed(0)} MiB  \n` +
      `\`${section.command}\`\n\n${section.table}\n`,
    section.when,
  );
}
