import { CronExpressionParser } from 'cron-parser';
import type { Parsed } from './parse.ts';

/** A cron expression (UTC), or `off`/`never`/`false` to turn the schedule off (undefined). */
export function parseCronOrOff(text: string): Parsed<string | undefined> {
  const trimmed = text.trim();
  if (['off', 'never', 'false'].includes(trimmed.toLowerCase())) return { ok: true, value: undefined };
  try {
    CronExpressionParser.parse(trimmed, { tz: 'UTC' });
    return { ok: true, value: trimmed };
  } catch {
    return { ok: false, error: 'expected a cron expression such as "0 * * * *", or off' };
  }
}
