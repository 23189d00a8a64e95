import { isAppError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import { createAwsCaller } from './aws-call.ts';
import { AWS_ERROR_CODES, buildNotFoundError } from './aws-errors.ts';
import type { AwsMetrics } from './aws-metrics.ts';
import type { CallBudget } from './call-budget.ts';
import type { AwsClients } from './clients.ts';
import { systemClock, type Clock } from './clock.ts';
import {
  buildStageMappings,
  fetchDescription,
  fetchSecretValue,
  type StageMapping,
} from './secrets-manager-reads.ts';
import { SingleFlight } from './single-flight.ts';
import { buildParameterMap, fetchParameterPages } from './ssm-parameters.ts';
import { TtlCache } from './ttl-cache.ts';
import { buildVersionKey, type SecretVersionValue, type VersionCache } from './version-cache.ts';

export type { SecretVersionValue } from './version-cache.ts';

/**
 * The shared read path to Secrets Manager and SSM for every component of the process (the AWSSecret
 * reconciler, the /secret proxy, `piggy bump`). Every AWS request goes through the process-wide call
 * budget; concurrent identical reads share one request (single-flight); errors are AppErrors.
 *
 * What a read costs in AWS calls:
 * - fetchVersion: a pinned version never changes, so after the first read it costs 0, forever (until
 *   the byte-capped cache evicts it). A cold read is 1 GetSecretValue, however many callers wait.
 * - fetchByStage: a cold read is 1 call: GetSecretValue by stage answers with the VersionId and the
 *   value at once, which seeds both the stage mapping (for stageTtlMs) and the version cache. While
 *   the mapping is fresh, reads cost 0 (the version comes from the cache). After it expires, the next
 *   read costs 1 call again. A burst of N concurrent cold reads of one stage costs 1 call.
 * - describeCurrentVersion: 1 DescribeSecret (no decryption) per stageTtlMs; it shares the stage
 *   mapping, so a fresh fetchByStage(AWSCURRENT) answers it for 0 calls and vice versa.
 * - fetchParametersByPath: one call per page of 10 parameters, per path, per stageTtlMs.
 * - A not-found answer whose message does not say whether the secret or the version is missing
 *   costs one extra DescribeSecret (error path only).
 */
export interface SecretSource {
  fetchVersion(ref: VersionRef): Promise<SecretVersionValue>;
  fetchByStage(ref: StageRef): Promise<SecretVersionValue>;
  describeCurrentVersion(ref: SecretRef): Promise<CurrentVersion>;
  /** Piggy's map: last path element → value, recursive, decrypted. Frozen and shared: do not mutate. */
  fetchParametersByPath(ref: ParameterPathRef): Promise<Readonly<Record<string, string>>>;
}

/** `region` undefined means the clients' default region. */
export interface SecretRef {
  readonly region?: string | undefined;
  readonly secretId: string;
}
export interface VersionRef extends SecretRef {
  readonly versionId: string;
}
export interface StageRef extends SecretRef {
  readonly stage: string;
}
export interface ParameterPathRef {
  readonly region?: string | undefined;
  readonly path: string;
}
export type CurrentVersion = StageMapping;

export interface SecretSourceOptions {
  readonly clients: AwsClients;
  readonly budget: CallBudget;
  readonly cache: VersionCache;
  readonly metrics?: AwsMetrics | undefined;
  readonly log: Logger;
  readonly clock?: Clock | undefined;
  /** How long a stage → version mapping and an SSM path answer are reused; 0 = not reused. */
  readonly stageTtlMs: number;
  /** Longest wait for one AWS answer; default 10 s, 0 = no limit. */
  readonly callTimeoutMs?: number | undefined;
  /** Aborts budget waits and requests in flight (process shutdown). */
  readonly signal?: AbortSignal | undefined;
}

export const CURRENT_STAGE = 'AWSCURRENT';
const DEFAULT_CALL_TIMEOUT_MS = 10_000;

/** The region a request goes to: the one asked for, else the client's resolved default. */
async function resolveRegion(region: string | undefined, client: { config: { region: () => Promise<string> } }): Promise<string> {
  if (region !== undefined && region !== '') return region;
  try {
    return await client.config.region();
  } catch {
    return '';
  }
}

export function createSecretSource(options: SecretSourceOptions): SecretSource {
  const { clients, budget, cache, metrics, log } = options;
  const clock = options.clock ?? systemClock;
  const caller = createAwsCaller({
    budget,
    metrics,
    log,
    signal: options.signal,
    callTimeoutMs: options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
  });
  const stages = new TtlCache<StageMapping>(clock, options.stageTtlMs);
  const parameters = new TtlCache<Readonly<Record<string, string>>>(clock, options.stageTtlMs);
  const versionFlights = new SingleFlight<string, SecretVersionValue>();
  const stageFlights = new SingleFlight<string, SecretVersionValue>();
  const describeFlights = new SingleFlight<string, CurrentVersion>();
  const pathFlights = new SingleFlight<string, Readonly<Record<string, string>>>();
  metrics?.watchCacheBytes('secret_version', () => cache.bytes());
  metrics?.watchBudgetRate(() => budget.rate());

  const stageKey = (region: string, secretId: string, stage: string): string => `${region}\u0000${secretId}\u0000${stage}`;

  async function fetchVersion(ref: VersionRef): Promise<SecretVersionValue> {
    const client = clients.secretsManager(ref.region);
    const key = { region: await resolveRegion(ref.region, client), secretId: ref.secretId, versionId: ref.versionId };
    const hit = cache.get(key);
    if (hit !== undefined) {
      metrics?.recordCacheHit('secret_version');
      return hit;
    }
    metrics?.recordCacheMiss('secret_version');
    return versionFlights.run(buildVersionKey(key), async () => {
      const seeded = cache.get(key); // a stage read may have brought it in meanwhile
      if (seeded !== undefined) return seeded;
      const value = await fetchSecretValue(caller, client, key.region, key.secretId, { versionId: key.versionId });
      cache.set(key, value);
      return value;
    });
  }

  async function fetchByStage(ref: StageRef): Promise<SecretVersionValue> {
    const client = clients.secretsManager(ref.region);
    const region = await resolveRegion(ref.region, client);
    const key = stageKey(region, ref.secretId, ref.stage);
    const mapped = stages.get(key);
    if (mapped !== undefined) {
      metrics?.recordCacheHit('secret_stage');
      try {
        return await fetchVersion({ region, secretId: ref.secretId, versionId: mapped.versionId });
      } catch (error) {
        // The mapped version was removed since (AWS drops unlabelled versions): resolve the stage anew.
        if (!isAppError(error) || error.code !== AWS_ERROR_CODES.versionNotFound) throw error;
        stages.delete(key);
      }
    } else {
      metrics?.recordCacheMiss('secret_stage');
    }
    return stageFlights.run(key, async () => {
      const value = await fetchSecretValue(caller, client, region, ref.secretId, { stage: ref.stage });
      cache.set({ region, secretId: ref.secretId, versionId: value.versionId }, value);
      stages.set(key, { versionId: value.versionId, name: value.name, arn: value.arn });
      return value;
    });
  }

  async function describeCurrentVersion(ref: SecretRef): Promise<CurrentVersion> {
    const client = clients.secretsManager(ref.region);
    const region = await resolveRegion(ref.region, client);
    const mapped = stages.get(stageKey(region, ref.secretId, CURRENT_STAGE));
    if (mapped !== undefined) {
      metrics?.recordCacheHit('secret_current');
      return mapped;
    }
    metrics?.recordCacheMiss('secret_current');
    return describeFlights.run(`${region}\u0000${ref.secretId}`, async () => {
      const output = await fetchDescription(caller, client, region, ref.secretId);
      const context = { api: 'DescribeSecret', region, secretId: ref.secretId, stage: CURRENT_STAGE };
      if (output.DeletedDate !== undefined) throw buildNotFoundError(context, 'secret', true);
      const mappings = buildStageMappings(output, ref.secretId);
      for (const [stage, mapping] of mappings) stages.set(stageKey(region, ref.secretId, stage), mapping);
      const current = mappings.get(CURRENT_STAGE);
      if (current === undefined) throw buildNotFoundError(context, 'version');
      return current;
    });
  }

  async function fetchParametersByPath(ref: ParameterPathRef): Promise<Readonly<Record<string, string>>> {
    const client = clients.ssm(ref.region);
    const region = await resolveRegion(ref.region, client);
    const key = `${region}\u0000${ref.path}`;
    const cached = parameters.get(key);
    if (cached !== undefined) {
      metrics?.recordCacheHit('ssm_path');
      return cached;
    }
    metrics?.recordCacheMiss('ssm_path');
    return pathFlights.run(key, async () => {
      const map = buildParameterMap(await fetchParameterPages(caller, client, region, ref.path));
      parameters.set(key, map);
      return map;
    });
  }

  return { fetchVersion, fetchByStage, describeCurrentVersion, fetchParametersByPath };
}
