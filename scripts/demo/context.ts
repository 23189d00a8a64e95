// What the demo's steps share: where things are, what was started (so it can be stopped), and the
// objects the steps create. Each step is one small module: run(ctx) fills in what later steps need.
import path from 'node:path';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { KubeConfig } from '@kubernetes/client-node';
import type { RunningController } from '../local/piggy-controller.ts';
import { repoRoot } from '../local/procs.ts';
import type { StackInfo } from '../local/stack.ts';

export const DEMO_DIR = path.join(repoRoot, '.local', 'demo');
export const NAMESPACE = 'demo';
/** The Secrets Manager secret and the AWSSecret (and so the generated Secret). */
export const AWS_SECRET_NAME = 'demo/database';
export const AWSSECRET_NAME = 'database';
export const DEPLOYMENT_NAME = 'web';
/** The injection step's Pods: proxy mode, standalone mode. */
export const PROXY_POD = 'proxy-app';
export const STANDALONE_POD = 'standalone-app';
export const DEMO_PODS = [PROXY_POD, STANDALONE_POD] as const;
/** The demo's MutatingWebhookConfiguration (the demo namespace only). */
export const WEBHOOK_CONFIGURATION = 'piggy-demo';
/** The opt-in annotation of version-pinned rollouts, and the pod template annotation piggy writes. */
export const RESTART_ANNOTATION = 'piggysec.com/restart-on-awssecret';
export const ROLLOUT_ANNOTATION = `awssecret.piggysec.com/${AWSSECRET_NAME}`;

export interface DemoOptions {
  /** Leave the controller and the stack running at the end. */
  readonly keep: boolean;
}

export interface DemoStack {
  readonly info: StackInfo;
  /** True when this run started it; false for the stack an earlier `--keep` run left (stopped all the same). */
  readonly started: boolean;
}

/** The images the pods run, in the stack's registry. */
export interface DemoImages {
  /** The piggy-env image by digest (PIGGY_ENV_IMAGE: the install-piggy-env init container). */
  readonly envImage: string;
  /** The busybox app image. */
  readonly appImage: string;
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
  images?: DemoImages;
  controller?: RunningController;
  /** VersionIds of demo/database, oldest first; the last is AWSCURRENT. */
  versions?: readonly string[];
  /** The AWSSecret manifest the demo applied (a copy of examples/awssecret.yaml). */
  manifest?: string;
  /** The pod of Deployment web before the bump. */
  webPod?: string;
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
