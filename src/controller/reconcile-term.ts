import type { KubeConfig, V1Secret } from '@kubernetes/client-node';
import type { EventRecorder } from '../kube/events.ts';
import { createInformer } from '../kube/informer.ts';
import type { ResourceClient } from '../kube/resources.ts';
import type { AccessPolicy } from '../shared/access-policy.ts';
import type { Logger } from '../shared/logger.ts';
import { API_VERSION, AWSSECRET_RESOURCE, GROUP, KIND, MANAGED_SELECTOR, PLURAL, keyOf, type AWSSecret } from './awssecret.ts';
import type { OperatorMetrics } from './operator-metrics.ts';
import { reconcileAWSSecret, type ReconcilerDeps, type SecretWrite, type VersionRef } from './reconciler.ts';
import type { Rollouts } from './rollouts.ts';
import type { SourceValue } from './secret-data.ts';
import { UpdateChecker } from './update-check.ts';
import { WorkQueue } from './work-queue.ts';

/** What one leadership term needs; every client is built by the composition root (main.ts). */
export interface TermDeps {
  /** For the watches only. */
  readonly kc: KubeConfig;
  readonly client: ResourceClient;
  readonly events: EventRecorder;
  readonly metrics: OperatorMetrics;
  /** A rollout component for this term (stopped when the term ends). */
  readonly startRollouts: () => Rollouts;
  readonly log: Logger;
  readonly fetchVersion: (ref: VersionRef) => Promise<SourceValue>;
  /** The data-hash key loader (src/kube/data-hash-key.ts). */
  readonly dataHashKey: () => Promise<Buffer>;
  readonly describeCurrentVersion: (ref: { region: string; secretId: string }) => Promise<{ versionId: string }>;
  readonly onVersionChanged?: (awsSecret: AWSSecret, versionIds: string) => void;
  readonly settings: TermSettings;
}

export interface TermSettings {
  readonly watchNamespace: string | undefined;
  readonly policy: AccessPolicy;
  readonly defaultRegion: string | undefined;
  readonly concurrency: number;
  readonly recheckMs: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly updateCheckSchedule: string | undefined;
  readonly updateCheckJitterMs: number;
  /** INFORMER_SYNC_TIMEOUT: a first sync not done by then is reported; each list call is bounded by it. */
  readonly syncTimeoutMs: number;
}

export interface Term {
  stop(): Promise<void>;
}

function ownerKey(secret: V1Secret): string | undefined {
  const owner = secret.metadata?.ownerReferences?.find((ref) => ref.kind === KIND && ref.apiVersion.startsWith(`${GROUP}/`));
  const namespace = secret.metadata?.namespace;
  const name = owner?.name ?? secret.metadata?.name;
  return namespace === undefined || name === undefined ? undefined : keyOf(namespace, name);
}

/**
 * One leadership term: two informers (AWSSecrets, managed Secrets) feed a keyed work queue that
 * starts only once both caches hold the cluster's state. `onSync` hears undefined once synced, and
 * the reason while the first sync is late (after `syncTimeoutMs`; the lists keep being retried).
 */
