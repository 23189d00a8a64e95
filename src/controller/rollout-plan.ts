import { createHash } from 'node:crypto';
import { describeWorkload, type WorkloadObject, type WorkloadRef } from '../kube/workloads.ts';

/**
 * Version-pinned rollouts, the pure half: which workloads opt in, which pod-template annotation a
 * synced version becomes, whether a rollout is done. The cap and queue are in rollout-queue.ts,
 * the API calls in rollouts.ts.
 */

/** On a Deployment, StatefulSet or DaemonSet: the AWSSecrets (same namespace) whose version it follows. */
export const RESTART_ANNOTATION = 'piggysec.com/restart-on-awssecret';
/** Pod-template annotation prefix; the name part is the AWSSecret's name (hashed when too long). */
export const VERSION_ANNOTATION_PREFIX = 'awssecret.piggysec.com/';

/** Kubernetes limits the name part of an annotation key (after the `/`) to 63 characters. */
const NAME_PART_LIMIT = 63;
const HASH_LENGTH = 10;

/** The AWSSecret a pod-template annotation value came from (for events). */
export interface ChangeSource {
  readonly name: string;
  readonly uid: string;
}

/** One annotation piggy wants on a pod template: `key: value`, from one AWSSecret. */
export interface Change {
  readonly value: string;
  readonly source: ChangeSource;
}

export type Changes = Readonly<Record<string, Change>>;

/** A workload and the annotations it should get. */
export interface RolloutRequest {
  readonly key: string;
  readonly ref: WorkloadRef;
  readonly changes: Changes;
}

/** A synced version of an AWSSecret; `catchUp` only re-applies it where piggy wrote one before. */
export interface VersionChange {
  readonly name: string;
  readonly uid: string;
  readonly versionIds: string;
  readonly catchUp?: boolean;
}

/** `name[,name…]` → distinct, trimmed, non-empty names, in order. */
export function parseRestartAnnotation(value: string | undefined): string[] {
  if (value === undefined) return [];
  return [...new Set(value.split(',').map((name) => name.trim()).filter((name) => name !== ''))];
}

/**
 * `awssecret.piggysec.com/<name>`. An AWSSecret name may have up to 253 characters but the name
 * part of an annotation key at most 63: a longer name keeps its first 52 characters, then `-` and
 * the first 10 hex digits of the SHA-256 of the whole name (stable across restarts and replicas).
 */
export function buildVersionAnnotationKey(awsSecretName: string): string {
  if (awsSecretName.length <= NAME_PART_LIMIT) return `${VERSION_ANNOTATION_PREFIX}${awsSecretName}`;
  const hash = createHash('sha256').update(awsSecretName).digest('hex').slice(0, HASH_LENGTH);
  return `${VERSION_ANNOTATION_PREFIX}${awsSecretName.slice(0, NAME_PART_LIMIT - HASH_LENGTH - 1)}-${hash}`;
}

export function buildWorkloadRef(workload: WorkloadObject): WorkloadRef {
  const metadata = workload.object.metadata;
  return { kind: workload.kind, namespace: metadata?.namespace ?? '', name: metadata?.name ?? '' };
}

export const workloadKeyOf = describeWorkload;

export function templateAnnotationsOf(workload: WorkloadObject): Readonly<Record<string, string>> {
  return workload.object.spec?.template.metadata?.annotations ?? {};
}

/** The AWSSecret names a workload opted in to follow. */
export function listFollowedAWSSecrets(workload: WorkloadObject): string[] {
  return parseRestartAnnotation(workload.object.metadata?.annotations?.[RESTART_ANNOTATION]);
}

export interface RolloutRequestPlan {
  readonly requests: RolloutRequest[];
  /** Workload annotations that already held a changed version (no request made; catch-ups not counted). */
  readonly unchanged: number;
}

/**
 * For each opted-in workload that names a changed AWSSecret: the annotations it should get. A
 * value it already holds is skipped unless the queue still has work for that workload (a pending
 * or in-flight patch may be about to overwrite it, so the queue re-checks against a fresh read).
 * Workloads that name none of the changes get no request at all.
 */
