import { CreateSecretCommand, DescribeSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/**
 * Creates a secret whose versions hold the given strings, oldest first; returns their VersionIds.
 * `versionIds` chooses them (ClientRequestToken becomes the VersionId), to recreate the same
 * versions in an emulator that lost its state.
 */
export async function createSecretVersions(
  name: string,
  values: readonly string[],
  endpoint?: string,
  versionIds?: readonly string[],
): Promise<string[]> {
  const client = new SecretsManagerClient(endpoint === undefined ? {} : { endpoint });
  try {
    const ids: string[] = [];
    const [first, ...rest] = values;
    const created = await client.send(new CreateSecretCommand({ Name: name, SecretString: first, ClientRequestToken: versionIds?.[0] }));
    ids.push(created.VersionId ?? '');
    for (const [index, value] of rest.entries()) {
      const put = await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: value, ClientRequestToken: versionIds?.[index + 1] }));
      ids.push(put.VersionId ?? '');
    }
    return ids;
  } finally {
    client.destroy();
  }
}

/** The full ARN (with its random suffix) of a secret, as the emulator gives it. */
export async function secretArnOf(name: string, endpoint?: string): Promise<string> {
  const client = new SecretsManagerClient(endpoint === undefined ? {} : { endpoint });
  try {
    const described = await client.send(new DescribeSecretCommand({ SecretId: name }));
    if (described.ARN === undefined) throw new Error(`no ARN for ${name}`);
    return described.ARN;
  } finally {
    client.destroy();
  }
}

export const decodeData = (data: Readonly<Record<string, string>> | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]));
