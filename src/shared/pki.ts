/**
 * X.509 for the webhook's own TLS: an EC P-256 certificate authority and serving certificates it
 * signs, built with node:crypto and the DER helpers in der.ts (no third-party ASN.1 library), plus
 * the checks the certificate manager makes on what it reads back (validity, issuer, key, names).
 *
 * Certificates carry what Go's crypto/x509 (the API server) and OpenSSL (Node) expect:
 * - CA: v3, basicConstraints critical CA:TRUE pathlen 0, keyUsage critical keyCertSign+cRLSign+
 *   digitalSignature, subjectKeyIdentifier; a unique CN (`<prefix>@<unix seconds>`), so two CAs
 *   trusted side by side during a rotation never share a subject.
 * - serving: basicConstraints critical CA:FALSE, keyUsage critical digitalSignature, extKeyUsage
 *   serverAuth, subjectAltName (DNS names and IP addresses), subject/authority key identifiers.
 */
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import {
  derBitString,
  derBoolean,
  derExplicit,
  derImplicit,
  derOctetString,
  derOid,
  derSequence,
  derSet,
  derSmallInteger,
  derTime,
  derUnsignedInteger,
  derUtf8String,
  readDerChildren,
  readDerElement,
} from './der.ts';

/** A certificate and its private key, both PEM (the key PKCS#8). */
export interface KeyAndCertificate {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface CertificateAuthoritySpec {
  readonly commonName: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface ServingCertificateSpec {
  readonly issuer: KeyAndCertificate;
  readonly commonName: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
}

const OID = {
  commonName: '2.5.4.3',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

/** keyUsage bits (X.509 numbering, bit 0 first), DER-encoded with trailing zero bits dropped. */
const KEY_USAGE_LEAF = derBitString(Buffer.from([0x80]), 7); // digitalSignature
const KEY_USAGE_CA = derBitString(Buffer.from([0x86]), 1); // digitalSignature, keyCertSign, cRLSign

const extension = (oid: string, critical: boolean, value: Buffer): Buffer =>
  critical ? derSequence(derOid(oid), derBoolean(true), derOctetString(value)) : derSequence(derOid(oid), derOctetString(value));

const nameOf = (commonName: string): Buffer => derSequence(derSet(derSequence(derOid(OID.commonName), derUtf8String(commonName))));

function newKeyPair(): { privateKey: KeyObject; spki: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privateKey, spki: publicKey.export({ type: 'spki', format: 'der' }) };
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's bytes. */
function keyIdentifier(spki: Buffer): Buffer {
  const [, bitString] = readDerChildren(readDerElement(spki).content);
  if (bitString === undefined) throw new Error('malformed SubjectPublicKeyInfo');
  return createHash('sha1').update(bitString.content.subarray(1)).digest();
}

/** 128 random bits, positive and without a leading zero byte. */
function serialNumber(): Buffer {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes;
}

/** The subject Name of a certificate, as the exact DER it was issued with. */
function subjectOf(certDer: Buffer): Buffer {
  const [tbs] = readDerChildren(readDerElement(certDer).content);
  if (tbs === undefined) throw new Error('malformed certificate');
  const fields = readDerChildren(tbs.content);
  const offset = fields[0]?.tag === 0xa0 ? 1 : 0; // [0] version
  const subject = fields[offset + 4]; // serial, signature, issuer, validity, subject
  if (subject === undefined) throw new Error('malformed certificate');
  return subject.encoded;
}

function ipBytes(address: string): Buffer {
  if (isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  if (!isIPv6(address)) throw new Error(`not an IP address: ${address}`);
  let text = address;
  const v4 = /:(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1] !== undefined) {
    const [a = 0, b = 0, c = 0, d = 0] = v4[1].split('.').map(Number);
    text = `${text.slice(0, v4.index + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((group) => parseInt(group, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const groups = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  return Buffer.from(groups.flatMap((group) => [group >> 8, group & 0xff]));
}

const toPem = (der: Buffer): string => `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;

interface TbsInput {
  readonly issuer: Buffer;
  readonly subject: Buffer;
  readonly spki: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly extensions: readonly Buffer[];
}

function signCertificate(input: TbsInput, signer: KeyObject): string {
  const algorithm = derSequence(derOid(OID.ecdsaWithSha256));
  const tbs = derSequence(
    derExplicit(0, derSmallInteger(2)),
    derUnsignedInteger(serialNumber()),
    algorithm,
    input.issuer,
    derSequence(derTime(input.notBefore), derTime(input.notAfter)),
    input.subject,
    input.spki,
    derExplicit(3, derSequence(...input.extensions)),
  );
  const signature = sign('sha256', tbs, signer); // DER ECDSA-Sig-Value for EC keys
  return toPem(derSequence(tbs, algorithm, derBitString(signature)));
}

/** A new self-signed CA with a fresh EC P-256 key. */
export function buildCertificateAuthority(spec: CertificateAuthoritySpec): KeyAndCertificate {
  const { privateKey, spki } = newKeyPair();
  const name = nameOf(spec.commonName);
  const certPem = signCertificate(
    {
      issuer: name,
      subject: name,
      spki,
      notBefore: spec.notBefore,
      notAfter: spec.notAfter,
      extensions: [
        extension(OID.basicConstraints, true, derSequence(derBoolean(true), derSmallInteger(0))),
        extension(OID.keyUsage, true, KEY_USAGE_CA),
        extension(OID.subjectKeyIdentifier, false, derOctetString(keyIdentifier(spki))),
      ],
    },
    privateKey,
  );
  return { certPem, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** A serving certificate with a fresh EC P-256 key, signed by `spec.issuer`. */
export function buildServingCertificate(spec: ServingCertificateSpec): KeyAndCertificate {
  if (spec.dnsNames.length + spec.ipAddresses.length === 0) throw new Error('a serving certificate needs at least one name');
  const issuerCert = new X509Certificate(spec.issuer.certPem);
  const issuerKey = createPrivateKey(spec.issuer.keyPem);
  const { privateKey, spki } = newKeyPair();
  const names = [...spec.dnsNames.map((dns) => derImplicit(2, Buffer.from(dns, 'ascii'))), ...spec.ipAddresses.map((ip) => derImplicit(7, ipBytes(ip)))];
  const authorityKeyId = keyIdentifier(issuerCert.publicKey.export({ type: 'spki', format: 'der' }));
  const certPem = signCertificate(
    {
      issuer: subjectOf(issuerCert.raw),
      subject: nameOf(spec.commonName),
      spki,
      notBefore: spec.notBefore,
      notAfter: spec.notAfter,
      extensions: [
        extension(OID.basicConstraints, true, derSequence()),
        extension(OID.keyUsage, true, KEY_USAGE_LEAF),
        extension(OID.extKeyUsage, false, derSequence(derOid(OID.serverAuth))),
        extension(OID.subjectAltName, false, derSequence(...names)),
        extension(OID.subjectKeyIdentifier, false, derOctetString(keyIdentifier(spki))),
        extension(OID.authorityKeyIdentifier, false, derSequence(derImplicit(0, authorityKeyId))),
      ],
    },
    issuerKey,
  );
  return { certPem, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** The PEM CERTIFICATE blocks of a bundle, each normalised to end with a newline. */
export function splitPemCertificates(bundle: string): string[] {
  return [...bundle.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map((match) => `${match[0]}\n`);
}

/** What the certificate manager needs to know about one certificate. */
export interface CertificateFacts {
  readonly pem: string;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly isCa: boolean;
  readonly fingerprint: string;
  readonly x509: X509Certificate;
}

/** Parses one PEM certificate; undefined when it is not one. */
export function parseCertificate(pem: string): CertificateFacts | undefined {
  try {
    const x509 = new X509Certificate(pem);
    return { pem, notBefore: x509.validFromDate.getTime(), notAfter: x509.validToDate.getTime(), isCa: x509.ca, fingerprint: x509.fingerprint256, x509 };
  } catch {
    return undefined;
  }
}

/** Whether `keyPem` is the private key of the certificate (false for anything unparseable). */
export function isKeyOf(cert: CertificateFacts, keyPem: string): boolean {
  try {
    return cert.x509.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

/** Whether `cert` names `ca` as its issuer and carries a valid signature by it. */
export function isIssuedBy(cert: CertificateFacts, ca: CertificateFacts): boolean {
  return ca.isCa && cert.x509.checkIssued(ca.x509) && cert.x509.verify(ca.x509.publicKey);
}

/** Whether the certificate is valid for every DNS name and IP address given (no CN fallback, no wildcards). */
export function coversNames(cert: CertificateFacts, dnsNames: readonly string[], ipAddresses: readonly string[]): boolean {
  return (
    dnsNames.every((name) => cert.x509.checkHost(name, { subject: 'never', wildcards: false }) === name) &&
    ipAddresses.every((ip) => cert.x509.checkIP(ip) !== undefined)
  );
}