export function planRolloutRequests(
  workloads: readonly WorkloadObject[],
  versions: readonly VersionChange[],
  isQueued: (key: string) => boolean,
): RolloutRequestPlan {
  const byName = new Map(versions.map((version) => [version.name, version]));
  const requests: RolloutRequest[] = [];
  let unchanged = 0;
  for (const workload of workloads) {
    const ref = buildWorkloadRef(workload);
    const key = workloadKeyOf(ref);
    const current = templateAnnotationsOf(workload);
    const changes: Record<string, Change> = {};
    for (const name of listFollowedAWSSecrets(workload)) {
      const version = byName.get(name);
      if (version === undefined) continue;
      const annotation = buildVersionAnnotationKey(name);
      const held = current[annotation];
      if (version.catchUp === true && held === undefined) continue;
      if (held === version.versionIds && !isQueued(key)) {
        if (version.catchUp !== true) unchanged += 1;
        continue;
      }
      changes[annotation] = { value: version.versionIds, source: { name: version.name, uid: version.uid } };
    }
    if (Object.keys(changes).length > 0) requests.push({ key, ref, changes });
  }
  return { requests, unchanged };
}

/** The changes whose value the workload's pod template does not hold yet. */
export function diffTemplateAnnotations(workload: WorkloadObject, changes: Changes): Changes {
  const current = templateAnnotationsOf(workload);
  return Object.fromEntries(Object.entries(changes).filter(([key, change]) => current[key] !== change.value));
}

export function buildAnnotationValues(changes: Changes): Record<string, string> {
  return Object.fromEntries(Object.entries(changes).map(([key, change]) => [key, change.value]));
}

/** The template patch piggy sends (a JSON merge patch): only its own annotations. */
export function buildTemplatePatch(changes: Changes): { spec: { template: { metadata: { annotations: Record<string, string> } } } } {
  return { spec: { template: { metadata: { annotations: buildAnnotationValues(changes) } } } };
}

export type RolloutProgress = 'complete' | 'progressing' | 'stalled';

/**
 * Whether a workload finished rolling out its current generation (unset counts are 0, unset
 * spec.replicas is 1):
 * - Deployment: observedGeneration ≥ generation, updatedReplicas ≥ spec.replicas, no old replicas
 *   left (status.replicas ≤ updatedReplicas) and availableReplicas ≥ updatedReplicas; a
 *   `Progressing` condition with reason ProgressDeadlineExceeded is `stalled`.
 * - StatefulSet: observedGeneration ≥ generation and updatedReplicas ≥ spec.replicas − partition.
 * - DaemonSet: observedGeneration ≥ generation and updatedNumberScheduled ≥ desiredNumberScheduled.
 * An `OnDelete` update strategy never rolls by itself: done once the generation is observed.
 */
export function planRolloutProgress(workload: WorkloadObject): RolloutProgress {
  const generation = workload.object.metadata?.generation ?? 0;
  const observed = workload.object.status?.observedGeneration ?? 0;
  if (observed < generation) return 'progressing';
  const done = (complete: boolean): RolloutProgress => (complete ? 'complete' : 'progressing');
  if (workload.kind === 'Deployment') {
    const { spec, status } = workload.object;
    const stalled = status?.conditions?.some((condition) => condition.type === 'Progressing' && condition.reason === 'ProgressDeadlineExceeded');
    if (stalled === true) return 'stalled';
    const updated = status?.updatedReplicas ?? 0;
    return done(updated >= (spec?.replicas ?? 1) && (status?.replicas ?? 0) <= updated && (status?.availableReplicas ?? 0) >= updated);
  }
  if (workload.kind === 'StatefulSet') {
    const { spec, status } = workload.object;
    if (spec?.updateStrategy?.type === 'OnDelete') return 'complete';
    const partition = spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
    return done((status?.updatedReplicas ?? 0) >= Math.max(0, (spec?.replicas ?? 1) - partition));
  }
  const { spec, status } = workload.object;
  if (spec?.updateStrategy?.type === 'OnDelete') return 'complete';
  return done((status?.updatedNumberScheduled ?? 0) >= (status?.desiredNumberScheduled ?? 0));
}
