/**
 * The webhook's TLS material as it lives in one Secret, and its parsing. Pure: V1Secret in, state
 * out (and back). Layout (type kubernetes.io/tls, so cert-manager-style consumers can read it):
 *
 * | key           | what                                                                 |
 * |---------------|----------------------------------------------------------------------|
 * | `tls.crt`     | the serving certificate, signed by the signer CA                     |
 * | `tls.key`     | its private key                                                      |
 * | `ca.crt`      | the trust bundle: signer CA, staged next CA, retired CAs (1 to 3)    |
 * | `ca.key`      | the signer CA's private key (the bundle's certificate it matches)    |
 * | `ca-next.key` | during a CA rotation only: the staged CA's key                       |
 *
 * Annotations record when the rotation steps happened (`ca-staged-at`, `ca-promoted-at`).
 */
import type { V1Secret } from '@kubernetes/client-node';
import { isIssuedBy, isKeyOf, parseCertificate, splitPemCertificates, type CertificateFacts } from '../shared/pki.ts';

export const TLS_SECRET_TYPE = 'kubernetes.io/tls';
export const SECRET_KEYS = {
  servingCert: 'tls.crt',
  servingKey: 'tls.key',
  bundle: 'ca.crt',
  signerKey: 'ca.key',
  nextKey: 'ca-next.key',
} as const;
export const STAGED_AT_ANNOTATION = 'piggysec.com/ca-staged-at';
export const PROMOTED_AT_ANNOTATION = 'piggysec.com/ca-promoted-at';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
/** Distinct from the operator's `piggy`, so the AWSSecret reconciler never mistakes this Secret for one of its own. */
export const MANAGED_BY_VALUE = 'piggy-webhook-certificates';

export interface CaEntry {
  readonly cert: CertificateFacts;
  readonly keyPem: string;
}

export interface WebhookTlsState {
  /** The CA that signs serving certificates. */
  readonly signer: CaEntry;
  /** A CA already trusted (in the bundle) that will become the signer. */
  readonly next: CaEntry | undefined;
  /** Former signers still trusted until the rotation finishes. */
  readonly retired: readonly CertificateFacts[];
  readonly serving: CaEntry;
  readonly stagedAt: number | undefined;
  readonly promotedAt: number | undefined;
}

export type ParsedTlsSecret =
  | { readonly ok: true; readonly state: WebhookTlsState }
  | { readonly ok: false; readonly problem: string };

const decode = (secret: V1Secret, key: string): string | undefined => {
  const value = secret.data?.[key];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
};

function parseTime(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Whether the Secret was written by the certificate manager (so it may be replaced). */
export function isManagedTlsSecret(secret: V1Secret): boolean {
  return secret.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;
}

/** Reads the state out of the Secret; a problem (key names only, never values) when it is unusable. */
export function parseTlsSecret(secret: V1Secret): ParsedTlsSecret {
  if (secret.type !== TLS_SECRET_TYPE) return { ok: false, problem: `type is ${secret.type ?? 'unset'}, not ${TLS_SECRET_TYPE}` };
  const servingPem = decode(secret, SECRET_KEYS.servingCert);
  const servingKey = decode(secret, SECRET_KEYS.servingKey);
  const bundlePem = decode(secret, SECRET_KEYS.bundle);
  const signerKey = decode(secret, SECRET_KEYS.signerKey);
  const nextKey = decode(secret, SECRET_KEYS.nextKey);
  if (servingPem === undefined || servingKey === undefined || bundlePem === undefined || signerKey === undefined) {
    const missing = [SECRET_KEYS.servingCert, SECRET_KEYS.servingKey, SECRET_KEYS.bundle, SECRET_KEYS.signerKey].filter((key) => secret.data?.[key] === undefined);
    return { ok: false, problem: `missing ${missing.join(', ')}` };
  }
  const bundle = splitPemCertificates(bundlePem).map(parseCertificate);
  if (bundle.length === 0 || bundle.some((cert) => cert === undefined || !cert.isCa)) return { ok: false, problem: `${SECRET_KEYS.bundle} is not a bundle of CA certificates` };
  const cas = bundle as CertificateFacts[];
  const signer = cas.find((cert) => isKeyOf(cert, signerKey));
  if (signer === undefined) return { ok: false, problem: `${SECRET_KEYS.signerKey} matches no certificate of ${SECRET_KEYS.bundle}` };
  const nextCert = nextKey === undefined ? undefined : cas.find((cert) => cert !== signer && isKeyOf(cert, nextKey));
  const serving = splitPemCertificates(servingPem).map(parseCertificate)[0];
  if (serving === undefined || !isKeyOf(serving, servingKey)) return { ok: false, problem: `${SECRET_KEYS.servingCert} and ${SECRET_KEYS.servingKey} are not a key pair` };
  const annotations = secret.metadata?.annotations ?? {};
  return {
    ok: true,
    state: {
      signer: { cert: signer, keyPem: signerKey },
      next: nextCert === undefined || nextKey === undefined ? undefined : { cert: nextCert, keyPem: nextKey },
      retired: cas.filter((cert) => cert !== signer && cert !== nextCert),
      serving: { cert: serving, keyPem: servingKey },
      stagedAt: parseTime(annotations[STAGED_AT_ANNOTATION]),
      promotedAt: parseTime(annotations[PROMOTED_AT_ANNOTATION]),
    },
  };
}

/** The trust bundle: every CA a client must accept right now (signer first). */
export function buildTrustBundle(state: WebhookTlsState): string {
  return [state.signer.cert, ...(state.next === undefined ? [] : [state.next.cert]), ...state.retired].map((cert) => cert.pem).join('');
}

/** Whether the serving certificate is signed by the current signer. */
export const isServingIssuedBySigner = (state: WebhookTlsState): boolean => isIssuedBy(state.serving.cert, state.signer.cert);

/** The Secret that stores the state. */
export function buildTlsSecret(state: WebhookTlsState, namespace: string, name: string): V1Secret {
  const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
  const data: Record<string, string> = {
    [SECRET_KEYS.servingCert]: b64(state.serving.cert.pem),
    [SECRET_KEYS.servingKey]: b64(state.serving.keyPem),
    [SECRET_KEYS.bundle]: b64(buildTrustBundle(state)),
    [SECRET_KEYS.signerKey]: b64(state.signer.keyPem),
  };
  if (state.next !== undefined) data[SECRET_KEYS.nextKey] = b64(state.next.keyPem);
  const annotations: Record<string, string> = {};
  if (state.stagedAt !== undefined) annotations[STAGED_AT_ANNOTATION] = new Date(state.stagedAt).toISOString();
  if (state.promotedAt !== undefined) annotations[PROMOTED_AT_ANNOTATION] = new Date(state.promotedAt).toISOString();
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: TLS_SECRET_TYPE,
    metadata: {
      name,
      namespace,
      labels: { 'app.kubernetes.io/name': 'piggy', 'app.kubernetes.io/component': 'webhook-certificates', [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
      annotations,
    },
    data,
  };
}
