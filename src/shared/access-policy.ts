/**
 * Which AWS secrets a namespace may read through the controller's IAM role, for AWSSecrets and the
 * proxy alike. A policy is a list of patterns where `{namespace}` stands for the namespace and `*`
 * for any run of characters; the default `{namespace}/*` allows names under `<namespace>/`.
 * A pattern of just `*` turns the restriction off.
 */
export type AccessPolicy = readonly string[];

export const DEFAULT_ACCESS_POLICY: AccessPolicy = ['{namespace}/*'];

/** The friendly name of a secret id: an ARN's name without its 6-character random suffix. */
export function secretNameOf(secretId: string): string {
  const arn = /^arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:(.+)$/.exec(secretId);
  if (arn === null) return secretId;
  const name = arn[1] ?? '';
  return /-[A-Za-z0-9]{6}$/.test(name) ? name.slice(0, -7) : name;
}

function patternToRegExp(pattern: string, namespace: string): RegExp {
  const filled = pattern.split('{namespace}').join(namespace);
  const escaped = filled
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${escaped}$`, 's');
}

export function isSecretAllowed(policy: AccessPolicy, namespace: string, secretId: string): boolean {
  const name = secretNameOf(secretId);
  if (name.includes('..')) return false;
  return policy.some((pattern) => patternToRegExp(pattern, namespace).test(name));
}

/** Validates policy text from configuration: comma-separated patterns, none empty. */
export function parseAccessPolicy(text: string): { ok: true; value: AccessPolicy } | { ok: false; error: string } {
  const patterns = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  if (patterns.length === 0) return { ok: false, error: 'expected comma-separated patterns such as {namespace}/*' };
  return { ok: true, value: patterns };
}
