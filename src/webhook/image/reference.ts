/**
 * Image reference parsing with docker's normalization (distribution/reference): `busybox` is
 * `docker.io/library/busybox:latest`; the first path component is a registry only when it contains
 * `.` or `:`, is `localhost`, or has upper-case letters. Pure.
 */

export const DOCKER_HUB = 'docker.io';
/** Where docker.io's registry API actually answers. */
export const DOCKER_HUB_API = 'registry-1.docker.io';

export interface ImageReference {
  /** Registry host as written (lower-cased), with port; `docker.io` for Docker Hub. */
  readonly registry: string;
  /** Repository path inside the registry, e.g. `library/busybox`. */
  readonly repository: string;
  /** The tag; `latest` when neither tag nor digest was given; undefined for a digest-only reference. */
  readonly tag: string | undefined;
  /** `algorithm:hex` when the reference pins a digest (it wins over the tag, as in docker). */
  readonly digest: string | undefined;
  /** The name part as the user wrote it (no tag, no digest): used to pin without renaming. */
  readonly writtenName: string;
  /** The tag as the user wrote it; undefined when it was implied. */
  readonly writtenTag: string | undefined;
}

export type ParsedReference =
  | { readonly ok: true; readonly reference: ImageReference }
  | { readonly ok: false; readonly error: string };

const MAX_NAME_LENGTH = 255;
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_LABEL = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^(?:${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]{1,5})?$`);
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const KNOWN_DIGESTS: Readonly<Record<string, number>> = { sha256: 64, sha512: 128 };

export function parseImageReference(input: string): ParsedReference {
  const text = input.trim();
  if (text === '') return fail('the image is empty');
  if (text !== input) return fail('the image has leading or trailing whitespace');
  if (/\s/.test(text)) return fail('the image contains whitespace');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return fail('an image is not a URL: remove the scheme');

  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const problem = checkDigest(digest);
    if (problem !== undefined) return fail(problem);
  }

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return fail(`the tag "${tag}" is invalid`);
  }

  const writtenName = rest;
  if (writtenName === '') return fail('the image has no repository name');
  if (writtenName.length > MAX_NAME_LENGTH) return fail(`the repository name is longer than ${MAX_NAME_LENGTH} characters`);

  const { registry, path } = splitRegistry(writtenName);
  if (registry !== undefined && !DOMAIN.test(registry)) return fail(`the registry host "${registry}" is invalid`);
  if (path === '') return fail('the image has no repository name');
  const components = path.split('/');
  for (const component of components) {
    if (component === '') return fail('the repository name has an empty path component');
    if (component !== component.toLowerCase()) return fail('the repository name must be lower-case');
    if (!COMPONENT.test(component)) return fail(`the repository path component "${component}" is invalid`);
  }

  let host = (registry ?? DOCKER_HUB).toLowerCase();
  if (host === 'index.docker.io' || host === DOCKER_HUB_API) host = DOCKER_HUB;
  const repository = host === DOCKER_HUB && components.length === 1 ? `library/${path}` : path;
  return {
    ok: true,
    reference: {
      registry: host,
      repository,
      tag: tag ?? (digest === undefined ? 'latest' : undefined),
      digest,
      writtenName,
      writtenTag: tag,
    },
  };
}

function splitRegistry(name: string): { registry: string | undefined; path: string } {
  const slash = name.indexOf('/');
  if (slash === -1) return { registry: undefined, path: name };
  const first = name.slice(0, slash);
  const isHost = /[.:]/.test(first) || first === 'localhost' || first.startsWith('[') || first.toLowerCase() !== first;
  return isHost ? { registry: first, path: name.slice(slash + 1) } : { registry: undefined, path: name };
}

function checkDigest(digest: string): string | undefined {
  if (!DIGEST.test(digest)) return `the digest "${digest}" is invalid`;
  const [algorithm = '', hex = ''] = digest.split(':');
  const length = KNOWN_DIGESTS[algorithm];
  if (length === undefined) return `the digest algorithm "${algorithm}" is not supported (sha256, sha512)`;
  if (!new RegExp(`^[a-f0-9]{${length}}$`).test(hex)) return `the ${algorithm} digest must be ${length} lower-case hex characters`;
  return undefined;
}

function fail(error: string): ParsedReference {
  return { ok: false, error };
}

/** `docker.io/library/busybox:latest`, `host:5000/team/app@sha256:…`: the fully qualified form. */
export function formatReference(reference: ImageReference): string {
  const name = `${reference.registry}/${reference.repository}`;
  if (reference.digest !== undefined) return `${name}@${reference.digest}`;
  return `${name}:${reference.tag ?? 'latest'}`;
}

/** The repository's identity, used in cache keys: `docker.io/library/busybox`. */
export function repositoryKey(reference: ImageReference): string {
  return `${reference.registry}/${reference.repository}`;
}

/** Host the registry API answers on (Docker Hub's API lives on registry-1.docker.io). */
export function apiHost(reference: ImageReference): string {
  return reference.registry === DOCKER_HUB ? DOCKER_HUB_API : reference.registry;
}

/**
 * The image as written, pinned to a digest: `busybox:1.36` → `busybox:1.36@sha256:…` (the tag stays
 * readable; kubelet and containerd pull by the digest). Pass `indexDigest ?? digest` of the resolved
 * image, so nodes of every architecture still get their own image. An unparsable image is returned
 * unchanged (it could not have been resolved).
 */
export function buildPinnedImage(image: string, digest: string): string {
  const parsed = parseImageReference(image);
  if (!parsed.ok) return image;
  const tag = parsed.reference.writtenTag === undefined ? '' : `:${parsed.reference.writtenTag}`;
  return `${parsed.reference.writtenName}${tag}@${digest}`;
}
