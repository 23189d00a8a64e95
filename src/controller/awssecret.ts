/** The AWSSecret resource as the reconciler sees it (crds/ is the schema's source of truth). */

export const GROUP = 'piggysec.com';
export const VERSION = 'v1alpha1';
export const PLURAL = 'awssecrets';
export const KIND = 'AWSSecret';
export const API_VERSION = `${GROUP}/${VERSION}`;
/** The custom resource's group, version and plural, as the custom-objects API takes them. */
export const AWSSECRET_RESOURCE = { group: GROUP, version: VERSION, plural: PLURAL } as const;

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'piggy';
export const MANAGED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;

/** Annotations piggy writes on the Secrets it generates. */
export const ANNOTATION_SECRET_ID = 'piggysec.com/aws-secret-id';
export const ANNOTATION_VERSION_ID = 'piggysec.com/aws-version-id';
export const ANNOTATION_REGION = 'piggysec.com/aws-region';
/** Which field each ref came from (`stringDataFrom`, `dataFrom`): the same version means other data in each. */
export const ANNOTATION_REF_FIELDS = 'piggysec.com/aws-ref-fields';
export const ANNOTATION_DATA_HASH = 'piggysec.com/data-hash';

export interface SecretRef {
  readonly secretId: string;
  readonly versionId: string;
}

export interface AWSSecretSpec {
  readonly stringDataFrom?: { readonly secretsManagerSecretRef?: SecretRef };
  readonly dataFrom?: { readonly secretsManagerSecretRef?: SecretRef };
  readonly type?: string;
  readonly metadata?: {
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly region?: string;
  readonly updateCheckSchedule?: string;
}

export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime: string;
  readonly observedGeneration?: number;
}

export interface AWSSecretStatus {
  readonly observedGeneration?: number;
  readonly secretName?: string;
  readonly versionId?: string;
  readonly syncedAt?: string;
  readonly latestVersionId?: string;
  readonly lastUpdateCheck?: string;
  readonly conditions?: readonly Condition[];
}

export interface AWSSecret {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly uid: string;
    readonly generation?: number;
    readonly resourceVersion?: string;
    readonly deletionTimestamp?: Date;
  };
  readonly spec: AWSSecretSpec;
  readonly status?: AWSSecretStatus;
}

/** Condition types and reasons: the one place they are named. */
export const CONDITION_READY = 'Ready';
export const CONDITION_UPDATE_AVAILABLE = 'UpdateAvailable';

export const REASON = {
  synced: 'Synced',
  secretNotFound: 'SecretNotFound',
  versionNotFound: 'VersionNotFound',
  accessDenied: 'AccessDenied',
  policyDenied: 'PolicyDenied',
  invalidSecretData: 'InvalidSecretData',
  invalidSpec: 'InvalidSpec',
  secretConflict: 'SecretConflict',
  throttled: 'Throttled',
  awsUnavailable: 'AWSUnavailable',
  kubernetesError: 'KubernetesError',
  upToDate: 'UpToDate',
  newVersion: 'NewVersionAvailable',
  checkFailed: 'CheckFailed',
  invalidSchedule: 'InvalidSchedule',
} as const;

/** The refs of a spec in a fixed order (stringDataFrom first), with their field paths. */
export function listRefs(spec: AWSSecretSpec): { readonly field: 'stringDataFrom' | 'dataFrom'; readonly ref: SecretRef }[] {
  const refs: { field: 'stringDataFrom' | 'dataFrom'; ref: SecretRef }[] = [];
  const stringRef = spec.stringDataFrom?.secretsManagerSecretRef;
  const dataRef = spec.dataFrom?.secretsManagerSecretRef;
  if (stringRef !== undefined) refs.push({ field: 'stringDataFrom', ref: stringRef });
  if (dataRef !== undefined) refs.push({ field: 'dataFrom', ref: dataRef });
  return refs;
}

export function keyOf(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}
