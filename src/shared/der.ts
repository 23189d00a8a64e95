/**
 * The few ASN.1 DER building blocks an X.509 certificate needs (RFC 5280, X.690), and a reader that
 * walks a DER structure far enough to pick fields out of a certificate or a public key. Nothing
 * here knows about certificates; src/shared/pki.ts composes them.
 */

/** One tag-length-value. `tag` is the full identifier octet (class, constructed bit, number). */
export function derTlv(tag: number, content: Uint8Array): Buffer {
  const length = content.length;
  let header: number[];
  if (length < 0x80) header = [tag, length];
  else {
    const bytes: number[] = [];
    for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
    header = [tag, 0x80 | bytes.length, ...bytes];
  }
  return Buffer.concat([Buffer.from(header), content]);
}

export const derSequence = (...items: readonly Uint8Array[]): Buffer => derTlv(0x30, Buffer.concat(items));
export const derSet = (...items: readonly Uint8Array[]): Buffer => derTlv(0x31, Buffer.concat(items));
export const derBoolean = (value: boolean): Buffer => derTlv(0x01, Buffer.from([value ? 0xff : 0x00]));
export const derOctetString = (bytes: Uint8Array): Buffer => derTlv(0x04, bytes);
export const derUtf8String = (text: string): Buffer => derTlv(0x0c, Buffer.from(text, 'utf8'));
/** A BIT STRING whose content is whole bytes (keys, signatures). */
export const derBitString = (bytes: Uint8Array, unusedBits = 0): Buffer => derTlv(0x03, Buffer.concat([Buffer.from([unusedBits]), bytes]));
/** `[n] EXPLICIT`: a constructed context-specific wrapper. */
export const derExplicit = (n: number, inner: Uint8Array): Buffer => derTlv(0xa0 | n, inner);
/** `[n] IMPLICIT` over a primitive type (e.g. GeneralName's dNSName [2], iPAddress [7]). */
export const derImplicit = (n: number, bytes: Uint8Array): Buffer => derTlv(0x80 | n, bytes);

/** A non-negative INTEGER from its big-endian magnitude: minimal, with a 0x00 when the top bit is set. */
export function derUnsignedInteger(magnitude: Uint8Array): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start += 1;
  const trimmed = Buffer.from(magnitude.subarray(start));
  const first = trimmed[0] ?? 0;
  return derTlv(0x02, first >= 0x80 || trimmed.length === 0 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

/** A small non-negative INTEGER (versions, path lengths). */
export function derSmallInteger(value: number): Buffer {
  const bytes: number[] = [value % 256];
  for (let rest = Math.floor(value / 256); rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return derUnsignedInteger(Buffer.from(bytes));
}

/** An OBJECT IDENTIFIER from its dotted form. */
export function derOid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const [first = 0, second = 0, ...rest] = arcs;
  const bytes: number[] = [40 * first + second];
  for (const arc of rest) {
    const groups: number[] = [arc % 128];
    for (let value = Math.floor(arc / 128); value > 0; value = Math.floor(value / 128)) groups.unshift((value % 128) | 0x80);
    bytes.push(...groups);
  }
  return derTlv(0x06, Buffer.from(bytes));
}

const two = (n: number): string => String(n).padStart(2, '0');

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; always whole seconds, Z. */
export function derTime(date: Date): Buffer {
  const year = date.getUTCFullYear();
  const rest = `${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}Z`;
  return year < 2050 ? derTlv(0x17, Buffer.from(`${two(year % 100)}${rest}`, 'ascii')) : derTlv(0x18, Buffer.from(`${String(year).padStart(4, '0')}${rest}`, 'ascii'));
}

/** One decoded element: its tag, its content bytes and the whole encoding. */
export interface DerElement {
  readonly tag: number;
  readonly content: Buffer;
  readonly encoded: Buffer;
}

/** Reads the element at `offset`; throws on a truncated or indefinite-length encoding. */
export function readDerElement(bytes: Buffer, offset = 0): DerElement & { readonly end: number } {
  const tag = bytes[offset];
  const first = bytes[offset + 1];
  if (tag === undefined || first === undefined) throw new Error('truncated DER element');
  let length = first;
  let headerLength = 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) throw new Error('unsupported DER length');
    length = 0;
    for (let i = 0; i < count; i += 1) length = length * 256 + (bytes[offset + 2 + i] ?? Number.NaN);
    headerLength = 2 + count;
  }
  const end = offset + headerLength + length;
  if (!Number.isFinite(length) || end > bytes.length) throw new Error('truncated DER element');
  return { tag, content: bytes.subarray(offset + headerLength, end), encoded: bytes.subarray(offset, end), end };
}

/** The elements inside a constructed element's content. */
export function readDerChildren(content: Buffer): DerElement[] {
  const children: DerElement[] = [];
  for (let offset = 0; offset < content.length; ) {
    const element = readDerElement(content, offset);
    children.push(element);
    offset = element.end;
  }
  return children;
}
