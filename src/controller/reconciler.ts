import type { V1Secret } from '@kubernetes/client-node';
import { describePolicy, judgeSecret, type AccessPolicy } from '../shared/access-policy.ts';
import { AppError, isAppError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import { CONDITION_READY, CONDITION_UPDATE_AVAILABLE, REASON, keyOf, listRefs, type AWSSecret, type AWSSecretStatus } from './awssecret.ts';
import { findCondition, isStatusEqual } from './conditions.ts';
import { MUMOSHU_GROUP, buildDesiredSecret, buildSourceIdentity, isAdoptableFromMumoshu, isManagedBy, isSecretInSync, trustedExistingData } from './desired-secret.ts';
import type { OperatorMetrics } from './operator-metrics.ts';
import { buildSecretData, type SecretData, type SourceValue } from './secret-data.ts';
import { buildFailedStatus, buildInvalidScheduleStatus, buildSyncedStatus, reasonFor } from './status.ts';
import type { UpdateChecker } from './update-check.ts';
import type { Outcome } from './work-queue.ts';

export interface VersionRef {
  readonly region: string;
  readonly secretId: string;
  readonly versionId: string;
}

export type SecretWrite = 'create' | 'update' | 'recreate';

/** Everything the reconciler touches, passed in: caches for reads, adapters for writes. */
export interface ReconcilerDeps {
  readonly getAWSSecret: (namespace: string, name: string) => AWSSecret | undefined;
  /** The Secret from the informer cache (managed Secrets only). */
  readonly getSecret: (namespace: string, name: string) => V1Secret | undefined;
  /** A live read, for a Secret the cache does not hold (unmanaged, or its label removed by hand). */
  readonly fetchSecret: (namespace: string, name: string) => Promise<V1Secret | undefined>;
  readonly writeSecret: (action: SecretWrite, desired: V1Secret, existing: V1Secret | undefined) => Promise<void>;
  readonly patchStatus: (awsSecret: AWSSecret, status: AWSSecretStatus) => Promise<void>;
  readonly fetchVersion: (ref: VersionRef) => Promise<SourceValue>;
  /** The key of the recorded data hash (src/kube/data-hash-key.ts); loaded once, shared by replicas. */
  readonly dataHashKey: () => Promise<Buffer>;
  readonly recordEvent: (awsSecret: AWSSecret, type: 'Normal' | 'Warning', reason: string, message: string) => void;
  readonly onVersionChanged?: (awsSecret: AWSSecret, versionIds: string) => void;
  readonly updateChecker?: UpdateChecker;
  readonly policy: AccessPolicy;
  readonly defaultRegion: string | undefined;
  /** Interval for re-checking terminal failures whose cause lives outside the spec. */
  readonly recheckMs: number;
  readonly now: () => Date;
  readonly log: Logger;
  readonly metrics?: OperatorMetrics;
}

const objectName = (awsSecret: AWSSecret): string => `AWSSecret/${keyOf(awsSecret.metadata.namespace, awsSecret.metadata.name)}`;

/** Checks what can be checked without AWS: region, refs, the namespace access policy. */
export function planSpecChecks(awsSecret: AWSSecret, policy: AccessPolicy, defaultRegion: string | undefined): { region: string } | AppError {
  const region = awsSecret.spec.region?.trim() || defaultRegion;
  if (region === undefined || region === '') {
    return new AppError('ERR_AWSSECRET_SPEC', 'no region: set spec.region or the controller\'s AWS_REGION');
  }
  const refs = listRefs(awsSecret.spec);
  if (refs.length === 0) return new AppError('ERR_AWSSECRET_SPEC', 'at least one of stringDataFrom or dataFrom is required');
  for (const { field, ref } of refs) {
    if (!ref.versionId) return new AppError('ERR_AWSSECRET_SPEC', `${field}.secretsManagerSecretRef.versionId is required`);
    const verdict = judgeSecret(policy, awsSecret.metadata.namespace, ref.secretId, region);
    if (!verdict.allowed) {
      return new AppError(
        'ERR_AWSSECRET_POLICY',
        `namespace ${awsSecret.metadata.namespace} may not read secret ${ref.secretId}: ${verdict.reason} (access policy: ${describePolicy(policy)})`,
        { details: { secretId: ref.secretId } },
      );
    }
  }
  return { region };
}

async function fetchData(deps: ReconcilerDeps, awsSecret: AWSSecret, region: string): Promise<SecretData> {
  const values: Record<string, SourceValue> = {};
  await Promise.all(
    listRefs(awsSecret.spec).map(async ({ field, ref }) => {
      values[field] = await deps.fetchVersion({ region, secretId: ref.secretId, versionId: ref.versionId });
    }),
  );
  const result = buildSecretData(awsSecret.spec, values);
  if (!result.ok) throw new AppError('ERR_AWSSECRET_DATA', result.problems.join('; '));
  return result.data;
}

function planWrite(existing: V1Secret | undefined, desired: V1Secret): SecretWrite | undefined {
  if (existing === undefined) return 'create';
  if (isSecretInSync(existing, desired)) return undefined;
  return (existing.type ?? 'Opaque') === desired.type ? 'update' : 'recreate';
}

interface SyncResult {
  readonly versionIds: string;
  readonly wrote: SecretWrite | undefined;
  readonly fetched: boolean;
}

/** A create answered 409: the Secret exists but the informer (piggy's label only) does not hold it. */
function isAlreadyExists(error: unknown): boolean {
  return isAppError(error) && error.details.action === 'create' && error.details.status === 409;
}

/**
 * Reconciles against the informer's copy. The reconciler starts only once that cache is synced, so a
 * Secret it does not hold is either absent (the common case: a new AWSSecret) or one without piggy's
 * label (foreign, mumoshu's, or its label removed by hand): piggy creates it, and only when the API
 * server answers that it already exists does it read it live and decide again. A new AWSSecret thus
 * costs no GET.
 */
async function sync(deps: ReconcilerDeps, awsSecret: AWSSecret): Promise<SyncResult> {
  const checked = planSpecChecks(awsSecret, deps.policy, deps.defaultRegion);
  if (checked instanceof AppError) throw checked;
  const { namespace, name } = awsSecret.metadata;
  const cached = deps.getSecret(namespace, name);
  if (cached !== undefined) return syncAgainst(deps, awsSecret, checked.region, cached);
  try {
    return await syncAgainst(deps, awsSecret, checked.region, undefined);
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
  }
  return syncAgainst(deps, awsSecret, checked.region, await deps.fetchSecret(namespace, name));
}

async function syncAgainst(deps: ReconcilerDeps, awsSecret: AWSSecret, region: string, existing: V1Secret | undefined): Promise<SyncResult> {
  const { name } = awsSecret.metadata;
  const hashKey = await deps.dataHashKey();
  const foreign = existing !== undefined && !isManagedBy(existing, awsSecret);
  const adopting = foreign && isAdoptableFromMumoshu(existing, awsSecret);
  if (foreign && !adopting) {
    throw new AppError('ERR_AWSSECRET_CONFLICT', `Secret ${name} exists and is not managed by piggy; it is left untouched`);
  }
  const trusted = existing === undefined || adopting ? undefined : trustedExistingData(existing, awsSecret, region, hashKey);
  const data = trusted ?? (await fetchData(deps, awsSecret, region));
  const desired = buildDesiredSecret(awsSecret, data, region, hashKey);
  const wrote = planWrite(existing, desired);
  if (adopting && wrote === 'recreate') {
    // A type change would delete the Secret: adoption never does; the user aligns spec.type first.
    throw new AppError(
      'ERR_AWSSECRET_CONFLICT',
      `Secret ${name} belongs to a ${MUMOSHU_GROUP} AWSSecret with type ${existing.type ?? 'Opaque'}; set spec.type to it to adopt the Secret in place`,
    );
  }
  if (wrote !== undefined) await deps.writeSecret(wrote, desired, existing);
  if (adopting) {
    deps.recordEvent(awsSecret, 'Normal', 'Adopted', `Secret ${name} adopted from the ${MUMOSHU_GROUP} AWSSecret of the same name`);
    deps.log.info({ awsSecret: objectName(awsSecret) }, 'secret adopted from mumoshu.github.io AWSSecret');
  }
  return { versionIds: buildSourceIdentity(awsSecret, region).versionIds, wrote, fetched: trusted === undefined };
}

type Stop = ((labels: { result: string }) => void) | undefined;

/**
 * Terminal failures that can end without a spec change, because their cause lives outside the
 * AWSSecret: the secret or version created later, IAM or KMS fixed, the foreign Secret removed,
 * a Kubernetes 403 (RBAC granted, or a ResourceQuota's "exceeded quota" raised).
 * They are re-checked every `recheckMs` (no backoff storm: one attempt per interval). Failures
 * fixed only by editing the spec (bad spec, policy, bad data of an immutable version) wait for it.
 */
const RECHECKED_CODES: ReadonlySet<string> = new Set([
  'ERR_AWS_SECRET_NOT_FOUND',
  'ERR_AWS_VERSION_NOT_FOUND',
  'ERR_AWS_ACCESS_DENIED',
  'ERR_AWS_DECRYPTION',
  'ERR_AWSSECRET_CONFLICT',
  'ERR_KUBE_FORBIDDEN',
]);

interface Attempt {
  readonly status: AWSSecretStatus;
  readonly outcome: Outcome;
}

/** One reconcile of one key: read caches, decide, write only what differs. Never throws. */
export async function reconcileAWSSecret(deps: ReconcilerDeps, key: string): Promise<Outcome> {
  const [namespace = '', name = ''] = key.split('/');
  const awsSecret = deps.getAWSSecret(namespace, name);
  if (awsSecret === undefined || awsSecret.metadata.deletionTimestamp !== undefined) {
    deps.updateChecker?.forget(key);
    return { kind: 'done' };
  }
  const stop = deps.metrics?.reconcileDuration.startTimer();
  const attempt = await syncOrFail(deps, awsSecret, stop);
  let status = attempt.status;
  let nextCheckMs: number | undefined;
  const checked = planSpecChecks(awsSecret, deps.policy, deps.defaultRegion);
  if (deps.updateChecker !== undefined && !(checked instanceof AppError)) {
    const problem = deps.updateChecker.scheduleProblem(awsSecret);
    if (problem !== undefined) status = reportInvalidSchedule(deps, awsSecret, status, problem);
    if (deps.updateChecker.isDue(awsSecret, checked.region, deps.now())) {
      status = await deps.updateChecker.check(awsSecret, status, checked.region, deps.now());
    }
    nextCheckMs = deps.updateChecker.delayUntilDue(awsSecret, checked.region, deps.now());
  }
  try {
    if (!isStatusEqual(awsSecret.status, status)) await deps.patchStatus(awsSecret, status);
  } catch (statusError) {
    deps.log.warn({ awsSecret: objectName(awsSecret), err: statusError }, 'status write failed');
    return { kind: 'retry' };
  }
  return withRequeue(attempt.outcome, nextCheckMs);
}

/** UpdateAvailable=Unknown with reason InvalidSchedule, and one Warning event when that news is new. */
function reportInvalidSchedule(deps: ReconcilerDeps, awsSecret: AWSSecret, status: AWSSecretStatus, problem: string): AWSSecretStatus {
  const next = buildInvalidScheduleStatus({ ...awsSecret, status }, problem, deps.now());
  const before = findCondition(awsSecret.status, CONDITION_UPDATE_AVAILABLE);
  const after = findCondition(next, CONDITION_UPDATE_AVAILABLE);
  if (before?.reason !== after?.reason || before?.message !== after?.message) {
    deps.recordEvent(awsSecret, 'Warning', REASON.invalidSchedule, problem);
    deps.log.warn({ awsSecret: objectName(awsSecret), reason: REASON.invalidSchedule }, 'update check schedule invalid');
  }
  return next;
}

function withRequeue(outcome: Outcome, nextCheckMs: number | undefined): Outcome {
  if (outcome.kind === 'retry' || nextCheckMs === undefined) return outcome;
  const after = outcome.requeueAfterMs === undefined ? nextCheckMs : Math.min(outcome.requeueAfterMs, nextCheckMs);
  return { ...outcome, requeueAfterMs: after };
}

async function syncOrFail(deps: ReconcilerDeps, awsSecret: AWSSecret, stop: Stop): Promise<Attempt> {
  const name = awsSecret.metadata.name;
  try {
    const result = await sync(deps, awsSecret);
    const previousVersion = awsSecret.status?.versionId;
    if (result.wrote !== undefined) {
      const verb = result.wrote === 'create' ? 'Created' : 'Updated';
      deps.recordEvent(awsSecret, 'Normal', verb, `Secret ${name} ${verb.toLowerCase()} from version ${result.versionIds}`);
      deps.log.info({ awsSecret: objectName(awsSecret), version: result.versionIds, action: result.wrote, fetched: result.fetched }, 'secret written');
    }
    if (previousVersion !== undefined && previousVersion !== result.versionIds) deps.onVersionChanged?.(awsSecret, result.versionIds);
    const label = result.wrote === undefined ? 'unchanged' : 'synced';
    deps.metrics?.reconciles.inc({ result: label });
    stop?.({ result: label });
    const status = buildSyncedStatus(awsSecret, { versionIds: result.versionIds, wroteSecret: result.wrote !== undefined }, deps.now());
    return { status, outcome: { kind: 'done' } };
  } catch (thrown) {
    const error = isAppError(thrown)
      ? thrown
      : new AppError('ERR_AWSSECRET_INTERNAL', 'unexpected reconcile failure', { kind: 'transient', cause: thrown });
    return fail(deps, awsSecret, error, stop);
  }
}

function fail(deps: ReconcilerDeps, awsSecret: AWSSecret, error: AppError, stop: Stop): Attempt {
  const reason = reasonFor(error);
  const before = findCondition(awsSecret.status, CONDITION_READY);
  deps.log.warn({ awsSecret: objectName(awsSecret), code: error.code, reason, kind: error.kind, err: error }, 'awssecret sync failed');
  deps.metrics?.reconciles.inc({ result: reason });
  stop?.({ result: reason });
  if (before?.reason !== reason || before.message !== error.message) deps.recordEvent(awsSecret, 'Warning', reason, error.message);
  const status = buildFailedStatus(awsSecret, error, deps.now());
  if (error.kind === 'transient') return { status, outcome: { kind: 'retry' } };
  const outcome: Outcome = RECHECKED_CODES.has(error.code) ? { kind: 'terminal', requeueAfterMs: deps.recheckMs } : { kind: 'terminal' };
  return { status, outcome };
}
