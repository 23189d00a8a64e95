import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../shared/logger.ts';
import { isConflict, isNotFound } from './errors.ts';

export interface LeaderElectionOptions {
  readonly kc: KubeConfig;
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly log: Logger;
  readonly onStartedLeading: () => void;
  readonly onStoppedLeading: () => void;
}

export interface LeaderElection {
  isLeader(): boolean;
  /** Stops campaigning; a leader releases the lease so another replica takes over at once. */
  stop(): Promise<void>;
}

/**
 * Leader election on a coordination.k8s.io Lease (client-go's algorithm): the holder renews every
 * retry period; others take over once the lease has not been renewed for its duration, measured
 * on their own clock from when they last saw it change (no clock-skew assumptions).
 */
export function startLeaderElection(options: LeaderElectionOptions): LeaderElection {
  const api = options.kc.makeApiClient(CoordinationV1Api);
  const { namespace, name, identity } = options;
  let leader = false;
  let stopped = false;
  const isStopped = (): boolean => stopped;
  let lastRenewed = 0;
  let observed: { record: string; at: number } | undefined;
  let timer: NodeJS.Timeout | undefined;
  const durationSeconds = Math.max(1, Math.round(options.leaseDurationMs / 1000));

  const spec = (lease: V1Lease | undefined, now: number, takeOver: boolean) => ({
    holderIdentity: identity,
    leaseDurationSeconds: durationSeconds,
    acquireTime: takeOver ? new V1MicroTime(now) : lease?.spec?.acquireTime,
    renewTime: new V1MicroTime(now),
    leaseTransitions: (lease?.spec?.leaseTransitions ?? 0) + (takeOver && lease !== undefined ? 1 : 0),
  });

  const setLeader = (value: boolean): void => {
    if (value === leader) return;
    leader = value;
    options.log.info({ lease: `Lease/${namespace}/${name}`, identity }, value ? 'leadership acquired' : 'leadership lost');
    if (value) options.onStartedLeading();
    else options.onStoppedLeading();
  };

  async function tryAcquireOrRenew(): Promise<boolean> {
    const now = Date.now();
    let lease: V1Lease;
    try {
      lease = await api.readNamespacedLease({ name, namespace });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: spec(undefined, now, true) } });
      return true;
    }
    const holder = lease.spec?.holderIdentity ?? '';
    const record = `${holder}|${String(lease.spec?.renewTime?.valueOf() ?? '')}`;
    if (observed?.record !== record) observed = { record, at: now };
    const expired = holder === '' || now - observed.at > (lease.spec?.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (holder !== identity && !expired) return false;
    lease.spec = spec(lease, now, holder !== identity);
    await api.replaceNamespacedLease({ name, namespace, body: lease });
    return true;
  }

  async function tick(): Promise<void> {
    if (stopped) return;
    try {
      const held = await tryAcquireOrRenew();
      if (held) lastRenewed = Date.now();
      setLeader(held);
    } catch (error) {
      if (!isConflict(error)) options.log.warn({ err: error, lease: `Lease/${namespace}/${name}` }, 'lease update failed');
      if (leader && Date.now() - lastRenewed > options.renewDeadlineMs) setLeader(false);
    }
    if (!isStopped()) timer = setTimeout(run, options.retryPeriodMs);
  }

  let inFlight: Promise<void> = Promise.resolve();
  function run(): void {
    inFlight = tick();
  }

  run();
  return {
    isLeader: () => leader,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      // A renewal still in flight would re-take the lease after the release below.
      await inFlight;
      if (!leader) return;
      setLeader(false);
      try {
        const lease = await api.readNamespacedLease({ name, namespace });
        if (lease.spec?.holderIdentity !== identity) return;
        lease.spec = Object.assign(lease.spec ?? {}, { holderIdentity: '', leaseDurationSeconds: 1, renewTime: new V1MicroTime(Date.now()) });
        await api.replaceNamespacedLease({ name, namespace, body: lease });
        options.log.info({ lease: `Lease/${namespace}/${name}` }, 'lease released');
      } catch (error) {
        options.log.warn({ err: error }, 'lease release failed');
      }
    },
  };
}
