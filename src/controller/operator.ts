import type { KubeConfig } from '@kubernetes/client-node';
import { startLeaderElection, type LeaderElection } from '../kube/leader-election.ts';
import { startReconcileTerm, type Term, type TermDeps, type TermSettings } from './reconcile-term.ts';

export interface OperatorSettings extends TermSettings {
  readonly lease: { readonly namespace: string; readonly name: string; readonly identity: string; readonly durationMs: number; readonly renewDeadlineMs: number; readonly retryPeriodMs: number };
}

/** Everything the operator uses, built by the composition root (main.ts) and passed in. */
export interface OperatorDeps extends TermDeps {
  /** For the watches and the Lease. */
  readonly kc: KubeConfig;
  readonly settings: OperatorSettings;
  /**
   * The operator's readiness, on every change: undefined when ready (leading with synced caches,
   * or standing by behind a leader the API server confirmed), else why not.
   */
  readonly onReadiness?: (problem: string | undefined) => void;
}

export interface Operator {
  isLeader(): boolean;
  stop(): Promise<void>;
}

const STARTING = 'lease not tried yet';
const SYNCING = 'caches syncing';
/** Reasons every start passes through: not worth a warning. */
const TRANSITIONAL = new Set([STARTING, SYNCING]);

/** Runs the reconciler while this process holds the lease: informers feed a keyed work queue. */
export function startOperator(deps: OperatorDeps): Operator {
  const { metrics } = deps;
  let running: Term | undefined;
  let transition = Promise.resolve();
  let term = 0;
  let leaseProblem: string | undefined = STARTING;
  let syncProblem: string | undefined;
  let leading = false;
  let reported: string | undefined = STARTING;
  const report = (): void => {
    const problem = leaseProblem ?? (leading ? syncProblem : undefined);
    if (problem === reported) return;
    reported = problem;
    if (problem === undefined) deps.log.info({ leader: leading }, 'operator ready');
    else deps.log[TRANSITIONAL.has(problem) ? 'debug' : 'warn']({ reason: problem }, 'operator not ready');
    deps.onReadiness?.(problem);
  };
  const election: LeaderElection = startLeaderElection({
    kc: deps.kc,
    ...deps.settings.lease,
    leaseDurationMs: deps.settings.lease.durationMs,
    log: deps.log,
    onAttempt: (problem) => {
      leaseProblem = problem;
      report();
    },
    onStartedLeading: () => {
      metrics.leader.set(1);
      leading = true;
      const current = (term += 1);
      syncProblem = SYNCING;
      report();
      transition = transition.then(() => {
        if (current !== term) return;
        running = startReconcileTerm(deps, (problem) => {
          if (current !== term) return;
          syncProblem = problem;
          report();
        });
      });
    },
    onStoppedLeading: () => {
      metrics.leader.set(0);
      leading = false;
      term += 1;
      report();
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
