/**
 * Whether the namespace access policy allows the secret admission recorded for a container
 * (src/shared/admission-record.ts: `aws-ssm-parameter-path` wins; otherwise `aws-secret-name`, else
 * `${prefix}${namespace}/${serviceAccount}${suffix}`; version a VersionId or a stage, default
 * AWSCURRENT). The policy is judged now, so a tightened ACCESS_POLICY applies to running pods. Pure:
 * a refusal here costs no AWS call.
 *
 * The policy judges a Secrets Manager name or ARN with isSecretAllowed (partition, region and account
 * of an ARN too; a plain name in the pod's region). An SSM path is judged by the name patterns, as
 * the hierarchy it reads: without its leading `/` and with a trailing `/` (`/team/app` → `team/app/`),
 * so under the default policy `{namespace}/*` a namespace may read paths under `/<namespace>/`
 * (`/<namespace>` itself included, which reads the same parameters).
 */
import { DEFAULT_STAGE, type SecretTarget } from '../shared/admission-record.ts';
import { isNameAllowed, isSecretAllowed, type AccessPolicy } from '../shared/access-policy.ts';
import { buildRefusal, PROXY_ERRORS, type Refusal } from './errors.ts';

export { DEFAULT_STAGE, type SecretTarget };

export type SelectionResult = { readonly ok: true; readonly target: SecretTarget } | { readonly ok: false; readonly refusal: Refusal };

/** The policy subject of an SSM path: `/a/b` and `/a/b/` both → `a/b/`. */
export function buildParameterPathSubject(path: string): string {
  const trimmed = path.replace(/^\/+/, '').replace(/\/+$/, '');
  return trimmed === '' ? '/' : `${trimmed}/`;
}

export function isParameterPathAllowed(policy: AccessPolicy, namespace: string, path: string): boolean {
  if (path.split('/').some((segment) => segment === '.' || segment === '..')) return false;
  return isNameAllowed(policy, namespace, buildParameterPathSubject(path));
}

/** A human name of a target, for messages to an authenticated caller and for logs. */
export function describeTarget(target: SecretTarget): string {
  return target.kind === 'ssm' ? `SSM path "${target.path}"` : `secret "${target.secretId}"`;
}

export function planSecretSelection(target: SecretTarget, namespace: string, policy: AccessPolicy): SelectionResult {
  const allowed =
    target.kind === 'ssm' ? isParameterPathAllowed(policy, namespace, target.path) : isSecretAllowed(policy, namespace, target.secretId, target.region);
  if (!allowed) return { ok: false, refusal: buildRefusal(PROXY_ERRORS.policyDenied, `namespace ${namespace} may not read ${describeTarget(target)}`) };
  return { ok: true, target };
}
