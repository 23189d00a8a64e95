// How the demo talks: numbered steps, commands a user would type, indented output, tables, and
// masked secret values (never a value in full).

const colour = process.stdout.isTTY && process.env.NO_COLOR === undefined;
const paint = (code: string) => (text: string) => (colour ? `\u001b[${code}m${text}\u001b[0m` : text);
export const bold = paint('1');
export const dim = paint('2');
export const green = paint('32');
export const yellow = paint('33');
export const cyan = paint('36');

const write = (text: string) => process.stdout.write(`${text}\n`);

export function step(index: number, total: number, title: string): void {
  write('');
  write(bold(cyan(`[${index}/${total}] ${title}`)));
}

/** A sentence of narration. */
export function say(text: string): void {
  write(`  ${text}`);
}

/** What a user would type to do or see the same thing. */
export function command(text: string): void {
  write(dim(`  $ ${text}`));
}

/** A block of output, indented. */
export function show(text: string): void {
  for (const line of text.replace(/\n+$/, '').split('\n')) write(line === '' ? '' : `    ${line}`);
}

export function good(text: string): void {
  write(`  ${green('✓')} ${text}`);
}

export function note(text: string): void {
  write(`  ${yellow('!')} ${text}`);
}

/**
 * A secret value with all but its first characters hidden: at most 2, and never more than a third
 * of the value, so short values (a port) give almost nothing away.
 */
export function maskValue(value: string): string {
  if (value === '') return '(empty)';
  const visible = Math.min(2, Math.floor(value.length / 3));
  return `${value.slice(0, visible)}****`;
}

/** Rows padded into columns, like kubectl's tables. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)));
  return all.map((row) => row.map((cell, i) => cell.padEnd((widths[i] ?? 0) + 3)).join('').trimEnd()).join('\n');
}

/** kubectl's short age: 7s, 3m12s, 2h5m, 4d. */
export function formatAge(since: string | Date | undefined, now: Date): string {
  if (since === undefined) return '<unknown>';
  const seconds = Math.max(0, Math.floor((now.getTime() - new Date(since).getTime()) / 1000));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours}h${minutes % 60}m` : `${Math.floor(hours / 24)}d`;
}

export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;
