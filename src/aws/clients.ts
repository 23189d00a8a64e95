import { ECRClient } from '@aws-sdk/client-ecr';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';

/**
 * One client per service and region, shared by every component of the process. Credentials,
 * endpoints (AWS_ENDPOINT_URL) and retries come from the SDK's standard chain.
 */
export interface AwsClients {
  secretsManager(region?: string): SecretsManagerClient;
  ssm(region?: string): SSMClient;
  ecr(region?: string): ECRClient;
  sts(region?: string): STSClient;
  destroy(): void;
}

type ClientConfig = { region?: string; endpoint?: string; maxAttempts?: number };

export interface AwsClientOptions {
  /** Overrides AWS_ENDPOINT_URL (tests point a process at a private emulator or a fault proxy). */
  readonly endpoint?: string;
  /** SDK attempts per call, retries included; undefined keeps the SDK's default. */
  readonly maxAttempts?: number;
}

export function createAwsClients(defaultRegion: string | undefined, options: AwsClientOptions = {}): AwsClients {
  const extra: ClientConfig = {
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }),
  };
  const made: { destroy(): void }[] = [];
  function perRegion<C extends { destroy(): void }>(make: (config: ClientConfig) => C): (region?: string) => C {
    const byRegion = new Map<string, C>();
    return (region) => {
      const key = region ?? defaultRegion ?? '';
      let client = byRegion.get(key);
      if (client === undefined) {
        client = make(key === '' ? { ...extra } : { ...extra, region: key });
        byRegion.set(key, client);
        made.push(client);
      }
      return client;
    };
  }
  return {
    secretsManager: perRegion((config) => new SecretsManagerClient(config)),
    ssm: perRegion((config) => new SSMClient(config)),
    ecr: perRegion((config) => new ECRClient(config)),
    sts: perRegion((config) => new STSClient(config)),
    destroy: () => {
      for (const client of made.splice(0)) client.destroy();
    },
  };
}
