import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../shared/logger.ts';
import { classifyKubeError, isConflict, isNotFound } from './errors.ts';
import { buildTimeoutOptions } from './request-timeout.ts';

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
  /**
   * After every attempt on the Lease: undefined when the API server answered (this replica leads,
   * or another one does), else why it could not (for readiness). A lost race (409) is an answer.
   */
  readonly onAttempt?: (problem: string | undefined) => void;
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
 *
 * client-go's contract holds even when a call hangs: every Lease call is bounded by the renew
 * deadline (a leader's by what is left of it), and a leader whose last successful renewal is older
 * than the renew deadline stops leading on a timer, whether or not its call has come back. With
 * renewDeadline < leaseDuration, it has stopped before any other replica can take over.
 */
export function startLeaderElection(options: LeaderElectionOptions): LeaderElection {
  const api = options.kc.makeApiClient(CoordinationV1Api);
  const { namespace, name, identity } = options;
  const object = `Lease/${namespace}/${name}`;
  let leader = false;
  let stopped = false;
  const isStopped = (): boolean => stopped;
  /** When the last successful renewal began (the others' clocks start later than that). */
  let lastRenewed = 0;
  let observed: { record: string; at: number } | undefined;
  let timer: NodeJS.Timeout | undefined;
  let deadline: NodeJS.Timeout | undefined;
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
    options.log.info({ lease: object, identity }, value ? 'leadership acquired' : 'leadership lost');
    if (value) options.onStartedLeading();
    else options.onStoppedLeading();
  };

  /** Leadership ends: no renewal succeeded within the renew deadline (the timer, or a call that failed at it). */
  const stepDown = (): void => {
    if (!leader) return;
    options.log.warn({ lease: object, identity, renewDeadlineMs: options.renewDeadlineMs }, 'lease not renewed within the renew deadline, stepping down');
    setLeader(false);
  };

  /** (Re-)arms the step-down timer from the last successful renewal. */
  const armDeadline = (): void => {
    clearTimeout(deadline);
    deadline = setTimeout(stepDown, Math.max(0, lastRenewed + options.renewDeadlineMs - Date.now()));
    deadline.unref();
  };

  async function tryAcquireOrRenew(started: number): Promise<boolean> {
    // A leader's calls get what is left of its renew deadline; a candidate's the whole deadline.
    const until = leader ? lastRenewed + options.renewDeadlineMs : started + options.renewDeadlineMs;
    const bounded = () => buildTimeoutOptions(Math.max(1, until - Date.now()));
    let lease: V1Lease;
    try {
      lease = await api.readNamespacedLease({ name, namespace }, bounded());
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: spec(undefined, started, true) } }, bounded());
      return true;
    }
    const holder = lease.spec?.holderIdentity ?? '';
    const record = `${holder}|${String(lease.spec?.renewTime?.valueOf() ?? '')}`;
    const now = Date.now();
    if (observed?.record !== record) observed = { record, at: now };
    const expired = holder === '' || now - observed.at > (lease.spec?.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (holder !== identity && !expired) return false;
    lease.spec = spec(lease, started, holder !== identity);
    await api.replaceNamespacedLease({ name, namespace, body: lease }, bounded());
    return true;
  }

  async function tick(): Promise<void> {
    if (stopped) return;
    const started = Date.now();
    try {
      // A renewal that came back after its deadline counts at the next tick, not now: the timer
      // may already have stepped down.
      const held = (await tryAcquireOrRenew(started)) && Date.now() - started < options.renewDeadlineMs;
      if (held) {
        lastRenewed = started;
        armDeadline();
      }
      if (!held && Date.now() - lastRenewed > options.renewDeadlineMs) stepDown();
      if (!isStopped()) setLeader(held);
      options.onAttempt?.(undefined);
    } catch (error) {
      if (isConflict(error)) options.onAttempt?.(undefined);
      else {
        options.log.warn({ err: error, lease: object }, 'lease update failed');
        options.onAttempt?.(classifyKubeError(error, 'acquire or renew', object).message);
      }
      // The call's own timeout (what was left of the deadline) can fire before the timer does.
      if (Date.now() - lastRenewed > options.renewDeadlineMs) stepDown();
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
      // A renewal still in flight would re-take the lease after the release below (it is bounded).
      await inFlight;
      clearTimeout(deadline);
      setLeader(false);
      // Released whenever it still names this replica, also after a step-down on the deadline.
      if (lastRenewed === 0) return;
      try {
        const timeout = buildTimeoutOptions(options.renewDeadlineMs);
        const lease = await api.readNamespacedLease({ name, namespace }, timeout);
        if (lease.spec?.holderIdentity !== identity) return;
        lease.spec = Object.assign(lease.spec ?? {}, { holderIdentity: '', leaseDurationSeconds: 1, renewTime: new V1MicroTime(Date.now()) });
        await api.replaceNamespacedLease({ name, namespace, body: lease }, buildTimeoutOptions(options.renewDeadlineMs));
        options.log.info({ lease: object }, 'lease released');
      } catch (error) {
        options.log.warn({ err: error }, 'lease release failed');
      }
    },
  };
}
