/**
 * Standalone mode: the launcher reads the secret itself with the pod's own role. SSM Parameter
 * Store when PIGGY_AWS_SSM_PARAMETER_PATH is set, else Secrets Manager PIGGY_AWS_SECRET_NAME at
 * PIGGY_AWS_SECRET_VERSION_ID or _STAGE (default AWSCURRENT). Unlike Piggy, success exits nothing:
 * the app is exec'd.
 */
import { LAUNCHER_ENV } from '../shared/injection-contract.ts';
import { readArnRegion, readDefaultRegion } from './aws-call.ts';
import { fetchAwsCredentials, type CredentialDeps, type CredentialSource } from './aws-credentials.ts';
import { DEFAULT_STAGE, fetchParametersByPath, fetchSecretPayload, type SecretVersion } from './aws-secrets.ts';
import { buildParameterValues, buildSecretValues } from './secret-values.ts';
import { LAUNCHER_EXTRA_ENV, type Env } from './settings.ts';

export type StandaloneSource =
  | { readonly kind: 'ssm'; readonly path: string }
  | { readonly kind: 'secretsmanager'; readonly secretId: string; readonly version: SecretVersion };

export interface StandaloneConfig {
  readonly source: StandaloneSource;
  readonly region: string;
}

export type StandaloneConfigResult = { readonly ok: true; readonly config: StandaloneConfig } | { readonly ok: false; readonly problems: readonly string[] };

const VERSION_ID = /^[0-9a-fA-F-]{32,64}$/;

function readVersion(env: Env, problems: string[]): SecretVersion {
  const id = env[LAUNCHER_ENV.awsSecretVersionId]?.trim();
  const stage = env[LAUNCHER_ENV.awsSecretVersionStage]?.trim();
  const legacy = env[LAUNCHER_EXTRA_ENV.legacySecretVersion]?.trim();
  if (id && stage) problems.push(`set only one of ${LAUNCHER_ENV.awsSecretVersionId} and ${LAUNCHER_ENV.awsSecretVersionStage}`);
  if (id) return { kind: 'id', value: id };
  if (stage) return { kind: 'stage', value: stage };
  if (legacy) return VERSION_ID.test(legacy) ? { kind: 'id', value: legacy } : { kind: 'stage', value: legacy };
  return { kind: 'stage', value: DEFAULT_STAGE };
}

export function parseStandaloneConfig(env: Env): StandaloneConfigResult {
  const problems: string[] = [];
  const path = env[LAUNCHER_ENV.awsSsmParameterPath]?.trim();
  const secretId = env[LAUNCHER_ENV.awsSecretName]?.trim();
  const version = readVersion(env, problems);
  const region = env[LAUNCHER_ENV.awsRegion]?.trim() || (secretId && !path ? readArnRegion(secretId) : undefined) || readDefaultRegion(env);
  let source: StandaloneSource | undefined;
  if (path) source = { kind: 'ssm', path: path.startsWith('/') ? path : `/${path}` };
  else if (secretId) source = { kind: 'secretsmanager', secretId, version };
  else problems.push(`standalone mode needs ${LAUNCHER_ENV.awsSecretName} or ${LAUNCHER_ENV.awsSsmParameterPath}`);
  if (region === undefined) problems.push(`no region: set ${LAUNCHER_ENV.awsRegion} (piggysec.com/aws-region) or AWS_REGION`);
  if (problems.length > 0 || source === undefined || region === undefined) return { ok: false, problems };
  return { ok: true, config: { source, region } };
}

export interface StandaloneResult {
  readonly values: Record<string, string>;
  readonly credentialSource: CredentialSource;
}

/** One attempt: credentials, then the read. */
export async function fetchStandaloneSecrets(config: StandaloneConfig, deps: CredentialDeps): Promise<StandaloneResult> {
  const { credentials, source: credentialSource } = await fetchAwsCredentials(config.region, deps);
  const source = config.source;
  if (source.kind === 'ssm') {
    const parameters = await fetchParametersByPath({ path: source.path, region: config.region, credentials }, deps);
    return { values: buildParameterValues(parameters), credentialSource };
  }
  const payload = await fetchSecretPayload({ secretId: source.secretId, version: source.version, region: config.region, credentials }, deps);
  return { values: buildSecretValues(source.secretId, payload), credentialSource };
}
