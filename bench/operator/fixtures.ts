// What the benchmark creates: Secrets Manager versions in moto, AWSSecrets pinning them round robin,
// and, for the baseline, plain Secrets of the same shape as the ones piggy generates.
import { randomBytes } from 'node:crypto';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { V1Secret } from '@kubernetes/client-node';
import { API_VERSION, KIND } from '../../src/controller/awssecret.ts';
import { createSecretVersions } from '../../scripts/local/moto-secrets.ts';

export interface PinnedVersion {
  readonly secretId: string;
  readonly versionId: string;
}

function buildCredentials(): string {
  return JSON.stringify({ username: 'app', password: randomBytes(18).toString('base64url'), port: 5432 });
}

/**
 * VERSIONS distinct versions in moto, PER_SECRET versions to a secret, secrets named
 * `<namespace>/secret-<n>` (the controller's default access policy allows `<namespace>/*`).
 */
export async function createPinnedVersions(client: SecretsManagerClient, namespace: string, versions: number, perSecret: number): Promise<PinnedVersion[]> {
  const pinned: PinnedVersion[] = [];
  for (let n = 0; pinned.length < versions; n++) {
    const secretId = `${namespace}/secret-${n}`;
    const count = Math.min(perSecret, versions - pinned.length);
    const ids = await createSecretVersions(client, secretId, Array.from({ length: count }, buildCredentials));
    pinned.push(...ids.map((versionId) => ({ secretId, versionId })));
  }
  return pinned;
}

export const awsSecretName = (index: number): string => `app-${index}`;

export function buildAWSSecret(namespace: string, index: number, version: PinnedVersion): Record<string, unknown> {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: awsSecretName(index), namespace },
    spec: { stringDataFrom: { secretsManagerSecretRef: { secretId: version.secretId, versionId: version.versionId } } },
  };
}

/** A Secret like the ones piggy writes: three keys, the managed-by label, four annotations. */
export function buildDirectSecret(namespace: string, index: number, version: PinnedVersion): V1Secret {
  const value = (text: string) => Buffer.from(text).toString('base64');
  return {
    metadata: {
      name: awsSecretName(index),
      namespace,
      labels: { 'app.kubernetes.io/managed-by': 'bench' },
      annotations: {
        'piggysec.com/aws-secret-id': version.secretId,
        'piggysec.com/aws-version-id': version.versionId,
        'piggysec.com/aws-region': 'us-east-1',
        'piggysec.com/data-hash': `sha256:${randomBytes(32).toString('hex')}`,
      },
    },
    type: 'Opaque',
    data: { username: value('app'), password: value(randomBytes(18).toString('base64url')), port: value('5432') },
  };
}
