/**
 * Amazon ECR: `<account>.dkr.ecr.<region>.amazonaws.com` accepts Basic `AWS:<password>` from
 * `GetAuthorizationToken`, called with the controller's own credentials. One token per region,
 * cached until shortly before `expiresAt` (12 h by default), fetched once for concurrent callers.
 */
import { GetAuthorizationTokenCommand, type ECRClient } from '@aws-sdk/client-ecr';
import { LoadingCache } from './cache.ts';
import type { Credential } from './credentials.ts';
import { IMAGE_ERRORS, RegistryError } from './errors.ts';

export interface EcrHost {
  readonly accountId: string;
  readonly region: string;
}

const ECR_HOST = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;
const ECR_DUALSTACK_HOST = /^(\d{12})\.dkr-ecr(?:-fips)?\.([a-z0-9-]+)\.on\.aws$/;

/** The account and region of a private ECR registry host, or undefined for any other host. */
export function parseEcrHost(registry: string): EcrHost | undefined {
  const host = registry.toLowerCase();
  const match = ECR_HOST.exec(host) ?? ECR_DUALSTACK_HOST.exec(host);
  if (match?.[1] === undefined || match[2] === undefined) return undefined;
  return { accountId: match[1], region: match[2] };
}

export interface EcrCredentials {
  credential(host: EcrHost, signal: AbortSignal): Promise<Credential>;
}

export interface EcrCredentialsDeps {
  /** `AwsClients.ecr` from src/aws/clients.ts. */
  readonly ecr: (region: string) => Pick<ECRClient, 'send'>;
  readonly now: () => number;
  /** Refresh this long before expiry (default 5 min; at most half the token's life). */
  readonly refreshMarginMs?: number;
  readonly onRequest?: (outcome: string) => void;
}

interface Grant {
  readonly credential: Credential;
  readonly ttlMs: number;
}

const DEFAULT_MARGIN_MS = 5 * 60_000;
const ACCESS_ERRORS = new Set([
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'ExpiredTokenException',
  'InvalidSignatureException',
  'CredentialsProviderError',
]);

export function createEcrCredentials(deps: EcrCredentialsDeps): EcrCredentials {
  const grants = new LoadingCache<Grant>(64, deps.now);
  const margin = deps.refreshMarginMs ?? DEFAULT_MARGIN_MS;

  async function fetchGrant(host: EcrHost, signal: AbortSignal): Promise<Grant> {
    let output;
    try {
      output = await deps.ecr(host.region).send(new GetAuthorizationTokenCommand({}), { abortSignal: signal });
      deps.onRequest?.('200');
    } catch (error) {
      deps.onRequest?.('error');
      throw classifyEcrError(error, host);
    }
    const data = output.authorizationData?.[0];
    const decoded = Buffer.from(data?.authorizationToken ?? '', 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw new RegistryError(IMAGE_ERRORS.invalid, `ECR in ${host.region} returned no usable authorization token`);
    const life = (data?.expiresAt?.getTime() ?? deps.now() + 12 * 3_600_000) - deps.now();
    return {
      credential: { kind: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) },
      ttlMs: Math.max(0, life - Math.min(margin, life / 2)),
    };
  }

  return {
    async credential(host, signal) {
      const { value } = await grants.load(host.region, () => fetchGrant(host, signal), (grant) => grant.ttlMs);
      return value.credential;
    },
  };
}

function classifyEcrError(error: unknown, host: EcrHost): RegistryError {
  const name = error instanceof Error ? error.name : 'Error';
  const status = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  const details = { region: host.region, error: name };
  if (ACCESS_ERRORS.has(name) || status === 401 || status === 403) {
    return new RegistryError(IMAGE_ERRORS.unauthorized, `the controller's AWS credentials cannot get an ECR token in ${host.region} (${name})`, {
      cause: error,
      details: { ...details, status: 401 },
    });
  }
  if (name === 'AbortError' || name === 'TimeoutError') {
    return new RegistryError(IMAGE_ERRORS.unreachable, `ECR in ${host.region} did not issue a token in time`, { cause: error, details });
  }
  return new RegistryError(IMAGE_ERRORS.unreachable, `cannot get an ECR token in ${host.region} (${name})`, { cause: error, details });
}
