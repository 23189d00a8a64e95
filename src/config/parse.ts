/**
 * Parsers for untrusted configuration text (environment variables and, later, pod annotations).
 * Each returns a result instead of throwing, so callers can report every bad input at once.
 */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(error: string): Parsed<T> => ({ ok: false, error });

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go-style durations: `500ms`, `30s`, `1m30s`, `2h`. Returns milliseconds. */
export function parseDuration(text: string): Parsed<number> {
  const trimmed = text.trim();
  if (trimmed === '') return fail('expected a duration such as 30s, 5m or 1h30m');
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let match = part.exec(trimmed); match !== null; match = part.exec(trimmed)) {
    total += Number(match[1]) * (DURATION_UNITS[match[2] ?? ''] ?? Number.NaN);
    consumed = part.lastIndex;
  }
  if (consumed !== trimmed.length || !Number.isFinite(total)) {
    return fail('expected a duration such as 30s, 5m or 1h30m');
  }
  return ok(Math.round(total));
}

const TRUE_WORDS = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE_WORDS = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

/** The booleans Go's strconv.ParseBool accepts (Piggy's rule); anything else is an error, never false. */
export function parseBoolean(text: string): Parsed<boolean> {
  const trimmed = text.trim();
  if (TRUE_WORDS.has(trimmed)) return ok(true);
  if (FALSE_WORDS.has(trimmed)) return ok(false);
  return fail('expected true or false');
}

export function parseInteger(text: string, min: number, max: number): Parsed<number> {
  const trimmed = text.trim();
  if (!/^-?\d+$/.test(trimmed)) return fail(`expected an integer between ${min} and ${max}`);
  const value = Number(trimmed);
  if (value < min || value > max) return fail(`expected an integer between ${min} and ${max}`);
  return ok(value);
}

export function parseEnum<T extends string>(text: string, allowed: readonly T[]): Parsed<T> {
  const found = allowed.find((candidate) => candidate === text.trim());
  return found === undefined ? fail(`expected one of ${allowed.join(', ')}`) : ok(found);
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** `:8443`, `0.0.0.0:8443`, `127.0.0.1:0` or `[::1]:8443`. An empty host means all interfaces. */
export function parseHostPort(text: string): Parsed<HostPort> {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  if (match === null || port > 65_535) return fail('expected [host]:port, for example :8443 or 127.0.0.1:8443');
  return ok({ host: match[1] ?? match[2] ?? '', port });
}

/** A non-empty, trimmed string. */
export function parseNonEmpty(text: string): Parsed<string> {
  const trimmed = text.trim();
  return trimmed === '' ? fail('must not be empty') : ok(trimmed);
}
