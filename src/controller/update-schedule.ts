import { createHash } from 'node:crypto';
import { CronExpressionParser } from 'cron-parser';

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
