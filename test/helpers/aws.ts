import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** Creates a secret whose versions hold the given strings, oldest first; returns their VersionIds. */
export async function createSecretVersions(name: string, values: readonly string[], endpoint?: string): Promise<string[]> {
  const client = new SecretsManagerClient(endpoint === undefined ? {} : { endpoint });
  try {
    const ids: string[] = [];
    const [first, ...rest] = values;
    const created = await client.send(new CreateSecretCommand({ Name: name, SecretString: first }));
    ids.push(created.VersionId ?? '');
    for (const value of rest) {
      const put = await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: value }));
      ids.push(put.VersionId ?? '');
    }
    return ids;
  } finally {
    client.destroy();
  }
}

export const decodeData = (data: Readonly<Record<string, string>> | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]));
