/**
 * The controller's own AWS account, which the access policy needs to tell a foreign ARN: AWS_ACCOUNT_ID
 * when set, else STS GetCallerIdentity once at start (it needs no IAM permission). When STS cannot be
 * reached the account stays unknown and the policy fails closed: an ARN is then allowed only by an ARN
 * pattern that names its account (plain names are unaffected); the error is logged once.
 */
import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import { buildAccessPolicy, type AccessPolicy } from '../shared/access-policy.ts';
import type { Logger } from '../shared/logger.ts';

/** GetCallerIdentity's account, bounded by `timeoutMs` (SDK retries included). */
export async function fetchOwnAccount(sts: STSClient, timeoutMs: number): Promise<string> {
  const output = await sts.send(new GetCallerIdentityCommand({}), { abortSignal: AbortSignal.timeout(timeoutMs) });
  if (output.Account === undefined || !/^\d{12}$/.test(output.Account)) throw new Error('GetCallerIdentity answered without an account id');
  return output.Account;
}

/** The policy with its own account filled in (unchanged when already known or when the lookup fails). */
export async function learnOwnAccount(policy: AccessPolicy, fetchAccount: () => Promise<string>, log: Logger): Promise<AccessPolicy> {
  if (policy.ownAccount !== undefined) return policy;
  try {
    const account = await fetchAccount();
    log.info({ account }, 'aws account learned');
    return buildAccessPolicy(policy.patterns, account);
  } catch (error) {
    log.error(
      { errMessage: error instanceof Error ? error.message : String(error) },
      'aws account unknown: ARNs are allowed only by ARN patterns of ACCESS_POLICY that name their account; set AWS_ACCOUNT_ID',
    );
    return policy;
  }
}
