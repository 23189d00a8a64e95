/**
 * What `auto` means for how the launcher reaches an injected pod (piggysec.com/piggy-env-delivery,
 * default PIGGY_ENV_DELIVERY; a pod's `image-volume` or `init-container` is used as it is, see
 * review.ts): the image volume when the API server is Kubernetes 1.35 or later, where the ImageVolume
 * feature is on by default, and the init container's copy otherwise or while the server's version is
 * not known yet (the copy works on every cluster). Pure.
 */
import type { LauncherDelivery } from '../shared/injection-contract.ts';

/** The first Kubernetes minor version that serves image volumes without a feature gate. */
export const IMAGE_VOLUME_DEFAULT_SINCE = { major: 1, minor: 35 } as const;

export interface DeliveryChoice {
  readonly delivery: LauncherDelivery;
  /** Why, for the log line at startup. */
  readonly reason: string;
}

/** `v1.37.2`, `v1.35.0-eks-1234`, `v1.36.1+k3s1` → major and minor; undefined for anything else. */
export function parseServerVersion(gitVersion: string): { readonly major: number; readonly minor: number } | undefined {
  const match = /^v?(\d+)\.(\d+)(?:[.+-]|$)/.exec(gitVersion.trim());
  if (match === null) return undefined;
  return { major: Number(match[1]), minor: Number(match[2]) };
}

export function chooseAutoDelivery(serverVersion: string | undefined): DeliveryChoice {
  if (serverVersion === undefined) return { delivery: 'init-container', reason: 'auto: the API server version is not known yet' };
  const version = parseServerVersion(serverVersion);
  if (version === undefined) return { delivery: 'init-container', reason: `auto: cannot read the API server version ${JSON.stringify(serverVersion)}` };
  const { major, minor } = IMAGE_VOLUME_DEFAULT_SINCE;
  const supported = version.major > major || (version.major === major && version.minor >= minor);
  return supported
    ? { delivery: 'image-volume', reason: `auto: Kubernetes ${serverVersion} serves image volumes (on by default since ${major}.${minor})` }
    : { delivery: 'init-container', reason: `auto: Kubernetes ${serverVersion} is older than ${major}.${minor}, where image volumes are on by default` };
}
