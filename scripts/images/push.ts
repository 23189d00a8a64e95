// `--push REGISTRY/REPO[:TAG]` → REGISTRY/REPO/piggy:TAG and REGISTRY/REPO/piggy-env:TAG (TAG
// defaults to package.json's version), copied from the scratch registry with `crane copy` (the
// digests stay what was built; checked after the copy). Loopback registries get plain HTTP
// (`--insecure`); anything else is spoken to over verified TLS with crane's usual credentials
// (~/.docker/config.json, `crane auth login`).
import type { Crane } from './crane.ts';
import { isLoopbackRegistry } from './crane.ts';

export interface PushTarget {
  /** REGISTRY/REPO, without a tag. */
  readonly repository: string;
  readonly tag: string | undefined;
  readonly insecure: boolean;
}

export interface PushedImage {
  /** REGISTRY/REPO/<image name> */
  readonly repository: string;
  readonly tag: string;
  /** The image index's digest. */
  readonly digest: string;
  /** repository:tag@digest */
  readonly reference: string;
}

export function parsePushTarget(value: string): PushTarget {
  const trimmed = value.trim().replace(/\/+$/, '');
  const slash = trimmed.lastIndexOf('/');
  const colon = trimmed.lastIndexOf(':');
  const tagged = slash !== -1 && colon > slash;
  const repository = tagged ? trimmed.slice(0, colon) : trimmed;
  const tag = tagged ? trimmed.slice(colon + 1) : undefined;
  if (repository === '' || /\s|@/.test(repository)) throw new Error(`--push wants REGISTRY/REPO[:TAG], got ${JSON.stringify(value)}`);
  if (tag !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag)) throw new Error(`--push: ${JSON.stringify(tag)} is not a valid tag`);
  return { repository, tag, insecure: isLoopbackRegistry(repository) };
}

export async function pushImage(crane: Crane, source: string, target: PushTarget, name: string, digest: string, log: (line: string) => void): Promise<PushedImage> {
  const repository = `${target.repository}/${name}`;
  const tag = target.tag ?? source.slice(source.lastIndexOf(':') + 1);
  const destination = `${repository}:${tag}`;
  const insecure = target.insecure ? ['--insecure'] : [];
  log(`images: pushing ${destination}`);
  await crane.run(['copy', ...insecure, source, destination]);
  const pushed = await crane.run(['digest', ...insecure, destination]);
  if (pushed !== digest) throw new Error(`${destination} has digest ${pushed} after the push, not the built ${digest}`);
  return { repository, tag, digest, reference: `${destination}@${digest}` };
}
