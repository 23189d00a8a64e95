/**
 * Choosing the platform image of an index, with containerd's normalization: `x86_64` is amd64,
 * `aarch64` is arm64 (variant v8 implied), `arm` means arm/v7, and an arm/v7 node also runs v6 and
 * v5 images (the closest variant wins). Pure.
 */
import type { Descriptor } from './manifest.ts';
import type { Platform } from './types.ts';

export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

interface NormalizedPlatform {
  readonly os: string;
  readonly architecture: string;
  /** '' when the architecture's default (amd64 v1, arm64 v8). */
  readonly variant: string;
}

export function normalizePlatform(platform: Platform): NormalizedPlatform {
  const os = platform.os.trim().toLowerCase();
  let architecture = platform.architecture.trim().toLowerCase();
  let variant = (platform.variant ?? '').trim().toLowerCase();
  switch (architecture) {
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      architecture = 'amd64';
      if (variant === 'v1') variant = '';
      break;
    case 'aarch64':
    case 'arm64':
      architecture = 'arm64';
      if (variant === '8' || variant === 'v8' || variant === 'v8.0') variant = '';
      break;
    case 'armhf':
      architecture = 'arm';
      variant = 'v7';
      break;
    case 'armel':
      architecture = 'arm';
      variant = 'v6';
      break;
    case 'arm':
      if (variant === '' || variant === '7') variant = 'v7';
      else if (/^[5-8]$/.test(variant)) variant = `v${variant}`;
      break;
    case 'i386':
    case '386':
      architecture = '386';
      break;
    default:
      break;
  }
  return { os, architecture, variant };
}

/** Variants an image may have to run on the target, best first. */
function compatibleVariants(target: NormalizedPlatform): string[] {
  const level = /^v(\d+)$/.exec(target.variant)?.[1];
  const n = level === undefined ? undefined : Number(level);
  if (target.architecture === 'arm' && n !== undefined) {
    const list: string[] = [];
    for (let v = Math.min(n, 8); v >= 5; v -= 1) list.push(`v${v}`);
    return list;
  }
  if (target.architecture === 'amd64' && n !== undefined) {
    const list: string[] = [];
    for (let v = n; v >= 2; v -= 1) list.push(`v${v}`);
    return [...list, ''];
  }
  if (target.architecture === 'arm64' && target.variant !== '') return [target.variant, ''];
  return [target.variant];
}

/** The index entry for the target platform, or undefined when the index has none. */
export function selectPlatformManifest(manifests: readonly Descriptor[], target: Platform): Descriptor | undefined {
  const wanted = normalizePlatform(target);
  const variants = compatibleVariants(wanted);
  let best: { descriptor: Descriptor; rank: number } | undefined;
  for (const descriptor of manifests) {
    if (descriptor.platform === undefined) continue;
    const offered = normalizePlatform(descriptor.platform);
    if (offered.os !== wanted.os || offered.architecture !== wanted.architecture) continue;
    const rank = variants.indexOf(offered.variant);
    if (rank === -1) continue;
    if (best === undefined || rank < best.rank) best = { descriptor, rank };
  }
  return best?.descriptor;
}

export function formatPlatform(platform: Platform): string {
  const { os, architecture, variant } = normalizePlatform(platform);
  return variant === '' ? `${os}/${architecture}` : `${os}/${architecture}/${variant}`;
}

/** `linux/amd64, linux/arm64`: what an index offers, for error messages (attestation entries skipped). */
export function describePlatforms(manifests: readonly Descriptor[]): string {
  const names = manifests
    .map((descriptor) => descriptor.platform)
    .filter((platform): platform is NonNullable<typeof platform> => platform !== undefined && platform.os !== 'unknown')
    .map((platform) => formatPlatform(platform));
  return names.length === 0 ? 'no platform images' : [...new Set(names)].join(', ');
}

/** Parses `linux/arm64`, `linux/arm/v7` (the IMAGE_PLATFORM setting). */
export function parsePlatform(text: string): { ok: true; value: Platform } | { ok: false; error: string } {
  const parts = text.trim().split('/');
  const [os, architecture, variant] = parts;
  if (parts.length < 2 || parts.length > 3 || !os || !architecture || (parts.length === 3 && !variant)) {
    return { ok: false, error: `"${text}" is not a platform like linux/amd64 or linux/arm/v7` };
  }
  return { ok: true, value: variant === undefined ? { os, architecture } : { os, architecture, variant } };
}
