/**
 * The two reads the launcher makes with the pod's own credentials: Secrets Manager GetSecretValue
 * (by VersionId, else by stage, AWSCURRENT by default) and SSM GetParametersByPath (recursive,
 * decrypted, every page).
 */
import { AppError } from '../shared/errors.ts';
import { callAwsJson, type AwsCallDeps } from './aws-call.ts';
import { ENV_ERRORS } from './error-codes.ts';
import type { SecretPayload, SsmParameter } from './secret-values.ts';
import type { AwsCredentials } from './sigv4.ts';

export type SecretVersion = { readonly kind: 'id'; readonly value: string } | { readonly kind: 'stage'; readonly value: string };

export const DEFAULT_STAGE = 'AWSCURRENT';
/** GetParametersByPath pages (10 parameters each) read at most: 10,000 parameters. */
export const MAX_PARAMETER_PAGES = 1000;

export interface SecretRead {
  readonly secretId: string;
  readonly version: SecretVersion;
  readonly region: string;
  readonly credentials: AwsCredentials;
}

export async function fetchSecretPayload(read: SecretRead, deps: AwsCallDeps): Promise<SecretPayload> {
  const answer = await callAwsJson(
    {
      service: 'secretsmanager',
      target: 'secretsmanager.GetSecretValue',
      body: { SecretId: read.secretId, ...(read.version.kind === 'id' ? { VersionId: read.version.value } : { VersionStage: read.version.value }) },
      region: read.region,
      credentials: read.credentials,
    },
    deps,
  );
  const { SecretString, SecretBinary } = answer;
  return {
    ...(typeof SecretString === 'string' ? { secretString: SecretString } : {}),
    ...(typeof SecretBinary === 'string' ? { secretBinary: SecretBinary } : {}),
  };
}

export interface ParametersRead {
  readonly path: string;
  readonly region: string;
  readonly credentials: AwsCredentials;
}

export async function fetchParametersByPath(read: ParametersRead, deps: AwsCallDeps): Promise<SsmParameter[]> {
  const parameters: SsmParameter[] = [];
  let nextToken: string | undefined;
  for (let page = 0; page < MAX_PARAMETER_PAGES; page += 1) {
    const answer = await callAwsJson(
      {
        service: 'ssm',
        target: 'AmazonSSM.GetParametersByPath',
        body: { Path: read.path, Recursive: true, WithDecryption: true, MaxResults: 10, ...(nextToken === undefined ? {} : { NextToken: nextToken }) },
        region: read.region,
        credentials: read.credentials,
      },
      deps,
    );
    for (const item of Array.isArray(answer.Parameters) ? (answer.Parameters as unknown[]) : []) {
      const { Name, Value } = (item ?? {}) as Record<string, unknown>;
      if (typeof Name === 'string' && typeof Value === 'string') parameters.push({ name: Name, value: Value });
    }
    nextToken = typeof answer.NextToken === 'string' && answer.NextToken !== '' ? answer.NextToken : undefined;
    if (nextToken === undefined) return parameters;
  }
  throw new AppError(ENV_ERRORS.aws, `ssm GetParametersByPath ${read.path}: more than ${MAX_PARAMETER_PAGES} pages`);
}
