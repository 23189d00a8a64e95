/**
 * The pod's own AWS credentials, in the SDKs' order for what a pod can have: static keys in the
 * environment, then IRSA (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE → STS
 * AssumeRoleWithWebIdentity, an unsigned call), then container credentials (EKS Pod Identity:
 * AWS_CONTAINER_CREDENTIALS_FULL_URI + AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE). No shared config
 * files and no instance metadata: a pod should not borrow its node's role.
 */
import { AppError } from '../shared/errors.ts';
import { buildAwsError, AWS_MAX_RESPONSE_BYTES, AWS_TIMEOUT_MS, resolveAwsEndpoint, type AwsCallDeps } from './aws-call.ts';
import { ENV_ERRORS } from './error-codes.ts';
import type { AwsCredentials } from './sigv4.ts';

export type CredentialSource = 'environment' | 'web-identity' | 'container';

export interface ResolvedCredentials {
  readonly credentials: AwsCredentials;
  readonly source: CredentialSource;
}

export interface CredentialDeps extends AwsCallDeps {
  readonly readFile: (path: string) => Promise<string>;
}

const CONTAINER_HOST = 'http://169.254.170.2';

function xmlField(xml: string, name: string): string | undefined {
  const match = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  return match?.[1]?.replace(/&(lt|gt|quot|apos|amp);/g, (_all, entity: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[entity] ?? '');
}

/** Credentials out of an AssumeRoleWithWebIdentity XML answer, or the AWS error it holds. */
export function parseAssumeRoleResponse(status: number, xml: string): AwsCredentials {
  const accessKeyId = xmlField(xml, 'AccessKeyId');
  const secretAccessKey = xmlField(xml, 'SecretAccessKey');
  const sessionToken = xmlField(xml, 'SessionToken');
  if (status === 200 && accessKeyId && secretAccessKey && sessionToken) return { accessKeyId, secretAccessKey, sessionToken };
  throw buildAwsError('sts', 'AssumeRoleWithWebIdentity', status, xmlField(xml, 'Code') ?? (status === 200 ? 'InvalidResponse' : ''), xmlField(xml, 'Message') ?? '');
}

async function readToken(path: string, what: string, deps: CredentialDeps): Promise<string> {
  try {
    const token = (await deps.readFile(path)).trim();
    if (token !== '') return token;
  } catch (error) {
    throw new AppError(ENV_ERRORS.awsCredentials, `cannot read the ${what} at ${path}`, { cause: error });
  }
  throw new AppError(ENV_ERRORS.awsCredentials, `the ${what} at ${path} is empty`);
}

async function fetchWebIdentity(roleArn: string, tokenFile: string, region: string | undefined, deps: CredentialDeps): Promise<AwsCredentials> {
  const token = await readToken(tokenFile, 'web identity token', deps);
  const form = new URLSearchParams({
    Action: 'AssumeRoleWithWebIdentity',
    Version: '2011-06-15',
    RoleArn: roleArn,
    RoleSessionName: deps.env.AWS_ROLE_SESSION_NAME?.trim() || `piggy-env-${deps.now().getTime()}`,
    WebIdentityToken: token,
  });
  const response = await deps.sendHttp({
    url: resolveAwsEndpoint('sts', region, deps.env),
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', accept: 'text/xml' },
    body: form.toString(),
    timeoutMs: AWS_TIMEOUT_MS,
    maxBytes: AWS_MAX_RESPONSE_BYTES,
    errorCode: ENV_ERRORS.aws,
  });
  return parseAssumeRoleResponse(response.status, response.body);
}

async function fetchContainerCredentials(deps: CredentialDeps): Promise<AwsCredentials> {
  const full = deps.env.AWS_CONTAINER_CREDENTIALS_FULL_URI?.trim();
  const url = new URL(full || `${CONTAINER_HOST}${deps.env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI?.trim() ?? ''}`);
  const tokenFile = deps.env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE?.trim();
  const token = tokenFile ? await readToken(tokenFile, 'container authorization token', deps) : deps.env.AWS_CONTAINER_AUTHORIZATION_TOKEN?.trim();
  const response = await deps.sendHttp({
    url,
    method: 'GET',
    headers: { accept: 'application/json', ...(token ? { authorization: token } : {}) },
    timeoutMs: AWS_TIMEOUT_MS,
    maxBytes: 64 * 1024,
    errorCode: ENV_ERRORS.awsCredentials,
  });
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(response.body) as Record<string, unknown>;
  } catch {
    // handled below
  }
  const { AccessKeyId, SecretAccessKey, Token } = parsed;
  if (response.status === 200 && typeof AccessKeyId === 'string' && typeof SecretAccessKey === 'string') {
    return { accessKeyId: AccessKeyId, secretAccessKey: SecretAccessKey, ...(typeof Token === 'string' ? { sessionToken: Token } : {}) };
  }
  throw new AppError(ENV_ERRORS.awsCredentials, `the container credentials endpoint answered ${response.status} without credentials`, {
    kind: response.status === 429 || response.status >= 500 ? 'transient' : 'terminal',
  });
}

/** `region` is where STS is called (any region issues valid credentials). */
export async function fetchAwsCredentials(region: string | undefined, deps: CredentialDeps): Promise<ResolvedCredentials> {
  const env = deps.env;
  const accessKeyId = env.AWS_ACCESS_KEY_ID?.trim();
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY?.trim();
  if (accessKeyId && secretAccessKey) {
    const sessionToken = env.AWS_SESSION_TOKEN?.trim();
    return { source: 'environment', credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } };
  }
  const roleArn = env.AWS_ROLE_ARN?.trim();
  const tokenFile = env.AWS_WEB_IDENTITY_TOKEN_FILE?.trim();
  if (roleArn && tokenFile) return { source: 'web-identity', credentials: await fetchWebIdentity(roleArn, tokenFile, region, deps) };
  if (env.AWS_CONTAINER_CREDENTIALS_FULL_URI?.trim() || env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI?.trim()) {
    return { source: 'container', credentials: await fetchContainerCredentials(deps) };
  }
  throw new AppError(
    ENV_ERRORS.awsCredentials,
    'no AWS credentials: standalone and file modes need the pod\'s own role (IRSA: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE; EKS Pod Identity; or AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY)',
  );
}
