import { AppError, isAppError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import { keyOf, listRefs, type AWSSecret, type AWSSecretStatus } from './awssecret.ts';
import type { OperatorMetrics } from './operator-metrics.ts';
import { buildUpdateCheckStatus } from './status.ts';
import { parseCronOrOff } from '../config/schedule.ts';
import { planNextCheck } from './update-schedule.ts';

export interface UpdateCheckerOptions {
  /** Controller-wide cron expression; undefined turns checks off unless a resource sets its own. */
  readonly defaultSchedule: string | undefined;
  readonly maxJitterMs: number;
  readonly describeCurrentVersion: (ref: { region: string; secretId: string }) => Promise<{ versionId: string }>;
  readonly log: Logger;
  readonly metrics?: OperatorMetrics;
}

/**
 * The AWSCURRENT check: on each resource's schedule, DescribeSecret (no decryption) tells whether
 * the pinned version is still current. Runs inside the key's reconcile, so status writes for one
 * key never race.
 */
export class UpdateChecker {
  readonly #options: UpdateCheckerOptions;
  readonly #due = new Map<string, number>();

  constructor(options: UpdateCheckerOptions) {
    this.#options = options;
  }

  /** The resource's own schedule, else the controller's; an invalid own schedule means no checks. */
  scheduleOf(awsSecret: AWSSecret): string | undefined {
    const own = awsSecret.spec.updateCheckSchedule?.trim();
    if (own !== undefined && own !== '') {
      const parsed = parseCronOrOff(own);
      return parsed.ok ? parsed.value : undefined;
    }
    return this.#options.defaultSchedule;
  }

  /** Why spec.updateCheckSchedule cannot be used, or undefined when it is valid or not set. */
  scheduleProblem(awsSecret: AWSSecret): string | undefined {
    const own = awsSecret.spec.updateCheckSchedule?.trim();
    if (own === undefined || own === '') return undefined;
    const parsed = parseCronOrOff(own);
    if (parsed.ok) return undefined;
    const shown = own.length > 64 ? `${own.slice(0, 64)}…` : own;
    return `spec.updateCheckSchedule ${JSON.stringify(shown)} is invalid (${parsed.error}); no update checks until it is fixed`;
  }

  /** Milliseconds until the key's next check, scheduling it if new; undefined when checks are off. */
  delayUntilDue(awsSecret: AWSSecret, region: string, now: Date): number | undefined {
    const schedule = this.scheduleOf(awsSecret);
    const key = keyOf(awsSecret.metadata.namespace, awsSecret.metadata.name);
    if (schedule === undefined) {
      this.#due.delete(key);
      return undefined;
    }
    let due = this.#due.get(key);
    if (due === undefined) {
      const seed = `${region}/${listRefs(awsSecret.spec).map((entry) => entry.ref.secretId).join(',')}`;
      due = planNextCheck(schedule, seed, this.#options.maxJitterMs, now).getTime();
      this.#due.set(key, due);
    }
    return Math.max(0, due - now.getTime());
  }

  isDue(awsSecret: AWSSecret, region: string, now: Date): boolean {
    return this.delayUntilDue(awsSecret, region, now) === 0;
  }

  forget(key: string): void {
    this.#due.delete(key);
  }

  /** Runs the check and returns the status with latestVersionId and UpdateAvailable set. */
  async check(awsSecret: AWSSecret, status: AWSSecretStatus, region: string, now: Date): Promise<AWSSecretStatus> {
    const key = keyOf(awsSecret.metadata.namespace, awsSecret.metadata.name);
    this.#due.delete(key);
    const refs = listRefs(awsSecret.spec);
    const pinned = refs.map((entry) => entry.ref.versionId).join(',');
    const withStatus: AWSSecret = { ...awsSecret, status };
    try {
      const latest = await Promise.all(refs.map(({ ref }) => this.#options.describeCurrentVersion({ region, secretId: ref.secretId })));
      const latestIds = latest.map((entry) => entry.versionId).join(',');
      this.#options.metrics?.updateChecks.inc({ result: latestIds === pinned ? 'up_to_date' : 'update_available' });
      return buildUpdateCheckStatus(withStatus, { latestVersionIds: latestIds }, pinned, now);
    } catch (thrown) {
      const error = isAppError(thrown) ? thrown : new AppError('ERR_AWSSECRET_CHECK', 'update check failed', { kind: 'transient', cause: thrown });
      this.#options.metrics?.updateChecks.inc({ result: 'failed' });
      this.#options.log.warn({ awsSecret: `AWSSecret/${key}`, code: error.code, err: error }, 'update check failed');
      return buildUpdateCheckStatus(withStatus, { latestVersionIds: undefined, error }, pinned, now);
    }
  }
}
