import type { KubeConfig, V1Secret } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import { createEventRecorder } from '../kube/events.ts';
import { startInformer, type RunningInformer } from '../kube/informer.ts';
import { startLeaderElection, type LeaderElection } from '../kube/leader-election.ts';
import { buildResourceClient } from '../kube/resources.ts';
import type { AccessPolicy } from '../shared/access-policy.ts';
import type { Logger } from '../shared/logger.ts';
import { API_VERSION, GROUP, KIND, MANAGED_SELECTOR, PLURAL, VERSION, keyOf, type AWSSecret } from './awssecret.ts';
import { createOperatorMetrics, type OperatorMetrics } from './operator-metrics.ts';
import { reconcileAWSSecret, type ReconcilerDeps, type SecretWrite, type VersionRef } from './reconciler.ts';
import { startRollouts } from './rollouts.ts';
import type { SourceValue } from './secret-data.ts';
import { UpdateChecker } from './update-check.ts';
import { WorkQueue } from './work-queue.ts';

export interface OperatorSettings {
  /** Watch one namespace only; undefined watches the whole cluster. */
  readonly watchNamespace: string | undefined;
  readonly policy: AccessPolicy;
  readonly defaultRegion: string | undefined;
  readonly concurrency: number;
  readonly recheckMs: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly updateCheckSchedule: string | undefined;
  readonly updateCheckJitterMs: number;
  /** Version-pinned rollouts (rollouts.ts): concurrent rollouts (default 5), per-rollout timeout (10 min), status poll (5 s). */
  readonly rolloutConcurrency?: number;
  readonly rolloutTimeoutMs?: number;
  readonly rolloutPollIntervalMs?: number;
  readonly lease: { readonly namespace: string; readonly name: string; readonly identity: string; readonly durationMs: number; readonly renewDeadlineMs: number; readonly retryPeriodMs: number };
}

export interface OperatorDeps {
  readonly kc: KubeConfig;
  readonly log: Logger;
  readonly registry: Registry;
  readonly fetchVersion: (ref: VersionRef) => Promise<SourceValue>;
  readonly describeCurrentVersion: (ref: { region: string; secretId: string }) => Promise<{ versionId: string }>;
  /** The data-hash key loader (src/kube/data-hash-key.ts). */
  readonly dataHashKey: () => Promise<Buffer>;
  readonly onVersionChanged?: (awsSecret: AWSSecret, versionIds: string) => void;
  readonly settings: OperatorSettings;
}

export interface Operator {
  isLeader(): boolean;
  stop(): Promise<void>;
}

const CRD = { group: GROUP, version: VERSION, plural: PLURAL };

/** Runs the reconciler while this process holds the lease: informers feed a keyed work queue. */
export function startOperator(deps: OperatorDeps): Operator {
  const metrics = createOperatorMetrics(deps.registry);
  let running: { stop(): Promise<void> } | undefined;
  let transition = Promise.resolve();
  const election: LeaderElection = startLeaderElection({
    kc: deps.kc,
    ...deps.settings.lease,
    leaseDurationMs: deps.settings.lease.durationMs,
    log: deps.log,
    onStartedLeading: () => {
      metrics.leader.set(1);
      transition = transition.then(() => {
        running = startReconciling(deps, metrics);
      });
    },
    onStoppedLeading: () => {
      metrics.leader.set(0);
      transition = transition.then(async () => {
        await running?.stop();
        running = undefined;
      });
    },
  });
  return {
    isLeader: () => election.isLeader(),
    stop: async () => {
      await election.stop();
      await transition;
      await running?.stop();
    },
  };
}

function ownerKey(secret: V1Secret): string | undefined {
  const owner = secret.metadata?.ownerReferences?.find((ref) => ref.kind === KIND && ref.apiVersion.startsWith(`${GROUP}/`));
  const namespace = secret.metadata?.namespace;
  const name = owner?.name ?? secret.metadata?.name;
  return namespace === undefined || name === undefined ? undefined : keyOf(namespace, name);
}

