import { createHash } from 'node:crypto';
import { CronExpressionParser } from 'cron-parser';

export type ParsedSchedule = { readonly ok: true; readonly expression: string } | { readonly ok: false; readonly error: string };

/** Validates a cron expression (5 or 6 fields, evaluated in UTC). */
export function parseSchedule(expression: string): ParsedSchedule {
  try {
    CronExpressionParser.parse(expression, { tz: 'UTC' });
    return { ok: true, expression };
  } catch (error) {
    return { ok: false, error: `not a cron expression: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/**
 * A stable jitter in [0, maxJitterMs) for a source: every AWSSecret of one AWS secret checks at the
 * same moment (so one DescribeSecret serves them all), while different secrets spread out.
 */
export function jitterFor(seed: string, maxJitterMs: number): number {
  if (maxJitterMs <= 0) return 0;
  const digest = createHash('sha256').update(seed).digest();
  return digest.readUInt32BE(0) % maxJitterMs;
}

/** When the next check of a source is due: the cron schedule's next occurrence after `now`, plus jitter. */
export function planNextCheck(expression: string, seed: string, maxJitterMs: number, now: Date): Date {
  const next = CronExpressionParser.parse(expression, { currentDate: now, tz: 'UTC' }).next().toDate();
  return new Date(next.getTime() + jitterFor(seed, maxJitterMs));
}
