/** OCI / Docker v2 manifests, indexes and image configs: media types and parsing. Pure. */
import { IMAGE_ERRORS, RegistryError } from './errors.ts';

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

/** What the resolver accepts for a manifest request (schema 1 is deliberately not asked for). */
export const MANIFEST_ACCEPT = [
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.dockerList,
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.dockerManifest,
].join(', ');

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly platform?: {
    readonly os: string;
    readonly architecture: string;
    readonly variant?: string;
  };
}

export type Manifest =
  | { readonly kind: 'index'; readonly manifests: readonly Descriptor[] }
  | { readonly kind: 'image'; readonly config: Descriptor };

export interface ImageConfig {
  readonly entrypoint: string[];
  readonly cmd: string[];
  readonly env: string[] | undefined;
  readonly user: string | undefined;
  readonly workingDir: string | undefined;
}

const INDEX_TYPES = new Set<string>([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList]);
const IMAGE_TYPES = new Set<string>([MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest]);

function invalid(reason: string): RegistryError {
  return new RegistryError(IMAGE_ERRORS.invalid, reason);
}

function parseJsonObject(bytes: Uint8Array, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw invalid(`the ${what} is not valid JSON`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalid(`the ${what} is not a JSON object`);
  return parsed as Record<string, unknown>;
}

function parseDescriptor(value: unknown, what: string): Descriptor {
  if (value === null || typeof value !== 'object') throw invalid(`the ${what} has a malformed descriptor`);
  const record = value as Record<string, unknown>;
  const { mediaType, digest, size, platform } = record;
  if (typeof digest !== 'string' || !/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(digest)) {
    throw invalid(`the ${what} has a descriptor without a valid digest`);
  }
  const descriptor: Descriptor = {
    mediaType: typeof mediaType === 'string' ? mediaType : '',
    digest,
    size: typeof size === 'number' ? size : -1,
  };
  if (platform !== null && typeof platform === 'object') {
    const p = platform as Record<string, unknown>;
    if (typeof p.os === 'string' && typeof p.architecture === 'string') {
      const variant = typeof p.variant === 'string' && p.variant !== '' ? p.variant : undefined;
      return { ...descriptor, platform: { os: p.os, architecture: p.architecture, ...(variant === undefined ? {} : { variant }) } };
    }
  }
  return descriptor;
}

/** Parses a manifest or index; the body's mediaType wins over the Content-Type header. */
export function parseManifest(bytes: Uint8Array, contentType: string | null): Manifest {
  const body = parseJsonObject(bytes, 'manifest');
  const declared = typeof body.mediaType === 'string' ? body.mediaType : (contentType ?? '').split(';')[0]?.trim() ?? '';
  const isIndex = INDEX_TYPES.has(declared) || (!IMAGE_TYPES.has(declared) && Array.isArray(body.manifests));
  if (isIndex) {
    if (!Array.isArray(body.manifests)) throw invalid('the image index has no manifests list');
    return { kind: 'index', manifests: body.manifests.map((entry) => parseDescriptor(entry, 'image index')) };
  }
  if (body.schemaVersion === 1) throw invalid('the manifest uses the deprecated schema 1 format, which is not supported');
  if (!IMAGE_TYPES.has(declared) && body.config === undefined) {
    throw invalid(`the manifest media type "${declared || 'none'}" is not an image manifest or index`);
  }
  return { kind: 'image', config: parseDescriptor(body.config, 'image manifest') };
}

function stringList(value: unknown, field: string): string[] | undefined {
  if (value === null || value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw invalid(`the image config field ${field} is not a list of strings`);
  }
  return value;
}

function optionalString(value: unknown, field: string): string | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw invalid(`the image config field ${field} is not a string`);
  return value;
}

/** Reads Entrypoint, Cmd, Env, User and WorkingDir from an OCI / Docker image config blob. */
export function parseImageConfig(bytes: Uint8Array): ImageConfig {
  const body = parseJsonObject(bytes, 'image config');
  const raw = body.config ?? null;
  if (raw !== null && (typeof raw !== 'object' || Array.isArray(raw))) throw invalid('the image config has a malformed "config" section');
  const config = (raw ?? {}) as Record<string, unknown>;
  return {
    entrypoint: stringList(config.Entrypoint, 'Entrypoint') ?? [],
    cmd: stringList(config.Cmd, 'Cmd') ?? [],
    env: stringList(config.Env, 'Env'),
    user: optionalString(config.User, 'User'),
    workingDir: optionalString(config.WorkingDir, 'WorkingDir'),
  };
}

export function isIndexMediaType(mediaType: string): boolean {
  return INDEX_TYPES.has(mediaType);
}