function startReconciling(deps: OperatorDeps, metrics: OperatorMetrics): { stop(): Promise<void> } {
  const client = buildResourceClient(deps.kc);
  const events = createEventRecorder(deps.kc, 'piggy', deps.log);
  const { settings } = deps;
  const rollouts = startRollouts({
    kc: deps.kc,
    events,
    log: deps.log,
    metrics,
    settings: { concurrency: settings.rolloutConcurrency, timeoutMs: settings.rolloutTimeoutMs, pollIntervalMs: settings.rolloutPollIntervalMs },
  });
  const scope = settings.watchNamespace === undefined ? '' : `namespaces/${settings.watchNamespace}/`;
  // eslint-disable-next-line prefer-const -- assigned once the queue that uses it exists
  let reconcilerDeps: ReconcilerDeps;
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
  const awsSecrets: RunningInformer<AWSSecret> = startInformer<AWSSecret>({
    kc: deps.kc,
    name: 'awssecrets',
    path: `/apis/${API_VERSION}/${scope}${PLURAL}`,
    list: () => client.listCustomObjects<AWSSecret>(CRD, settings.watchNamespace),
    log: deps.log,
    handlers: {
      onAdd: enqueue,
      onUpdate: (object: AWSSecret, previous: AWSSecret | undefined) => {
        if (previous?.metadata.generation !== object.metadata.generation || object.metadata.deletionTimestamp !== undefined) enqueue(object);
      },
      onDelete: (object: AWSSecret) => {
        const key = keyOf(object.metadata.namespace, object.metadata.name);
        queue.forget(key);
        checker.forget(key);
      },
    },
  });
  // The resourceVersion of each Secret this process last wrote: the watch event of our own write
  // needs no reconcile (it would only see a stale AWSSecret in the cache and conflict).
  const ownWrites = new Map<string, string>();
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
  const onSecretDeleted = (secret: V1Secret): void => {
    const key = ownerKey(secret);
    if (key !== undefined) queue.add(key);
  };
  const secrets: RunningInformer<V1Secret> = startInformer({
    kc: deps.kc,
    name: 'secrets',
    path: `/api/v1/${scope}secrets`,
    labelSelector: MANAGED_SELECTOR,
    list: () => client.listSecrets(MANAGED_SELECTOR, settings.watchNamespace),
    log: deps.log,
    handlers: { onAdd: onSecret, onUpdate: onSecret, onDelete: onSecretDeleted },
  });
  const checker = new UpdateChecker({
    defaultSchedule: settings.updateCheckSchedule,
    maxJitterMs: settings.updateCheckJitterMs,
    describeCurrentVersion: deps.describeCurrentVersion,
    log: deps.log,
    metrics,
  });
  reconcilerDeps = {
    getAWSSecret: (namespace, name) => awsSecrets.get(name, namespace),
    getSecret: (namespace, name) => secrets.get(name, namespace),
    fetchSecret: (namespace, name) => client.readSecret(namespace, name),
    writeSecret: async (action, desired, existing) => {
      const written = await writeSecret(client, metrics, action, desired, existing);
      const { namespace, name } = desired.metadata ?? {};
      if (written !== undefined && namespace !== undefined && name !== undefined) ownWrites.set(keyOf(namespace, name), written);
    },
    patchStatus: (awsSecret, status) =>
      client.patchStatus(CRD, awsSecret.metadata.namespace, awsSecret.metadata.name, awsSecret.metadata.resourceVersion, status),
    fetchVersion: deps.fetchVersion,
    dataHashKey: deps.dataHashKey,
    recordEvent: (awsSecret, type, reason, message) =>
      events.record(
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
  // Reconcile only once both caches hold the cluster's state, so a restart never mistakes a
  // not-yet-listed Secret for a missing one (which would cost AWS calls).
  void Promise.all([awsSecrets.synced, secrets.synced]).then(() => {
    queue.start();
    rollouts.resync(awsSecrets.list());
    deps.log.info({ awsSecrets: awsSecrets.list().length, secrets: secrets.list().length }, 'caches synced, reconciling');
  });
  deps.log.info('reconciler started');
  return {
    stop: async () => {
      await Promise.all([awsSecrets.stop(), secrets.stop()]);
      await queue.stop();
      await rollouts.stop();
      deps.log.info('reconciler stopped');
    },
  };
}

async function writeSecret(
  client: ReturnType<typeof buildResourceClient>,
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
