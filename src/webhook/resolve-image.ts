import type { KubeConfig } from '@kubernetes/client-node';
import { buildPullSecretReader } from '../kube/pull-secrets.ts';
import { parseDockerConfig, type DockerConfigJson, type ImageResolver } from './image/index.ts';
import { waitFor } from './image/wait.ts';
import type { ResolveImage } from './plan.ts';

/**
 * The webhook's image lookup: reads the pod's pull credentials through the API (pod and service
 * account imagePullSecrets, the image-pull-secret annotation), then resolves the image config.
 */
export function buildResolveImage(kc: KubeConfig, resolver: ImageResolver): ResolveImage {
  const pullSecrets = buildPullSecretReader(kc);
  return async (image, context) => {
    // Bounded by the admission's deadline like the image read: a slow API server must not outlast it.
    const texts = await waitFor(
      pullSecrets.read({
        namespace: context.namespace,
        serviceAccountName: context.serviceAccountName,
        imagePullSecrets: context.imagePullSecrets,
        extra: context.extraPullSecret,
      }),
      context.signal,
      context.signal,
      0,
    );
    const configs = texts.map(parseDockerConfig).filter((config): config is DockerConfigJson => config !== undefined);
    const resolved = await resolver.resolve(image, {
      namespace: context.namespace,
      pullSecrets: configs,
      ...(context.platform === undefined ? {} : { platform: context.platform }),
      signal: context.signal,
    });
    return { entrypoint: resolved.entrypoint, cmd: resolved.cmd, digest: resolved.indexDigest ?? resolved.digest };
  };
}
