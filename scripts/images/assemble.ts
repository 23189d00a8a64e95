// One multi-architecture image with crane, in the scratch registry: per platform, the layer
// tarballs appended to an empty OCI base and the config set (platform, entrypoint, user, labels…);
// then an OCI image index over the platforms. Only crane writes manifests and configs.
import { join } from 'node:path';
import { Crane } from './crane.ts';
import { writeLayer, type LayerCompression } from './layer.ts';
import type { Arch } from './platform.ts';

export interface ImageConfig {
  readonly entrypoint: readonly string[];
  readonly cmd?: readonly string[];
  readonly user: string;
  readonly workdir: string;
  readonly env: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  /** How the layers are compressed (default gzip). */
  readonly compression?: LayerCompression;
}

export interface PlatformInput {
  readonly arch: Arch;
  /** Layer root folders, bottom first. */
  readonly layers: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
}

export interface PlatformImage {
  readonly platform: string;
  readonly digest: string;
  /** Config + compressed layers, as a registry stores and a node pulls them. */
  readonly compressedBytes: number;
  /** The layer tarballs' sizes (what the image takes unpacked). */
  readonly uncompressedBytes: number;
  readonly layers: number;
}

export interface AssembledImage {
  /** The index in the scratch registry, `host:port/name:tag`. */
  readonly reference: string;
  readonly digest: string;
  readonly platforms: readonly PlatformImage[];
}

function flags(name: string, values: Readonly<Record<string, string>>): string[] {
  return Object.entries(values)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .flatMap(([key, value]) => [name, `${key}=${value}`]);
}

async function assemblePlatform(crane: Crane, repository: string, tag: string, input: PlatformInput, config: ImageConfig, options: { work: string; mtime: number }): Promise<PlatformImage> {
  const tarballs = [];
  for (const [index, root] of input.layers.entries()) {
    tarballs.push(await writeLayer(root, join(options.work, `${input.arch}-${index}.tar`), options.mtime, config.compression));
  }
  const base = `${repository}:${tag}-${input.arch}-layers`;
  await crane.run(['append', '--oci-empty-base', ...tarballs.flatMap((layer) => ['-f', layer.file]), '-t', base]);
  const printed = await crane.run([
    'mutate',
    base,
    '--set-platform',
    `linux/${input.arch}`,
    '--entrypoint',
    config.entrypoint.join(','),
    ...(config.cmd === undefined ? [] : ['--cmd', config.cmd.join(',')]),
    '--user',
    config.user,
    '--workdir',
    config.workdir,
    ...flags('-e', config.env),
    ...flags('-l', { ...config.labels, ...input.labels }),
    '-t',
    `${repository}:${tag}-${input.arch}`,
  ]);
  const digest = Crane.digestOf(printed);
  const manifest = await crane.manifest(`${repository}@${digest}`);
  const compressedBytes = (manifest.config?.size ?? 0) + (manifest.layers ?? []).reduce((sum, layer) => sum + layer.size, 0);
  const uncompressedBytes = tarballs.reduce((sum, layer) => sum + layer.bytes, 0);
  return { platform: `linux/${input.arch}`, digest, compressedBytes, uncompressedBytes, layers: tarballs.length };
}

/** Builds `repository:tag` (an index over `platforms`) in the scratch registry. */
export async function assembleImage(
  crane: Crane,
  repository: string,
  tag: string,
  platforms: readonly PlatformInput[],
  config: ImageConfig,
  options: { readonly work: string; readonly mtime: number },
): Promise<AssembledImage> {
  const images: PlatformImage[] = [];
  for (const input of platforms) images.push(await assemblePlatform(crane, repository, tag, input, config, options));
  const reference = `${repository}:${tag}`;
  const printed = await crane.run(['index', 'append', ...images.flatMap((image) => ['-m', `${repository}@${image.digest}`]), '-t', reference]);
  return { reference, digest: Crane.digestOf(printed), platforms: images };
}
