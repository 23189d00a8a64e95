import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  type DescribeSecretCommandOutput,
  type GetSecretValueCommandOutput,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { isAppError } from '../shared/errors.ts';
import type { AwsCaller } from './aws-call.ts';
import { AWS_ERROR_CODES, notFoundTargetOf, type AwsCallContext, type ClassifyOptions } from './aws-errors.ts';
import type { SecretVersionValue } from './version-cache.ts';

/** The single Secrets Manager requests of the secret source, each one AWS call through the caller. */

export type VersionSelector = { readonly versionId: string } | { readonly stage: string };

export function buildVersionValue(output: GetSecretValueCommandOutput, fallbackVersionId: string, secretId: string): SecretVersionValue {
  const value: { -readonly [K in keyof SecretVersionValue]: SecretVersionValue[K] } = {
    versionId: output.VersionId ?? fallbackVersionId,
    name: output.Name ?? secretId,
    arn: output.ARN ?? '',
  };
  if (output.SecretString !== undefined) value.secretString = output.SecretString;
  if (output.SecretBinary !== undefined) value.secretBinary = output.SecretBinary;
  return Object.freeze(value);
}

/** Whether the secret exists: true, false, or undefined when DescribeSecret itself failed otherwise. */
async function fetchSecretExists(caller: AwsCaller, client: SecretsManagerClient, region: string, secretId: string): Promise<boolean | undefined> {
  try {
    const output = await fetchDescription(caller, client, region, secretId);
    return output.DeletedDate === undefined;
  } catch (error) {
    if (isAppError(error) && error.code === AWS_ERROR_CODES.secretNotFound) return false;
    return undefined;
  }
}

/**
 * One GetSecretValue by VersionId or by stage. On the not-found path only, when the answer's message
 * does not say whether the secret or the version is missing (moto answers a missing stage like a
 * missing secret), one DescribeSecret settles it: the secret exists → ERR_AWS_VERSION_NOT_FOUND.
 */
export async function fetchSecretValue(
  caller: AwsCaller,
  client: SecretsManagerClient,
  region: string,
  secretId: string,
  selector: VersionSelector,
): Promise<SecretVersionValue> {
  const context: AwsCallContext = { api: 'GetSecretValue', region, secretId, ...selector };
  const command = new GetSecretValueCommand(
    'versionId' in selector ? { SecretId: secretId, VersionId: selector.versionId } : { SecretId: secretId, VersionStage: selector.stage },
  );
  const refine = async (error: unknown): Promise<ClassifyOptions | undefined> => {
    if ((error as { name?: unknown } | null)?.name !== 'ResourceNotFoundException') return undefined;
    if (notFoundTargetOf(error) !== 'unknown') return undefined;
    const exists = await fetchSecretExists(caller, client, region, secretId);
    return exists === undefined ? undefined : { notFound: exists ? 'version' : 'secret' };
  };
  const output = await caller.call(context, command, (options) => client.send(command, options), refine);
  return buildVersionValue(output, 'versionId' in selector ? selector.versionId : '', secretId);
}

/** One DescribeSecret: metadata and the version → stages map, never the value. */
export async function fetchDescription(
  caller: AwsCaller,
  client: SecretsManagerClient,
  region: string,
  secretId: string,
): Promise<DescribeSecretCommandOutput> {
  const command = new DescribeSecretCommand({ SecretId: secretId });
  return caller.call({ api: 'DescribeSecret', region, secretId }, command, (options) => client.send(command, options));
}

export interface StageMapping {
  readonly versionId: string;
  readonly name: string;
  readonly arn: string;
}

/** Every (stage → version) pair a DescribeSecret answer shows. */
export function buildStageMappings(output: DescribeSecretCommandOutput, secretId: string): Map<string, StageMapping> {
  const mappings = new Map<string, StageMapping>();
  const name = output.Name ?? secretId;
  const arn = output.ARN ?? '';
  for (const [versionId, stages] of Object.entries(output.VersionIdsToStages ?? {})) {
    for (const stage of stages) mappings.set(stage, { versionId, name, arn });
  }
  return mappings;
}
