/**
 * When and how the webhook's certificates rotate. Pure decisions: plain facts and `now` in, one
 * action out; buildNextState applies it (the only impurity is fresh key material).
 *
 * Rotation without dropping a request:
 *
 * 1. Serving certificate near expiry (`servingRenewBefore`): a new one from the SAME signer CA. The
 *    trust bundle does not change, so neither does the webhook's caBundle nor what pods were given.
 * 2. Signer CA near expiry (`caRenewBefore`) → **stage**: a new CA is added to the trust bundle but
 *    signs nothing yet. Every replica publishes the two-CA bundle into the
 *    MutatingWebhookConfiguration, and pods admitted from now on receive both CAs.
 * 3. `caOverlap` after staging, once the webhook configuration is seen to trust the bundle →
 *    **promote**: the new CA becomes the signer and the serving certificate is re-issued by it.
 *    Clients trust both CAs, so the old and the new serving certificate are both accepted while the
 *    replicas pick up the new files.
 * 4. `caOverlap` after promoting → **retire**: the old CA leaves the bundle.
 *
 * A replica that fails to publish the bundle keeps the old signer (promotion waits) unless the old
 * CA is about to become unusable (`servingRenewBefore` left), in which case it promotes anyway.
 */
import { buildCertificateAuthority, buildServingCertificate, coversNames, parseCertificate } from '../shared/pki.ts';
import { isServingIssuedBySigner, type CaEntry, type WebhookTlsState } from './webhook-cert-state.ts';

export interface RotationPolicy {
  readonly caValidityMs: number;
  readonly servingValidityMs: number;
  readonly caRenewBeforeMs: number;
  readonly servingRenewBeforeMs: number;
  /** How long the bundle trusts both CAs before the switch, and after it. */
  readonly caOverlapMs: number;
}

const DAY = 24 * 60 * 60 * 1000;
export const DEFAULT_ROTATION_POLICY: RotationPolicy = {
  caValidityMs: 3650 * DAY,
  servingValidityMs: 365 * DAY,
  caRenewBeforeMs: 365 * DAY,
  servingRenewBeforeMs: 30 * DAY,
  caOverlapMs: 180 * DAY,
};

/** notBefore is backdated by this much, so a peer whose clock is a little behind accepts a new certificate. */
export const CLOCK_SKEW_MS = 5 * 60 * 1000;

/** The policy's problems (empty when usable). */
export function checkRotationPolicy(policy: RotationPolicy): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(policy)) if (!(Number.isFinite(value) && value > 0)) problems.push(`${name} must be a positive duration`);
  if (policy.servingRenewBeforeMs >= policy.servingValidityMs) problems.push('servingRenewBefore must be shorter than servingValidity');
  if (policy.caRenewBeforeMs >= policy.caValidityMs) problems.push('caRenewBefore must be shorter than caValidity');
  if (policy.caOverlapMs + policy.servingRenewBeforeMs >= policy.caRenewBeforeMs) problems.push('caOverlap + servingRenewBefore must be shorter than caRenewBefore');
  return problems;
}

/** The facts a decision needs, as plain numbers (epoch ms). */
export interface RotationFacts {
  readonly now: number;
  /** undefined: no usable Secret. */
  readonly signer: { readonly notAfter: number } | undefined;
  readonly serving: { readonly notAfter: number; readonly issuedBySigner: boolean; readonly coversNames: boolean } | undefined;
  readonly next: { readonly notAfter: number; readonly stagedAt: number } | undefined;
  readonly retired: { readonly count: number; readonly promotedAt: number };
  /** The webhook configuration's caBundle already equals the current trust bundle. */
  readonly bundlePublished: boolean;
}

export type RotationAction =
  | { readonly kind: 'none'; readonly nextCheckAt: number }
  | { readonly kind: 'create' | 'renew-serving' | 'stage-ca' | 'promote-ca' | 'retire-ca'; readonly reason: string };

/** The one step to take now, or when to look again. */
export function planRotation(facts: RotationFacts, policy: RotationPolicy): RotationAction {
  const { now, signer, serving, next, retired } = facts;
  if (signer === undefined) return { kind: 'create', reason: 'no usable certificate secret' };
  const nextUsable = next !== undefined && next.notAfter > now;
  if (signer.notAfter <= now) return nextUsable ? { kind: 'promote-ca', reason: 'signer CA expired' } : { kind: 'create', reason: 'signer CA expired' };
  if (serving === undefined || !serving.issuedBySigner) return { kind: 'renew-serving', reason: 'serving certificate not issued by the signer CA' };
  if (!serving.coversNames) return { kind: 'renew-serving', reason: 'serving certificate does not cover the service names' };
  const stagedAt = next?.stagedAt ?? now;
  if (nextUsable && now - stagedAt >= policy.caOverlapMs && facts.bundlePublished) return { kind: 'promote-ca', reason: 'overlap elapsed' };
  if (nextUsable && signer.notAfter - now <= policy.servingRenewBeforeMs) return { kind: 'promote-ca', reason: 'signer CA about to expire' };
  if (!nextUsable && signer.notAfter - now <= policy.caRenewBeforeMs) return { kind: 'stage-ca', reason: 'signer CA near expiry' };
  if (retired.count > 0 && now - retired.promotedAt >= policy.caOverlapMs) return { kind: 'retire-ca', reason: 'overlap elapsed' };
  if (serving.notAfter - now <= policy.servingRenewBeforeMs) return { kind: 'renew-serving', reason: 'serving certificate near expiry' };
  const due = [
    serving.notAfter - policy.servingRenewBeforeMs,
    signer.notAfter - (nextUsable ? policy.servingRenewBeforeMs : policy.caRenewBeforeMs),
    ...(nextUsable ? [stagedAt + policy.caOverlapMs] : []),
    ...(retired.count > 0 ? [retired.promotedAt + policy.caOverlapMs] : []),
  ].filter((at) => at > now); // a promotion waiting for the bundle to be published is retried by the caller's poll
  return { kind: 'none', nextCheckAt: due.length === 0 ? Number.POSITIVE_INFINITY : Math.min(...due) };
}

