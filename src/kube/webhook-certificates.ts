/**
 * The webhook's TLS, managed by the controller when the operator supplies none (cert-manager is the
 * alternative, docs/cert-manager.md). One Secret holds a CA and a serving certificate; every replica:
 *
 * - reads it, and creates it when missing (create-or-conflict: the replica that loses the create race
 *   re-reads and adopts the winner's, so replicas starting together converge on ONE CA);
 * - renews and rotates it as planRotation decides (webhook-cert-plan.ts has the sequence), writing
 *   with the resourceVersion it read, so concurrent writers conflict instead of overwriting;
 * - writes tls.crt / tls.key (0600) / ca.crt into `certDir` atomically for the HTTPS listener, which
 *   reloads changed files;
 * - keeps the MutatingWebhookConfiguration's caBundle equal to the trust bundle.
 *
 * It syncs at start, whenever the Secret changes (a watch on that one name), when the next rotation
 * step is due, and every `checkIntervalMs` (someone may have overwritten the caBundle). Private keys
 * are never logged: log lines carry names, times and certificate fingerprints only.
 */
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { writeFilesAtomically } from '../shared/atomic-files.ts';
import { AppError, isAppError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import { classifyKubeError, isConflict, isNotFound } from './errors.ts';
import { buildTimeoutOptions } from './request-timeout.ts';
import { watchByName } from './watch-by-name.ts';
import { applyCaBundle } from './webhook-ca-bundle.ts';
import { DEFAULT_ROTATION_POLICY, buildNextState, buildServingNames, checkRotationPolicy, describeState, planRotation, type RotationPolicy } from './webhook-cert-plan.ts';
import { buildTlsSecret, buildTrustBundle, isManagedTlsSecret, parseTlsSecret, type WebhookTlsState } from './webhook-cert-state.ts';

export interface WebhookCertificatesOptions {
  readonly kc: KubeConfig;
  readonly namespace: string;
  readonly secretName: string;
  readonly serviceName: string;
  readonly webhookConfigurationName: string;
  readonly certDir: string;
  readonly log: Logger;
  /** Epoch ms; tests pass their own clock. */
  readonly now?: () => number;
  readonly validity?: { readonly caMs: number; readonly servingMs: number };
  readonly renewBefore?: { readonly caMs: number; readonly servingMs: number };
  readonly caOverlapMs?: number;
  /** Extra SANs (tests: localhost, 127.0.0.1). */
  readonly extraDnsNames?: readonly string[];
  readonly extraIpAddresses?: readonly string[];
  readonly checkIntervalMs?: number;
  /** Deadline of each API request (default 10 s): a hung API server never stalls the renewals. */
  readonly requestTimeoutMs?: number;
  /** How long start() retries transient failures before giving up. */
  readonly startTimeoutMs?: number;
}

export interface WebhookCertificates {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  /** The trust bundle (PEM, one or more CAs) the webhook injects into pods. */
  caBundle(): string;
  /** Syncs now (after the current sync, if one runs). */
  sync(): Promise<void>;
  stop(): Promise<void>;
}

export const CA_COMMON_NAME = 'piggy-webhook-ca';
const MAX_STEPS = 8;

export async function startWebhookCertificates(options: WebhookCertificatesOptions): Promise<WebhookCertificates> {
  const policy = buildPolicy(options);
  const now = options.now ?? Date.now;
  const log = options.log.child({ secret: `Secret/${options.namespace}/${options.secretName}`, webhookConfiguration: options.webhookConfigurationName });
  const core = options.kc.makeApiClient(CoreV1Api);
  const names = buildServingNames(options.serviceName, options.namespace, options.extraDnsNames, options.extraIpAddresses);
  const files = { certFile: join(options.certDir, 'tls.crt'), keyFile: join(options.certDir, 'tls.key'), caFile: join(options.certDir, 'ca.crt') };
  const checkIntervalMs = options.checkIntervalMs ?? 60_000;
  const timeout = buildTimeoutOptions(options.requestTimeoutMs ?? 10_000);
  let current: WebhookTlsState | undefined;
  let writtenFingerprint = '';
  let seenResourceVersion: string | undefined;

  const readSecret = async (): Promise<V1Secret | undefined> => {
    try {
      return await core.readNamespacedSecret({ namespace: options.namespace, name: options.secretName }, timeout);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw classifyKubeError(error, 'read', `Secret/${options.namespace}/${options.secretName}`);
    }
  };

  /** Publishes the bundle; false when the configuration could not be confirmed to trust it. */
  let lastOutcome = '';
  const publish = async (bundle: string): Promise<boolean> => {
    let outcome: string;
    try {
      outcome = await applyCaBundle(options.kc, options.webhookConfigurationName, bundle, options.requestTimeoutMs ?? 10_000);
      if (outcome === 'patched') log.info('webhook configuration ca bundle updated');
      if (outcome === 'missing' && lastOutcome !== 'missing') log.warn('webhook configuration not found, ca bundle not published');
    } catch (error) {
      outcome = 'failed';
      log.warn({ err: error, code: isAppError(error) ? error.code : undefined }, 'webhook configuration ca bundle not published');
    }
    lastOutcome = outcome;
    return outcome !== 'failed';
  };

  const adopt = async (state: WebhookTlsState): Promise<void> => {
    const fingerprint = `${state.serving.cert.fingerprint}/${buildTrustBundle(state)}`;
    if (fingerprint !== writtenFingerprint) {
      try {
        await writeFilesAtomically(options.certDir, {
          'tls.crt': { content: state.serving.cert.pem, mode: 0o644 },
          'tls.key': { content: state.serving.keyPem, mode: 0o600 },
          'ca.crt': { content: buildTrustBundle(state), mode: 0o644 },
        });
      } catch (cause) {
        throw new AppError('ERR_WEBHOOK_CERT_FILES', 'cannot write the webhook certificate files', { kind: 'transient', cause, details: { certDir: options.certDir } });
      }
      writtenFingerprint = fingerprint;
      log.info({ serving: state.serving.cert.fingerprint, notAfter: new Date(state.serving.cert.notAfter).toISOString(), cas: 1 + state.retired.length + (state.next ? 1 : 0) }, 'webhook certificate files written');
    }
    current = state;
  };

  /** One pass: read, publish, plan, write (repeating after each step); returns when to look again. */
  const syncOnce = async (): Promise<number> => {
    for (let step = 0; step < MAX_STEPS; step += 1) {
      const secret = await readSecret();
      if (secret !== undefined && !isManagedTlsSecret(secret)) {
        throw new AppError('ERR_WEBHOOK_CERT_FOREIGN_SECRET', 'the webhook certificate Secret exists and is not managed by piggy (use WEBHOOK_CERT_MANAGEMENT=files for certificates from elsewhere)', {
          details: { namespace: options.namespace, name: options.secretName },
        });
      }
      seenResourceVersion = secret?.metadata?.resourceVersion;
      const parsed = secret === undefined ? undefined : parseTlsSecret(secret);
      if (parsed?.ok === false) log.warn({ problem: parsed.problem }, 'webhook certificate secret unusable, replacing it');
      const state = parsed?.ok === true ? parsed.state : undefined;
      const published = state === undefined ? false : await publish(buildTrustBundle(state));
      const at = now();
      const action = planRotation(describeState(state, names, at, published), policy);
      if (action.kind === 'none') {
        if (state === undefined) throw new Error('unreachable: no state and nothing to do');
        await adopt(state);
        return action.nextCheckAt;
      }
      const next = buildNextState(state, action, { now: at, policy, names, caName: CA_COMMON_NAME });
      const body = buildTlsSecret(next, options.namespace, options.secretName);
      if (secret?.metadata !== undefined) body.metadata = keepForeignMetadata(secret, body);
      try {
        if (secret === undefined) await core.createNamespacedSecret({ namespace: options.namespace, body }, timeout);
        else await core.replaceNamespacedSecret({ namespace: options.namespace, name: options.secretName, body }, timeout);
        log.info({ action: action.kind, reason: action.reason, signer: next.signer.cert.fingerprint, serving: next.serving.cert.fingerprint }, 'webhook certificates rotated');
      } catch (error) {
        if (isConflict(error)) {
          log.debug({ action: action.kind }, 'webhook certificate secret changed concurrently, re-reading');
          continue;
        }
        throw classifyKubeError(error, secret === undefined ? 'create' : 'update', `Secret/${options.namespace}/${options.secretName}`);
      }
    }
    throw new AppError('ERR_WEBHOOK_CERT_CONFLICT', 'the webhook certificate Secret kept changing during one sync', { kind: 'transient', details: { steps: MAX_STEPS } });
  };

  await startupSync(syncOnce, options.startTimeoutMs ?? 120_000, log);
  const loop = startSyncLoop({ syncOnce, now, checkIntervalMs, log });
  const stopWatch = watchByName({
    kc: options.kc,
    path: `/api/v1/namespaces/${options.namespace}/secrets`,
    name: options.secretName,
    log,
    onEvent: (resourceVersion) => {
      if (resourceVersion !== seenResourceVersion) loop.trigger();
    },
  });
  log.info({ certDir: options.certDir }, 'webhook certificates ready');
  return {
    ...files,
    caBundle: () => (current === undefined ? '' : buildTrustBundle(current)),
    sync: () => loop.runNow(),
    stop: async () => {
      stopWatch();
      await loop.stop();
    },
  };
}

function buildPolicy(options: WebhookCertificatesOptions): RotationPolicy {
  const policy: RotationPolicy = {
    caValidityMs: options.validity?.caMs ?? DEFAULT_ROTATION_POLICY.caValidityMs,
    servingValidityMs: options.validity?.servingMs ?? DEFAULT_ROTATION_POLICY.servingValidityMs,
    caRenewBeforeMs: options.renewBefore?.caMs ?? DEFAULT_ROTATION_POLICY.caRenewBeforeMs,
    servingRenewBeforeMs: options.renewBefore?.servingMs ?? DEFAULT_ROTATION_POLICY.servingRenewBeforeMs,
    caOverlapMs: options.caOverlapMs ?? DEFAULT_ROTATION_POLICY.caOverlapMs,
  };
  const problems = checkRotationPolicy(policy);
  if (problems.length > 0) throw new AppError('ERR_WEBHOOK_CERT_POLICY', `invalid certificate rotation settings: ${problems.join('; ')}`, { details: { problems } });
  return policy;
}

/** Our labels and annotations win; anything others added to the Secret's metadata is kept. */
function keepForeignMetadata(existing: V1Secret, desired: V1Secret): NonNullable<V1Secret['metadata']> {
  const ours = desired.metadata ?? {};
  const drop = (map: Record<string, string> | undefined): Record<string, string> =>
    Object.fromEntries(Object.entries(map ?? {}).filter(([key]) => !key.startsWith('piggysec.com/ca-')));
  return {
    name: ours.name,
    namespace: ours.namespace,
    resourceVersion: existing.metadata?.resourceVersion,
    labels: { ...existing.metadata?.labels, ...ours.labels },
    annotations: { ...drop(existing.metadata?.annotations), ...ours.annotations },
  };
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

async function startupSync(syncOnce: () => Promise<number>, timeoutMs: number, log: Logger): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt += 1) {
    try {
      await syncOnce();
      return;
    } catch (error) {
      const transient = !isAppError(error) || error.kind === 'transient';
      if (!transient || Date.now() >= deadline) throw error;
      log.warn({ err: error, attempt }, 'webhook certificates not ready yet, retrying');
      await delay(Math.min(5_000, 200 * 2 ** Math.min(attempt, 5)));
    }
  }
}

interface SyncLoop {
  trigger(): void;
  runNow(): Promise<void>;
  stop(): Promise<void>;
}

/** Serialised syncs: at most one at a time, the next one scheduled at the due time or the interval. */
function startSyncLoop(deps: { syncOnce: () => Promise<number>; now: () => number; checkIntervalMs: number; log: Logger }): SyncLoop {
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<void> = Promise.resolve();
  let stopped = false;
  let failures = 0;
  const schedule = (ms: number): void => {
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(() => void run(), Math.max(0, ms));
  };
  const run = (): Promise<void> => {
    chain = chain.then(async () => {
      if (stopped) return;
      try {
        const dueAt = await deps.syncOnce();
        failures = 0;
        schedule(Math.max(1_000, Math.min(deps.checkIntervalMs, dueAt - deps.now())));
      } catch (error) {
        failures += 1;
        deps.log.error({ err: error, code: isAppError(error) ? error.code : undefined, failures }, 'webhook certificate sync failed');
        schedule(Math.min(deps.checkIntervalMs, 1_000 * 2 ** Math.min(failures, 6)));
      }
    });
    return chain;
  };
  schedule(deps.checkIntervalMs);
  return {
    trigger: () => schedule(0),
    runNow: run,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await chain;
    },
  };
}
