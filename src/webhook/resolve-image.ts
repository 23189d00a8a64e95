import type { PullSecretReader } from '../kube/pull-secrets.ts';
import { isAppError } from '../shared/errors.ts';
import { IMAGE_ERRORS, parseDockerConfig, type DockerConfigJson, type ImageResolver } from './image/index.ts';
import { waitFor } from './image/wait.ts';
import type { ImageRequestContext, ResolveImage } from './plan.ts';

/**
 * The webhook's image lookup: the pod's pull credentials (pod and service account imagePullSecrets,
 * the image-pull-secret annotation; cached for PULL_SECRET_CACHE_TTL), then the image config. A
 * registry that refuses the cached credentials gets one more try with credentials read afresh, so a
 * rotated pull Secret is picked up at once.
 */
export function buildResolveImage(pullSecrets: PullSecretReader, resolver: ImageResolver): ResolveImage {
  const readTexts = (context: ImageRequestContext, fresh: boolean) =>
    // Bounded by the admission's deadline like the image read: a slow API server must not outlast it.
    waitFor(
      pullSecrets.read(
        { namespace: context.namespace, serviceAccountName: context.serviceAccountName, imagePullSecrets: context.imagePullSecrets, extra: context.extraPullSecret },
        { fresh },
      ),
      context.signal,
      context.signal,
      0,
    );
  const resolve = async (image: string, context: ImageRequestContext, texts: readonly string[]) => {
    const configs = texts.map(parseDockerConfig).filter((config): config is DockerConfigJson => config !== undefined);
    const resolved = await resolver.resolve(image, {
      namespace: context.namespace,
      pullSecrets: configs,
      ...(context.platform === undefined ? {} : { platform: context.platform }),
      signal: context.signal,
    });
    return { entrypoint: resolved.entrypoint, cmd: resolved.cmd, digest: resolved.indexDigest ?? resolved.digest };
  };
  return async (image, context) => {
    const cached = await readTexts(context, false);
    try {
      return await resolve(image, context, cached);
    } catch (error) {
      if (!isAppError(error) || error.code !== IMAGE_ERRORS.unauthorized) throw error;
      const fresh = await readTexts(context, true);
      if (fresh.join('\0') === cached.join('\0')) throw error;
      return resolve(image, context, fresh);
    }
  };
}
