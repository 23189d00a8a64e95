/** Content digests: registries are not trusted to return what a digest names. Pure. */
import { createHash } from 'node:crypto';
import { IMAGE_ERRORS, RegistryError } from './errors.ts';

const ALGORITHMS = new Set(['sha256', 'sha512']);
export const DIGEST_PATTERN = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export function computeDigest(bytes: Uint8Array, algorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/**
 * The digest of `bytes`, checked against the digest that was asked for (`expected`) and the one the
 * registry announced (`Docker-Content-Digest`); a mismatch is ERR_IMAGE_INVALID.
 */
export function verifyDigest(bytes: Uint8Array, expected: string | undefined, announced: string | null, what: string): string {
  const algorithm = (expected ?? announced ?? 'sha256').split(':')[0] ?? 'sha256';
  const actual = computeDigest(bytes, ALGORITHMS.has(algorithm) ? algorithm : 'sha256');
  if (expected !== undefined && actual !== expected) {
    throw new RegistryError(IMAGE_ERRORS.invalid, `the ${what} does not match its digest ${expected}`);
  }
  if (announced !== null && announced.startsWith(`${algorithm}:`) && announced !== actual) {
    throw new RegistryError(IMAGE_ERRORS.invalid, `the ${what} does not match the digest the registry announced`);
  }
  return actual;
}