/** The names a serving certificate must carry. */
export interface ServingNames {
  readonly commonName: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}

/** `<service>`, `<service>.<namespace>`, `.svc`, `.svc.cluster.local`, then the extras. */
export function buildServingNames(service: string, namespace: string, extraDnsNames: readonly string[] = [], ipAddresses: readonly string[] = []): ServingNames {
  const svc = `${service}.${namespace}.svc`;
  const dnsNames = [...new Set([service, `${service}.${namespace}`, svc, `${svc}.cluster.local`, ...extraDnsNames])];
  return { commonName: svc.length <= 64 ? svc : service.slice(0, 64), dnsNames, ipAddresses: [...new Set(ipAddresses)] };
}

/** The facts of a parsed state (undefined = nothing usable). */
export function describeState(state: WebhookTlsState | undefined, names: ServingNames, now: number, bundlePublished: boolean): RotationFacts {
  if (state === undefined) return { now, signer: undefined, serving: undefined, next: undefined, retired: { count: 0, promotedAt: now }, bundlePublished };
  return {
    now,
    signer: { notAfter: state.signer.cert.notAfter },
    serving: {
      notAfter: state.serving.cert.notAfter,
      issuedBySigner: isServingIssuedBySigner(state),
      coversNames: coversNames(state.serving.cert, names.dnsNames, names.ipAddresses),
    },
    // Lost annotations fall back to what the certificates prove: a staged CA was created when it was
    // staged; the serving certificate was issued at the promotion or later (so retiring waits longer).
    next: state.next === undefined ? undefined : { notAfter: state.next.cert.notAfter, stagedAt: state.stagedAt ?? state.next.cert.notBefore + CLOCK_SKEW_MS },
    retired: { count: state.retired.length, promotedAt: state.promotedAt ?? state.serving.cert.notBefore + CLOCK_SKEW_MS },
    bundlePublished,
  };
}

export interface BuildContext {
  readonly now: number;
  readonly policy: RotationPolicy;
  readonly names: ServingNames;
  /** CN prefix of new CAs; the creation time in seconds is appended. */
  readonly caName: string;
}

function newCa(context: BuildContext): CaEntry {
  const { certPem, keyPem } = buildCertificateAuthority({
    commonName: `${context.caName}@${Math.floor(context.now / 1000)}`,
    notBefore: new Date(context.now - CLOCK_SKEW_MS),
    notAfter: new Date(context.now + context.policy.caValidityMs),
  });
  return fromPem(certPem, keyPem);
}

function newServing(signer: CaEntry, context: BuildContext): CaEntry {
  const { certPem, keyPem } = buildServingCertificate({
    issuer: { certPem: signer.cert.pem, keyPem: signer.keyPem },
    ...context.names,
    notBefore: new Date(context.now - CLOCK_SKEW_MS),
    notAfter: new Date(Math.min(context.now + context.policy.servingValidityMs, signer.cert.notAfter)),
  });
  return fromPem(certPem, keyPem);
}

function fromPem(certPem: string, keyPem: string): CaEntry {
  const cert = parseCertificate(certPem);
  if (cert === undefined) throw new Error('a freshly built certificate does not parse');
  return { cert, keyPem };
}

/** Applies one action to the state (new keys are generated here). */
export function buildNextState(state: WebhookTlsState | undefined, action: Exclude<RotationAction, { kind: 'none' }>, context: BuildContext): WebhookTlsState {
  if (state === undefined || action.kind === 'create') {
    const signer = newCa(context);
    return { signer, next: undefined, retired: [], serving: newServing(signer, context), stagedAt: undefined, promotedAt: undefined };
  }
  switch (action.kind) {
    case 'renew-serving':
      return { ...state, serving: newServing(state.signer, context) };
    case 'stage-ca':
      return { ...state, next: newCa(context), stagedAt: context.now };
    case 'promote-ca': {
      const signer = state.next ?? newCa(context);
      return { signer, next: undefined, retired: [...state.retired, state.signer.cert], serving: newServing(signer, context), stagedAt: undefined, promotedAt: context.now };
    }
    case 'retire-ca':
      return { ...state, retired: [], promotedAt: undefined };
  }
}
