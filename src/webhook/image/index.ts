/** Image entrypoint resolution for the webhook: the public surface of src/webhook/image/. */
export type { DockerAuthEntry, DockerConfigJson, ImageContext, ImageResolver, Platform, ResolvedImage } from './types.ts';
export { createImageResolver, RESOLVER_DEFAULTS, type ImageResolverDeps, type ImageResolverOptions } from './resolver.ts';
export { IMAGE_ERRORS, type ImageErrorCode } from './errors.ts';
export { parseDockerConfig } from './credentials.ts';
export { buildPinnedImage, formatReference, parseImageReference, type ImageReference } from './reference.ts';
export { DEFAULT_PLATFORM, parsePlatform, formatPlatform } from './platform.ts';
