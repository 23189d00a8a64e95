/**
 * Which secret a pod reads, from its live annotations (parsed with the controller-wide defaults) and
 * its proven identity, and whether the namespace access policy allows it. Pure: a refusal here costs
 * no AWS call.
 *
 * - `aws-ssm-parameter-path` set: SSM Parameter Store, recursive, by that path (it wins over a secret
 *   name, as in Piggy).
 * - Otherwise Secrets Manager: `aws-secret-name`, else `${prefix}${namespace}/${serviceAccount}${suffix}`;
 *   `aws-secret-version` a VersionId (fetched by id) or a staging label; default AWSCURRENT.
 *
 * The policy judges a Secrets Manager name or ARN with isSecretAllowed (partition, region and account
 * of an ARN too; a plain name in the pod's region). An SSM path is judged by the name patterns, as
 * the hierarchy it reads: without its leading `/` and with a trailing `/` (`/team/app` → `team/app/`),
 * so under the default policy `{namespace}/*` a namespace may read paths under `/<namespace>/`
 * (`/<namespace>` itself included, which reads the same parameters).
 */
import type { PodConfig } from '../config/annotations.ts';
import { isNameAllowed, isSecretAllowed, type AccessPolicy } from '../shared/access-policy.ts';
import { buildRefusal, PROXY_ERRORS, type Refusal } from './errors.ts';
import type { CallerIdentity } from './identity.ts';

export const DEFAULT_STAGE = 'AWSCURRENT';

export type SecretTarget =
  | {
      readonly kind: 'secretsManager';
      readonly secretId: string;
      readonly region: string | undefined;
      readonly version: { readonly kind: 'id' | 'stage'; readonly value: string };
    }
  | { readonly kind: 'ssm'; readonly path: string; readonly region: string | undefined };

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

export function planSecretSelection(config: PodConfig, identity: CallerIdentity, policy: AccessPolicy): SelectionResult {
  const region = config.region;
  if (config.ssmParameterPath !== undefined) {
    const target: SecretTarget = { kind: 'ssm', path: config.ssmParameterPath, region };
    if (!isParameterPathAllowed(policy, identity.namespace, target.path)) {
      return { ok: false, refusal: buildRefusal(PROXY_ERRORS.policyDenied, `namespace ${identity.namespace} may not read ${describeTarget(target)}`) };
    }
    return { ok: true, target };
  }
  const secretId =
    config.secretName ?? `${config.defaultSecretNamePrefix}${identity.namespace}/${identity.serviceAccount}${config.defaultSecretNameSuffix}`;
  const version = config.secretVersion ?? { kind: 'stage', value: DEFAULT_STAGE };
  const target: SecretTarget = { kind: 'secretsManager', secretId, region, version: { kind: version.kind, value: version.value } };
  if (!isSecretAllowed(policy, identity.namespace, secretId, region)) {
    return { ok: false, refusal: buildRefusal(PROXY_ERRORS.policyDenied, `namespace ${identity.namespace} may not read ${describeTarget(target)}`) };
  }
  return { ok: true, target };
}
