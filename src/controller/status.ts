import type { AppError } from '../shared/errors.ts';
import {
  CONDITION_READY,
  CONDITION_UPDATE_AVAILABLE,
  REASON,
  type AWSSecret,
  type AWSSecretStatus,
} from './awssecret.ts';
import { setCondition } from './conditions.ts';

/** Condition reasons for the error codes of the AWS and Kubernetes adapters. */
const REASON_BY_CODE: Readonly<Record<string, string>> = {
  ERR_AWS_SECRET_NOT_FOUND: REASON.secretNotFound,
  ERR_AWS_VERSION_NOT_FOUND: REASON.versionNotFound,
  ERR_AWS_ACCESS_DENIED: REASON.accessDenied,
  ERR_AWS_DECRYPTION: REASON.accessDenied,
  ERR_AWS_THROTTLED: REASON.throttled,
  ERR_AWS_UNAVAILABLE: REASON.awsUnavailable,
  ERR_AWS_INVALID_REQUEST: REASON.invalidSpec,
  ERR_AWSSECRET_POLICY: REASON.policyDenied,
  ERR_AWSSECRET_SPEC: REASON.invalidSpec,
  ERR_AWSSECRET_DATA: REASON.invalidSecretData,
  ERR_AWSSECRET_CONFLICT: REASON.secretConflict,
};

export function reasonFor(error: AppError): string {
  return REASON_BY_CODE[error.code] ?? (error.code.startsWith('ERR_KUBE') ? REASON.kubernetesError : REASON.awsUnavailable);
}

export interface SyncedOutcome {
  readonly versionIds: string;
  readonly wroteSecret: boolean;
}

/**
 * Status after a successful sync: Ready=True, the synced version, syncedAt when the Secret was
 * written. A pin that reached the last known latestVersionId clears UpdateAvailable at once (a bump
 * need not wait for the next scheduled check).
 */
export function buildSyncedStatus(awsSecret: AWSSecret, outcome: SyncedOutcome, now: Date): AWSSecretStatus {
  const previous = awsSecret.status ?? {};
  const generation = awsSecret.metadata.generation;
  const fresh = outcome.wroteSecret || previous.syncedAt === undefined || previous.versionId !== outcome.versionIds;
  const ready = setCondition(
    previous.conditions,
    { type: CONDITION_READY, status: 'True', reason: REASON.synced, message: `Secret ${awsSecret.metadata.name} holds version ${outcome.versionIds}` },
    generation,
    now,
  );
  const caughtUp = previous.latestVersionId === outcome.versionIds && previous.conditions?.some((c) => c.type === CONDITION_UPDATE_AVAILABLE && c.status === 'True') === true;
  return {
    ...previous,
    observedGeneration: generation,
    secretName: awsSecret.metadata.name,
    versionId: outcome.versionIds,
    syncedAt: fresh ? now.toISOString() : previous.syncedAt,
    conditions: caughtUp
      ? setCondition(ready, { type: CONDITION_UPDATE_AVAILABLE, status: 'False', reason: REASON.upToDate, message: 'the pinned version is AWSCURRENT' }, generation, now)
      : ready,
  };
}

/** Status after a failure: Ready=False with the reason; the last good version fields stay as they were. */
export function buildFailedStatus(awsSecret: AWSSecret, error: AppError, now: Date): AWSSecretStatus {
  const previous = awsSecret.status ?? {};
  const generation = awsSecret.metadata.generation;
  return {
    ...previous,
    observedGeneration: generation,
    conditions: setCondition(
      previous.conditions,
      { type: CONDITION_READY, status: 'False', reason: reasonFor(error), message: error.message },
      generation,
      now,
    ),
  };
}

export interface UpdateCheckOutcome {
  readonly latestVersionIds: string | undefined;
  readonly error?: AppError;
}

/** Status after an update check: latestVersionId and UpdateAvailable. */
export function buildUpdateCheckStatus(awsSecret: AWSSecret, outcome: UpdateCheckOutcome, pinned: string, now: Date): AWSSecretStatus {
  const previous = awsSecret.status ?? {};
  const generation = awsSecret.metadata.generation;
  if (outcome.error !== undefined || outcome.latestVersionIds === undefined) {
    return {
      ...previous,
      lastUpdateCheck: now.toISOString(),
      conditions: setCondition(
        previous.conditions,
        { type: CONDITION_UPDATE_AVAILABLE, status: 'Unknown', reason: REASON.checkFailed, message: outcome.error?.message ?? 'no current version found' },
        generation,
        now,
      ),
    };
  }
  const available = outcome.latestVersionIds !== pinned;
  return {
    ...previous,
    latestVersionId: outcome.latestVersionIds,
    lastUpdateCheck: now.toISOString(),
    conditions: setCondition(
      previous.conditions,
      available
        ? { type: CONDITION_UPDATE_AVAILABLE, status: 'True', reason: REASON.newVersion, message: `AWSCURRENT is ${outcome.latestVersionIds}; pinned ${pinned}` }
        : { type: CONDITION_UPDATE_AVAILABLE, status: 'False', reason: REASON.upToDate, message: 'the pinned version is AWSCURRENT' },
      generation,
      now,
    ),
  };
}

/**
 * Status when spec.updateCheckSchedule is not a valid cron expression: UpdateAvailable=Unknown with
 * reason InvalidSchedule. The resource gets no update checks until the schedule is fixed (running the
 * controller's default instead would look as if the resource's own schedule worked).
 */
export function buildInvalidScheduleStatus(awsSecret: AWSSecret, problem: string, now: Date): AWSSecretStatus {
  const previous = awsSecret.status ?? {};
  return {
    ...previous,
    conditions: setCondition(
      previous.conditions,
      { type: CONDITION_UPDATE_AVAILABLE, status: 'Unknown', reason: REASON.invalidSchedule, message: problem },
      awsSecret.metadata.generation,
      now,
    ),
  };
}
