import type { V1OwnerReference, V1Secret } from '@kubernetes/client-node';
import {
  ANNOTATION_DATA_HASH,
  ANNOTATION_REF_FIELDS,
  ANNOTATION_REGION,
  ANNOTATION_SECRET_ID,
  ANNOTATION_VERSION_ID,
  API_VERSION,
  KIND,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  listRefs,
  type AWSSecret,
} from './awssecret.ts';
import { hashSecretData, type SecretData } from './secret-data.ts';

export const DEFAULT_SECRET_TYPE = 'Opaque';

/** What identifies the source of a generated Secret: compared to decide whether AWS must be read. */
export interface SourceIdentity {
  readonly secretIds: string;
  readonly versionIds: string;
  /** The field of each ref: a ref moved from stringDataFrom to dataFrom reads the same version as other data. */
  readonly fields: string;
  readonly region: string;
}

export function buildSourceIdentity(awsSecret: AWSSecret, region: string): SourceIdentity {
  const refs = listRefs(awsSecret.spec);
  return {
    secretIds: refs.map((entry) => entry.ref.secretId).join(','),
    versionIds: refs.map((entry) => entry.ref.versionId).join(','),
    fields: refs.map((entry) => entry.field).join(','),
    region,
  };
}

export function secretTypeOf(awsSecret: AWSSecret): string {
  const type = awsSecret.spec.type?.trim();
  return type === undefined || type === '' ? DEFAULT_SECRET_TYPE : type;
}

export function buildOwnerReference(awsSecret: AWSSecret): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: awsSecret.metadata.name,
    uid: awsSecret.metadata.uid,
    controller: true,
  };
}

/**
 * The Secret an AWSSecret stands for: same name and namespace, owned by it, labels and annotations
 * exactly spec.metadata's plus piggy's own (piggy's win), the given data and type.
 */
export function buildDesiredSecret(awsSecret: AWSSecret, data: SecretData, region: string, hashKey: Buffer): V1Secret {
  const type = secretTypeOf(awsSecret);
  const source = buildSourceIdentity(awsSecret, region);
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: awsSecret.metadata.name,
      namespace: awsSecret.metadata.namespace,
      labels: { ...awsSecret.spec.metadata?.labels, [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
      annotations: {
        ...awsSecret.spec.metadata?.annotations,
        [ANNOTATION_SECRET_ID]: source.secretIds,
        [ANNOTATION_VERSION_ID]: source.versionIds,
        [ANNOTATION_REF_FIELDS]: source.fields,
        [ANNOTATION_REGION]: source.region,
        [ANNOTATION_DATA_HASH]: hashSecretData(data, type, hashKey),
      },
      ownerReferences: [buildOwnerReference(awsSecret)],
    },
    type,
    data: { ...data },
  };
}

function sameRecord(a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>> | undefined): boolean {
  const left = a ?? {};
  const right = b ?? {};
  const keys = Object.keys(left);
  return keys.length === Object.keys(right).length && keys.every((key) => right[key] === left[key]);
}

/** Whether the existing Secret is exactly what piggy would write (data, type, labels, annotations, owner). */
export function isSecretInSync(existing: V1Secret, desired: V1Secret): boolean {
  const owner = desired.metadata?.ownerReferences?.[0];
  return (
    (existing.type ?? DEFAULT_SECRET_TYPE) === desired.type &&
    sameRecord(existing.data, desired.data) &&
    sameRecord(existing.metadata?.labels, desired.metadata?.labels) &&
    sameRecord(existing.metadata?.annotations, desired.metadata?.annotations) &&
    (existing.metadata?.ownerReferences ?? []).some((ref) => ref.uid === owner?.uid && ref.controller === true)
  );
}

/**
 * Whether piggy manages this Secret for this AWSSecret: its controller owner reference is this
 * AWSSecret (a hand-removed label does not make it foreign), or it carries piggy's label and no
 * owner other than an AWSSecret of the same name (for example, one deleted and re-created).
 */
export function isManagedBy(existing: V1Secret, awsSecret: AWSSecret): boolean {
  const refs = existing.metadata?.ownerReferences ?? [];
  if (refs.some((ref) => ref.kind === KIND && ref.uid === awsSecret.metadata.uid)) return true;
  const labelled = existing.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;
  return labelled && refs.every((ref) => ref.kind === KIND && ref.name === awsSecret.metadata.name);
}

/** The API group of mumoshu/aws-secret-operator's AWSSecret, whose Secrets piggy adopts. */
export const MUMOSHU_GROUP = 'mumoshu.github.io';

/**
 * Whether the Secret was written by mumoshu/aws-secret-operator for an AWSSecret of the same name:
 * every owner reference is a `mumoshu.github.io` AWSSecret of this name, one of them the controller.
 * Creating the piggy AWSSecret of that name is the opt-in: piggy takes the Secret over in place
 * (one update that replaces the owner reference), so it is never deleted or emptied.
 */
export function isAdoptableFromMumoshu(existing: V1Secret, awsSecret: AWSSecret): boolean {
  const refs = existing.metadata?.ownerReferences ?? [];
  const mumoshu = (ref: V1OwnerReference): boolean =>
    ref.apiVersion.startsWith(`${MUMOSHU_GROUP}/`) && ref.kind === KIND && ref.name === awsSecret.metadata.name;
  return refs.length > 0 && refs.every(mumoshu) && refs.some((ref) => ref.controller === true);
}

/**
 * Existing data that piggy can trust as the pinned version's content: the Secret records the same
 * source and its data still matches the recorded hash (keyed: an editor cannot recompute it). Then
 * no AWS call is needed.
 */
export function trustedExistingData(existing: V1Secret, awsSecret: AWSSecret, region: string, hashKey: Buffer): SecretData | undefined {
  const annotations = existing.metadata?.annotations ?? {};
  const source = buildSourceIdentity(awsSecret, region);
  if (
    annotations[ANNOTATION_SECRET_ID] !== source.secretIds ||
    annotations[ANNOTATION_VERSION_ID] !== source.versionIds ||
    annotations[ANNOTATION_REF_FIELDS] !== source.fields ||
    annotations[ANNOTATION_REGION] !== source.region
  ) {
    return undefined;
  }
  const data = existing.data ?? {};
  return annotations[ANNOTATION_DATA_HASH] === hashSecretData(data, existing.type ?? DEFAULT_SECRET_TYPE, hashKey) ? data : undefined;
}
