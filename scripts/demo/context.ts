// What the demo's steps share: where things are, what was started (so it can be stopped), and the
// objects the steps create. Each step is one small module: run(ctx) fills in what later steps need.
import path from 'node:path';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { KubeConfig } from '@kubernetes/client-node';
import type { RunningController } from '../local/piggy-controller.ts';
import { repoRoot } from '../local/procs.ts';
import type { StackInfo } from '../local/stack.ts';

export const DEMO_DIR = path.join(repoRoot, '.local', 'demo');
export const SHARED_STACK_DIR = path.join(repoRoot, '.local');
export const NAMESPACE = 'demo';
/** The Secrets Manager secret and the AWSSecret (and so the generated Secret). */
export const AWS_SECRET_NAME = 'demo/database';
export const AWSSECRET_NAME = 'database';
export const DEPLOYMENT_NAME = 'web';
/** The opt-in annotation of version-pinned rollouts, and the pod template annotation piggy writes. */
export const RESTART_ANNOTATION = 'piggysec.com/restart-on-awssecret';
export const ROLLOUT_ANNOTATION = `awssecret.piggysec.com/${AWSSECRET_NAME}`;

export interface DemoOptions {
  /** Leave the controller and the stack running at the end. */
  readonly keep: boolean;
}

export interface DemoStack {
  readonly info: StackInfo;
  /** True when this run started it (and so stops it); false for a reused `npm run local -- up` stack. */
  readonly owned: boolean;
}

export interface DemoContext {
  readonly options: DemoOptions;
  readonly startedAt: number;
  /** Aborted on SIGINT/SIGTERM. */
  readonly signal: AbortSignal;
  /** Set by the steps, in order. */
  stack?: DemoStack;
  kc?: KubeConfig;
  secretsManager?: SecretsManagerClient;
  controller?: RunningController;
  /** VersionIds of demo/database, oldest first; the last is AWSCURRENT. */
  versions?: readonly string[];
  /** The AWSSecret manifest the demo applied (a copy of examples/awssecret.yaml). */
  manifest?: string;
  /** Hashes of the generated Secret's values before the bump (to say which keys changed). */
  valueDigests?: Readonly<Record<string, string>>;
}

/** A value a step needs from an earlier step; a missing one is a bug in the step order. */
export function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`demo step order: ${what} is not set yet`);
  return value;
}

export interface DemoStep {
  readonly title: string;
  run(ctx: DemoContext): Promise<void>;
}
