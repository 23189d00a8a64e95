// Secrets Manager on the local stack's moto, for scripts (demo, bench): a client, and secrets made
// of several versions (the last one is AWSCURRENT).
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { buildAwsEnv } from './components.ts';

/** A Secrets Manager client for the moto endpoint, with the stack's test credentials. */
export function buildSecretsManager(endpoint: string): SecretsManagerClient {
  const env = buildAwsEnv(endpoint);
  return new SecretsManagerClient({
    endpoint,
    region: env.AWS_REGION,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID ?? 'testing', secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? 'testing' },
  });
}

/**
 * Creates secret NAME with one version per string in VALUES (in order) and returns their VersionIds;
 * the last one is AWSCURRENT.
 */
export async function createSecretVersions(client: SecretsManagerClient, name: string, values: readonly string[]): Promise<string[]> {
  const [first, ...rest] = values;
  if (first === undefined) throw new Error('createSecretVersions needs at least one value');
  const created = await client.send(new CreateSecretCommand({ Name: name, SecretString: first }));
  const ids = [created.VersionId ?? ''];
  for (const value of rest) {
    const put = await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: value }));
    ids.push(put.VersionId ?? '');
  }
  if (ids.some((id) => id === '')) throw new Error(`Secrets Manager returned no VersionId for ${name}`);
  return ids;
}

/** Deletes secret NAME at once (no recovery window); a missing secret is fine. */
export async function deleteSecretNow(client: SecretsManagerClient, name: string): Promise<void> {
  try {
    await client.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
}
