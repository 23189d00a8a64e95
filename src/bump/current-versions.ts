import { DescribeSecretCommand, type DescribeSecretCommandOutput } from '@aws-sdk/client-secrets-manager';
import { classifyAwsError } from '../aws/aws-errors.ts';
import type { AwsClients } from '../aws/clients.ts';
import { AppError, isAppError, messageOf } from '../shared/errors.ts';
import { versionKey } from './plan.ts';

/** Returns the AWSCURRENT versionId of a secret; throws an AppError. */
export type CurrentVersionSource = (region: string | undefined, secretId: string) => Promise<string>;

/** The versionId labelled AWSCURRENT in a DescribeSecret answer, if any. */
export function pickCurrentVersion(stages: DescribeSecretCommandOutput['VersionIdsToStages']): string | undefined {
  for (const [versionId, labels] of Object.entries(stages ?? {})) {
    if (labels.includes('AWSCURRENT')) return versionId;
  }
  return undefined;
}

/**
 * A CurrentVersionSource over DescribeSecret: metadata only, no secret value is ever decrypted or
 * transferred.
 */
export function buildDescribeSource(aws: AwsClients): CurrentVersionSource {
  return async (region, secretId) => {
    const where = region ?? '(default region)';
    let answer: DescribeSecretCommandOutput;
    try {
      answer = await aws.secretsManager(region).send(new DescribeSecretCommand({ SecretId: secretId }));
    } catch (error) {
      const classified = classifyAwsError(error, { api: 'DescribeSecret', region: where, secretId });
      // The controller retries transient failures; bump does not, so drop the promise to.
      throw new AppError(classified.code, classified.message.replace(/; retrying later$/, ''), {
        kind: classified.kind,
        cause: classified.cause,
        details: classified.details,
      });
    }
    if (answer.DeletedDate !== undefined) {
      throw new AppError('ERR_AWS_SECRET_NOT_FOUND', `secret "${secretId}" in ${where} is scheduled for deletion`, {
        details: { region: where, secretId },
      });
    }
    const current = pickCurrentVersion(answer.VersionIdsToStages);
    if (current === undefined) {
      throw new AppError('ERR_BUMP_NO_CURRENT_VERSION', `secret "${secretId}" in ${where} has no version labelled AWSCURRENT`, {
        details: { region: where, secretId },
      });
    }
    return current;
  };
}

export interface LookupTarget {
  readonly region: string | undefined;
  readonly secretId: string;
}

export interface LookupResult {
  /** versionKey → AWSCURRENT versionId. */
  readonly versions: Map<string, string>;
  /** versionKey → the error of that lookup. */
  readonly failures: Map<string, AppError>;
}

/** Looks up each distinct (region, secretId) once, a few at a time. */
export async function fetchCurrentVersions(
  source: CurrentVersionSource,
  targets: readonly LookupTarget[],
  concurrency = 8,
): Promise<LookupResult> {
  const distinct = new Map<string, LookupTarget>();
  for (const target of targets) distinct.set(versionKey(target.region, target.secretId), target);
  const queue = [...distinct.entries()];
  const versions = new Map<string, string>();
  const failures = new Map<string, AppError>();
  async function worker(): Promise<void> {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      const [key, target] = next;
      try {
        versions.set(key, await source(target.region, target.secretId));
      } catch (error) {
        failures.set(key, isAppError(error) ? error : new AppError('ERR_BUMP_AWS', messageOf(error), { cause: error }));
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, queue.length)) }, worker));
  return { versions, failures };
}
