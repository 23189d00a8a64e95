/**
 * Which AWS secrets a namespace may read through the controller's IAM role, for AWSSecrets and the
 * proxy alike. A policy is a list of patterns where `{namespace}` stands for the namespace and `*`
 * for any run of characters, of two forms:
 *
 * - a **name pattern** (`{namespace}/*`, the default; `shared/*`; `*`): secret names in the
 *   controller's own AWS account, in any region. A plain name is always read in the own account; an
 *   ARN matches only when its account is the controller's own (known from AWS_ACCOUNT_ID or STS). So
 *   `*` lifts the namespace restriction, never the account one.
 * - an **ARN pattern** `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>`, each field a
 *   pattern: names the partition, region and account explicitly; the only way to allow another
 *   account. A plain name is judged as the ARN it stands for: the own account, the region of the
 *   request, that region's partition.
 *
 * An ARN whose partition does not belong to its region, or an `arn:` id that is not a Secrets Manager
 * secret ARN, is denied. SSM parameter paths are judged by the name patterns only (isNameAllowed).
 */
export interface AccessPolicy {
  readonly patterns: readonly string[];
  /** The controller's own AWS account; undefined while unknown (then only ARN patterns admit ARNs). */
  readonly ownAccount: string | undefined;
}

export function buildAccessPolicy(patterns: readonly string[], ownAccount?: string): AccessPolicy {
  return { patterns: [...patterns], ownAccount };
}

export const DEFAULT_ACCESS_POLICY: AccessPolicy = buildAccessPolicy(['{namespace}/*']);

interface SecretArn {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  /** The friendly name: without Secrets Manager's 6-character random suffix. */
  readonly name: string;
}

const SECRET_ARN = /^arn:([^:]+):secretsmanager:([^:]*):([^:]*):secret:(.+)$/s;

function parseSecretArn(secretId: string): SecretArn | undefined {
  const match = SECRET_ARN.exec(secretId);
  if (match === null) return undefined;
  const [, partition = '', region = '', account = '', rawName = ''] = match;
  const name = /-[A-Za-z0-9]{6}$/.test(rawName) ? rawName.slice(0, -7) : rawName;
  return { partition, region, account, name };
}

/** The friendly name of a secret id: an ARN's name without its 6-character random suffix. */
export function secretNameOf(secretId: string): string {
  return parseSecretArn(secretId)?.name ?? secretId;
}

/** The partition a region belongs to (`cn-north-1` → `aws-cn`); `aws` for the commercial regions. */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  const iso = /^[a-z]{2}-iso([a-z]?)-/.exec(region);
  if (iso !== null) return iso[1] === '' ? 'aws-iso' : `aws-iso-${iso[1] ?? ''}`;
  return 'aws';
}

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${escaped}$`, 's');
}

const fill = (pattern: string, namespace: string): string => pattern.split('{namespace}').join(namespace);

function isNameMatch(policy: AccessPolicy, namespace: string, name: string): boolean {
  if (name.includes('..')) return false;
  return policy.patterns.some((pattern) => !pattern.startsWith('arn:') && globToRegExp(fill(pattern, namespace)).test(name));
}

function isArnMatch(policy: AccessPolicy, namespace: string, subject: SecretArn): boolean {
  if (subject.name.includes('..')) return false;
  return policy.patterns.some((pattern) => {
    const parsed = parseSecretArn(pattern);
    if (parsed === undefined) return false;
    // The pattern's name keeps its text as written: its suffix (if any) is not stripped.
    const name = pattern.slice(pattern.indexOf(':secret:') + ':secret:'.length);
    return (
      globToRegExp(parsed.partition).test(subject.partition) &&
      globToRegExp(parsed.region).test(subject.region) &&
      globToRegExp(parsed.account).test(subject.account) &&
      globToRegExp(fill(name, namespace)).test(subject.name)
    );
  });
}

export type PolicyVerdict = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

const denied = (reason: string): PolicyVerdict => ({ allowed: false, reason });

/**
 * Whether `namespace` may read the Secrets Manager secret `secretId` (a name or an ARN), read in
 * `region` (the request's region; undefined when the SDK's default applies). The reason of a denial
 * names what failed (it carries no secret value).
 */
export function judgeSecret(policy: AccessPolicy, namespace: string, secretId: string, region?: string): PolicyVerdict {
  const arn = parseSecretArn(secretId);
  if (arn === undefined) {
    if (secretId.startsWith('arn:')) return denied('not a Secrets Manager secret ARN');
    if (isNameMatch(policy, namespace, secretId)) return { allowed: true };
    const asArn = { partition: region === undefined ? '' : partitionOf(region), region: region ?? '', account: policy.ownAccount ?? '', name: secretId };
    return isArnMatch(policy, namespace, asArn) ? { allowed: true } : denied('no pattern of the access policy allows it');
  }
  if (arn.partition !== partitionOf(arn.region)) return denied(`partition ${arn.partition} does not hold region ${arn.region}`);
  if (isArnMatch(policy, namespace, arn)) return { allowed: true };
  if (policy.ownAccount === undefined) {
    return denied(`the controller's own AWS account is unknown (set AWS_ACCOUNT_ID), and no ARN pattern allows account ${arn.account}`);
  }
  if (arn.account !== policy.ownAccount) {
    return denied(`account ${arn.account} is not the controller's own account, and no ARN pattern allows it`);
  }
  return isNameMatch(policy, namespace, arn.name) ? { allowed: true } : denied('no pattern of the access policy allows it');
}

export function isSecretAllowed(policy: AccessPolicy, namespace: string, secretId: string, region?: string): boolean {
  return judgeSecret(policy, namespace, secretId, region).allowed;
}

/** A name judged by the name patterns only (SSM parameter paths, always in the own account). */
export function isNameAllowed(policy: AccessPolicy, namespace: string, name: string): boolean {
  return isNameMatch(policy, namespace, name);
}

/** The policy as configured, for messages. */
export function describePolicy(policy: AccessPolicy): string {
  return policy.patterns.join(', ');
}

const ARN_PATTERN = /^arn:[^:]+:secretsmanager:[^:]+:[^:]+:secret:.+$/s;

/**
 * Validates policy text from configuration: comma-separated patterns, none empty; an `arn:` pattern
 * must have all the fields of a Secrets Manager secret ARN (each may be `*`).
 */
export function parseAccessPolicy(text: string): { ok: true; value: readonly string[] } | { ok: false; error: string } {
  const patterns = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  if (patterns.length === 0) return { ok: false, error: 'expected comma-separated patterns such as {namespace}/*' };
  const badArn = patterns.find((pattern) => pattern.startsWith('arn:') && !ARN_PATTERN.test(pattern));
  if (badArn !== undefined) {
    return { ok: false, error: `"${badArn}" is not an ARN pattern: expected arn:<partition>:secretsmanager:<region>:<account>:secret:<name> (each may be *)` };
  }
  return { ok: true, value: patterns };
}

/** AWS_ACCOUNT_ID: twelve digits, or empty (unset). */
export function parseAccountId(text: string): { ok: true; value: string | undefined } | { ok: false; error: string } {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: true, value: undefined };
  return /^\d{12}$/.test(trimmed) ? { ok: true, value: trimmed } : { ok: false, error: 'expected a 12-digit AWS account id' };
}
