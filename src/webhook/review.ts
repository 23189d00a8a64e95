/**
 * handleAdmission: parse → decide → plan (lookups, image configs) → mutate a copy → JSON patch →
 * AdmissionReview. Never throws: every failure is an answer, logged once, with names but no values.
 */
import { randomUUID } from 'node:crypto';
import type { AnnotationDefaults } from '../config/annotations.ts';
import { buildContainerUid, type LauncherDelivery } from '../shared/injection-contract.ts';
import type { Logger } from '../shared/logger.ts';
import { buildAllowed, buildDenied, parseAdmissionReview, type AdmissionReview } from './admission.ts';
import { REASONS, decideAdmission, type Reason } from './decide.ts';
import { diffJson } from './json-patch.ts';
import type { WebhookMetrics } from './metrics.ts';
import { buildMutatedPod, type ProxyTokenSettings } from './mutate.ts';
import { planMutation, type PlanDeps } from './plan.ts';
import { podDisplayName } from './pod.ts';

export interface WebhookDeps extends PlanDeps {
  /** Controller-wide annotation defaults (parseAnnotationDefaults). */
  readonly defaults: AnnotationDefaults;
  /** The PEM the launcher trusts for the controller's certificate; read per admission (it rotates). */
  readonly caBundle?: () => string | undefined;
  /** The projected token mounted for the launcher in proxy mode (PROXY_TOKEN_AUDIENCE, PROXY_TOKEN_EXPIRATION). */
  readonly proxyToken?: ProxyTokenSettings;
  /** What piggy-env-delivery `auto` means now, asked per admission (it settles once the API server's version is known); default init-container. */
  readonly launcherDelivery?: () => LauncherDelivery;
  /** A fresh container uid (32 hex); random by default. */
  readonly newUid?: () => string;
  readonly log: Logger;
  readonly metrics?: WebhookMetrics;
  /** Budget for lookups and image reads, well inside the API server's webhook timeout. Default 8000. */
  readonly deadlineMs?: number;
}

export const WEBHOOK_ERRORS = {
  malformed: 'ERR_WEBHOOK_MALFORMED',
  invalidPod: 'ERR_WEBHOOK_INVALID_POD',
  unavailable: 'ERR_WEBHOOK_UNAVAILABLE',
  internal: 'ERR_WEBHOOK_INTERNAL',
} as const;

/** The controller's defaults (config.ts): piggy's audience, the kubelet's shortest expiry. */
const DEFAULT_PROXY_TOKEN: ProxyTokenSettings = { audience: 'piggysec.com', expirationSeconds: 600 };

export type AdmissionResult = 'mutated' | 'allowed' | 'denied' | 'malformed' | 'error';

/** Answers one review body (raw bytes, text or parsed JSON). */
export async function handleAdmission(body: unknown, deps: WebhookDeps): Promise<AdmissionReview> {
  const started = process.hrtime.bigint();
  const record = (result: AdmissionResult, review: AdmissionReview) => {
    deps.metrics?.admissions.inc({ result });
    deps.metrics?.duration.observe({ result }, Number(process.hrtime.bigint() - started) / 1e9);
    return review;
  };
  const parsed = parseAdmissionReview(body);
  if (!parsed.ok) {
    deps.log.warn({ code: WEBHOOK_ERRORS.malformed, uid: parsed.uid, problem: parsed.message }, 'malformed admission review');
    return record('malformed', buildDenied(parsed.uid, 400, `piggy: ${parsed.message}`, 'BadRequest'));
  }
  const { request } = parsed;
  try {
    const target = `${request.resource.resource}/${request.namespace ?? ''}/${request.name ?? ''}`;
    return await review(request.uid, target, () => decideAdmission(request, deps.defaults), deps, record);
  } catch (error) {
    deps.log.error({ err: error, code: WEBHOOK_ERRORS.internal, uid: request.uid }, 'admission failed');
    return record('error', buildDenied(request.uid, 500, 'piggy: internal error while reviewing the pod (see the controller log)', 'InternalError'));
  }
}

async function review(
  uid: string,
  target: string,
  decide: () => ReturnType<typeof decideAdmission>,
  deps: WebhookDeps,
  record: (result: AdmissionResult, review: AdmissionReview) => AdmissionReview,
): Promise<AdmissionReview> {
  const decision = decide();
  if (decision.action === 'allow') {
    deps.log.debug({ uid, object: target, reasons: decision.reasons }, 'admission allowed');
    return record('allowed', buildAllowed(uid));
  }
  if (decision.action === 'deny') {
    deps.log.info({ uid, object: target, code: WEBHOOK_ERRORS.invalidPod, reasons: decision.reasons }, 'admission denied');
    return record('denied', buildDenied(uid, decision.code, decision.message, 'Invalid'));
  }
  const { pod, namespace, config } = decision;
  const name = podDisplayName(pod, namespace);
  // A referenced timer (AbortSignal.timeout's is unref'd): the deadline fires even in an idle process.
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), deps.deadlineMs ?? 8000);
  const plan = await planMutation(pod, namespace, config, decision, deps, deadline.signal).finally(() => clearTimeout(timer));
  const reasons: Reason[] = [...decision.reasons, ...plan.reasons];
  if (!plan.ok) {
    const code = plan.code >= 500 ? WEBHOOK_ERRORS.unavailable : WEBHOOK_ERRORS.invalidPod;
    deps.log.info({ uid, pod: name, code, status: plan.code, reasons }, 'admission denied');
    return record('denied', buildDenied(uid, plan.code, plan.message, plan.code >= 500 ? 'ServiceUnavailable' : 'Invalid'));
  }
  const warnings = [...decision.warnings, ...plan.warnings];
  const newUid = deps.newUid ?? (() => buildContainerUid(randomUUID()));
  const mutated = buildMutatedPod({
    pod,
    namespace,
    config,
    proxyToken: deps.proxyToken ?? DEFAULT_PROXY_TOKEN,
    wraps: plan.wraps,
    envImage: config.envImage ?? '',
    delivery: config.envDelivery === 'auto' ? (deps.launcherDelivery?.() ?? 'init-container') : config.envDelivery,
    caBundle: config.standalone ? undefined : deps.caBundle?.(),
    filePlan: plan.filePlan,
    newUid,
  });
  const patch = diffJson(pod, mutated.pod);
  if (patch.length === 0) {
    deps.log.info({ uid, pod: name, reasons: [...reasons, { code: REASONS.unchanged }] }, 'admission allowed');
    return record('allowed', buildAllowed(uid, undefined, warnings));
  }
  const containers = mutated.wrapped.map((item) => item.key);
  deps.log.info({ uid, pod: name, containers, operations: patch.length, reasons }, 'pod mutated');
  return record('mutated', buildAllowed(uid, patch, warnings));
}