export function startReconcileTerm(deps: TermDeps, onSync: (problem: string | undefined) => void): Term {
  const { settings, client, metrics } = deps;
  const scope = settings.watchNamespace === undefined ? '' : `namespaces/${settings.watchNamespace}/`;
  const rollouts = deps.startRollouts();
  const awsSecrets = createInformer<AWSSecret>({
    kc: deps.kc,
    name: 'awssecrets',
    path: `/apis/${API_VERSION}/${scope}${PLURAL}`,
    list: (timeoutMs) => client.listCustomObjects<AWSSecret>(AWSSECRET_RESOURCE, settings.watchNamespace, timeoutMs),
    listTimeoutMs: settings.syncTimeoutMs,
    log: deps.log,
  });
  const secrets = createInformer<V1Secret>({
    kc: deps.kc,
    name: 'secrets',
    path: `/api/v1/${scope}secrets`,
    labelSelector: MANAGED_SELECTOR,
    list: (timeoutMs) => client.listSecrets(MANAGED_SELECTOR, settings.watchNamespace, timeoutMs),
    listTimeoutMs: settings.syncTimeoutMs,
    log: deps.log,
  });
  const checker = new UpdateChecker({
    defaultSchedule: settings.updateCheckSchedule,
    maxJitterMs: settings.updateCheckJitterMs,
    describeCurrentVersion: deps.describeCurrentVersion,
    log: deps.log,
    metrics,
  });
  // The resourceVersion of each Secret this process last wrote: the watch event of our own write
  // needs no reconcile (it would only see a stale AWSSecret in the cache and conflict).
  const ownWrites = new Map<string, string>();
  const reconcilerDeps: ReconcilerDeps = {
    getAWSSecret: (namespace, name) => awsSecrets.get(name, namespace),
    getSecret: (namespace, name) => secrets.get(name, namespace),
    fetchSecret: (namespace, name) => client.readSecret(namespace, name),
    writeSecret: async (action, desired, existing) => {
      const written = await writeSecret(client, metrics, action, desired, existing);
      const { namespace, name } = desired.metadata ?? {};
      if (written !== undefined && namespace !== undefined && name !== undefined) ownWrites.set(keyOf(namespace, name), written);
    },
    patchStatus: (awsSecret, status) =>
      client.patchStatus(AWSSECRET_RESOURCE, awsSecret.metadata.namespace, awsSecret.metadata.name, awsSecret.metadata.resourceVersion, status),
    fetchVersion: deps.fetchVersion,
    dataHashKey: deps.dataHashKey,
    recordEvent: (awsSecret, type, reason, message) =>
      deps.events.record(
        { apiVersion: API_VERSION, kind: KIND, name: awsSecret.metadata.name, namespace: awsSecret.metadata.namespace, uid: awsSecret.metadata.uid },
        type,
        reason,
        message,
      ),
    onVersionChanged: (awsSecret, versionIds) => {
      rollouts.notify(awsSecret, versionIds);
      deps.onVersionChanged?.(awsSecret, versionIds);
    },
    updateChecker: checker,
    policy: settings.policy,
    defaultRegion: settings.defaultRegion,
    recheckMs: settings.recheckMs,
    now: () => new Date(),
    log: deps.log,
    metrics,
  };
  const queue = new WorkQueue({
    concurrency: settings.concurrency,
    baseDelayMs: settings.retryBaseMs,
    maxDelayMs: settings.retryMaxMs,
    process: (key) => reconcileAWSSecret(reconcilerDeps, key),
    onDepthChange: (depth) => metrics.queueDepth.set(depth),
    paused: true,
  });
  const enqueue = (object: { metadata?: { namespace?: string; name?: string } }): void => {
    const { namespace, name } = object.metadata ?? {};
    if (namespace !== undefined && name !== undefined) queue.add(keyOf(namespace, name));
  };
  awsSecrets.start({
    onAdd: enqueue,
    onUpdate: (object, previous) => {
      if (previous?.metadata.generation !== object.metadata.generation || object.metadata.deletionTimestamp !== undefined) enqueue(object);
    },
    onDelete: (object) => {
      const key = keyOf(object.metadata.namespace, object.metadata.name);
      queue.forget(key);
      checker.forget(key);
    },
  });
  const onSecret = (secret: V1Secret): void => {
    const key = ownerKey(secret);
    if (key === undefined) return;
    const own = ownWrites.get(key);
    if (own !== undefined && own === secret.metadata?.resourceVersion) {
      ownWrites.delete(key);
      return;
    }
    queue.add(key);
  };
  secrets.start({
    onAdd: onSecret,
    onUpdate: onSecret,
    onDelete: (secret) => {
      const key = ownerKey(secret);
      if (key !== undefined) queue.add(key);
    },
  });
  const cancelSyncWatch = watchFirstSync(deps, { awsSecrets, secrets }, onSync, () => {
    queue.start();
    rollouts.resync(awsSecrets.list());
    deps.log.info({ awsSecrets: awsSecrets.list().length, secrets: secrets.list().length }, 'caches synced, reconciling');
  });
  deps.log.info('reconciler started');
  return {
    stop: async () => {
      cancelSyncWatch();
      await Promise.all([awsSecrets.stop(), secrets.stop()]);
      await queue.stop();
      await rollouts.stop();
      deps.log.info('reconciler stopped');
    },
  };
}

/**
 * Reconcile only once both caches hold the cluster's state, so a restart never mistakes a
 * not-yet-listed Secret for a missing one (which would cost AWS calls). A first sync slower than
 * the sync timeout is reported (and logged once) as the reason the operator is not ready.
 */
function watchFirstSync(
  deps: TermDeps,
  informers: Readonly<Record<string, { readonly synced: Promise<void> }>>,
  onSync: (problem: string | undefined) => void,
  onSynced: () => void,
): () => void {
  let cancelled = false;
  const pending = new Set(Object.keys(informers));
  for (const [name, informer] of Object.entries(informers)) void informer.synced.then(() => pending.delete(name));
  const late = setTimeout(() => {
    const problem = `caches not synced within ${deps.settings.syncTimeoutMs} ms (INFORMER_SYNC_TIMEOUT): ${[...pending].join(', ')} not listed yet; retrying`;
    deps.log.error({ code: 'ERR_OPERATOR_SYNC_TIMEOUT', pending: [...pending], syncTimeoutMs: deps.settings.syncTimeoutMs }, 'caches not synced in time');
    onSync(problem);
  }, deps.settings.syncTimeoutMs);
  late.unref();
  void Promise.all(Object.values(informers).map((informer) => informer.synced)).then(() => {
    clearTimeout(late);
    if (cancelled) return;
    onSynced();
    onSync(undefined);
  });
  return () => {
    cancelled = true;
    clearTimeout(late);
  };
}

async function writeSecret(
  client: ResourceClient,
  metrics: OperatorMetrics,
  action: SecretWrite,
  desired: V1Secret,
  existing: V1Secret | undefined,
): Promise<string | undefined> {
  let resourceVersion: string | undefined;
  if (action === 'create') resourceVersion = await client.createSecret(desired);
  else if (action === 'update') resourceVersion = await client.replaceSecret(desired, existing?.metadata?.resourceVersion);
  else {
    await client.deleteSecret(desired.metadata?.namespace ?? '', desired.metadata?.name ?? '', existing?.metadata?.uid);
    resourceVersion = await client.createSecret(desired);
  }
  metrics.secretWrites.inc({ action });
  return resourceVersion;
}
