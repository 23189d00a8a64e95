/**
 * What the webhook decided at admission for one wrapped container, written into that container's
 * env as `PIGGY_ADMISSION` (JSON). A container's env cannot change after the pod is created (the API
 * server refuses updates of spec.containers[*].env), so `/secret` reads which secret a container may
 * have, its command signature and the integrity flags from here, never from the pod's annotations,
 * which anyone with `pods/patch` could change after admission. Ephemeral containers are never read.
 *
 * The record holds no value: a secret's name, region and version, an SSM path, a signature. Pure,
 * dependency-free: the webhook writes it (src/webhook/), the proxy reads it (src/proxy/).
 */
import { parseJsonObject } from './json.ts';

export type SecretVersionRef = { readonly kind: 'id' | 'stage'; readonly value: string };

export type SecretTarget =
  | { readonly kind: 'secretsManager'; readonly secretId: string; readonly region: string | undefined; readonly version: SecretVersionRef }
  | { readonly kind: 'ssm'; readonly path: string; readonly region: string | undefined };

export interface AdmissionRecord {
  /** The container's uid (its PIGGY_UID). */
  readonly uid: string;
  /** buildCommandSignature of its template. */
  readonly signature: string;
  readonly target: SecretTarget;
  readonly enforceIntegrity: boolean;
  readonly enforceServiceAccount: boolean;
}

export const DEFAULT_STAGE = 'AWSCURRENT';

/** The fields of a pod's configuration that decide its secret (structurally a PodConfig). */
export interface TargetSettings {
  readonly secretName: string | undefined;
  readonly region: string | undefined;
  readonly secretVersion: SecretVersionRef | undefined;
  readonly ssmParameterPath: string | undefined;
  readonly defaultSecretNamePrefix: string;
  readonly defaultSecretNameSuffix: string;
}

/**
 * Which secret a pod reads: `aws-ssm-parameter-path` wins (as in Piggy); otherwise Secrets Manager
 * `aws-secret-name`, else `${prefix}${namespace}/${serviceAccount}${suffix}`; version AWSCURRENT.
 */
export function buildSecretTarget(settings: TargetSettings, namespace: string, serviceAccount: string): SecretTarget {
  if (settings.ssmParameterPath !== undefined) return { kind: 'ssm', path: settings.ssmParameterPath, region: settings.region };
  const secretId = settings.secretName ?? `${settings.defaultSecretNamePrefix}${namespace}/${serviceAccount}${settings.defaultSecretNameSuffix}`;
  const version = settings.secretVersion ?? { kind: 'stage', value: DEFAULT_STAGE };
  return { kind: 'secretsManager', secretId, region: settings.region, version: { kind: version.kind, value: version.value } };
}

const RECORD_VERSION = 1;

export function formatAdmissionRecord(record: AdmissionRecord): string {
  const { target } = record;
  const where = target.region === undefined ? {} : { region: target.region };
  const stored =
    target.kind === 'ssm'
      ? { kind: 'ssm', path: target.path, ...where }
      : { kind: 'secretsManager', secretId: target.secretId, ...where, version: { kind: target.version.kind, value: target.version.value } };
  return JSON.stringify({
    v: RECORD_VERSION,
    uid: record.uid,
    signature: record.signature,
    target: stored,
    enforceIntegrity: record.enforceIntegrity,
    enforceServiceAccount: record.enforceServiceAccount,
  });
}

const isText = (value: unknown): value is string => typeof value === 'string' && value !== '';

function parseTarget(value: unknown): SecretTarget | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const { kind, path, secretId, region, version } = value as Record<string, unknown>;
  if (region !== undefined && !isText(region)) return undefined;
  if (kind === 'ssm') return isText(path) && path.startsWith('/') ? { kind, path, region } : undefined;
  if (kind !== 'secretsManager' || !isText(secretId) || version === null || typeof version !== 'object') return undefined;
  const { kind: versionKind, value: versionValue } = version as Record<string, unknown>;
  if ((versionKind !== 'id' && versionKind !== 'stage') || !isText(versionValue)) return undefined;
  return { kind, secretId, region, version: { kind: versionKind, value: versionValue } };
}

/** Reads a PIGGY_ADMISSION value; undefined when it is not a record this version writes. */
export function parseAdmissionRecord(text: string | undefined): AdmissionRecord | undefined {
  const parsed = text === undefined ? undefined : parseJsonObject(text);
  if (parsed === undefined || parsed.v !== RECORD_VERSION) return undefined;
  const { uid, signature, enforceIntegrity, enforceServiceAccount } = parsed;
  const target = parseTarget(parsed.target);
  if (!isText(uid) || typeof signature !== 'string' || target === undefined) return undefined;
  if (typeof enforceIntegrity !== 'boolean' || typeof enforceServiceAccount !== 'boolean') return undefined;
  return { uid, signature, target, enforceIntegrity, enforceServiceAccount };
}
