/**
 * File mode (aws-secret-sidecar-injector compatible): an init container runs the launcher with
 * `write-files`, which writes each secret into an in-memory volume mounted read-only in every app
 * container. Files are readable by the app's user only: 0400 owned by that user, or 0440 with the
 * pod's fsGroup; a pod with neither (the sidecar injector's own walkthrough pod) gets 0444, readable
 * by every container of the pod, and a warning that says why. Pure.
 */
import type { FileModeConfig, PodConfig } from '../config/annotations.ts';
import {
  FILE_MODE_GROUP,
  FILE_MODE_OWNER,
  FILE_MODE_POD,
  FILES_ARGS,
  FILES_CONTAINER_NAME,
  FILES_VOLUME_NAME,
  LAUNCHER_ENV,
  formatFileSpecs,
} from '../shared/injection-contract.ts';
import { buildResources, buildRestrictedSecurityContext, installRunAsUser } from './init-containers.ts';
import type { Container, EnvVar, Pod } from './pod.ts';

export interface FilePlan {
  /** runAsUser of the writing init container (undefined: inherit the pod's). */
  readonly runAsUser: number | undefined;
  readonly fileMode: typeof FILE_MODE_OWNER | typeof FILE_MODE_GROUP | typeof FILE_MODE_POD;
}

export type FilePlanResult = { readonly ok: true; readonly plan: FilePlan; readonly warning?: string } | { readonly ok: false; readonly problem: string };

/**
 * Who may read the files. With `fsGroup` the volume is group-owned by it (every container has it as
 * a supplementary group): 0440. Without it, when every app container runs as one known non-root
 * user, the writer runs as that user: 0400. Otherwise (no runAsUser, mixed users, root) the files
 * cannot be private to one user: 0444 in the pod's own in-memory volume, with a warning naming why
 * and the fix (drop-in users of the sidecar injector keep their manifests; it wrote 0644).
 */
export function planFileOwnership(pod: Pod, files: FileModeConfig): FilePlanResult {
  const podContext = pod.spec?.securityContext;
  if (podContext?.fsGroup !== undefined) return { ok: true, plan: { runAsUser: installRunAsUser(pod), fileMode: FILE_MODE_GROUP } };
  const users = new Map<string, number | undefined>();
  for (const container of pod.spec?.containers ?? []) {
    users.set(container.name, container.securityContext?.runAsUser ?? podContext?.runAsUser);
  }
  const unknown = [...users].filter(([, user]) => user === undefined).map(([name]) => name);
  const distinct = new Set(users.values());
  const only = [...distinct][0];
  // kubectl shows warnings of at most 120 characters: the why is short, the fix is the README's.
  const shared = (why: string): FilePlanResult => ({
    ok: true,
    plan: { runAsUser: installRunAsUser(pod), fileMode: FILE_MODE_POD },
    warning: `file mode ${files.mountPath}: files 0444, readable by all containers of this pod (${why}); set fsGroup or one runAsUser`,
  });
  if (unknown.length > 0) return shared(unknown.length === users.size ? 'no runAsUser' : `no runAsUser in ${quoteList(unknown)}`);
  if (distinct.size !== 1 || only === undefined) return shared('different users');
  if (only === 0) return shared('root');
  return { ok: true, plan: { runAsUser: only, fileMode: FILE_MODE_OWNER } };
}

/** A mount path already used by another volume in an app container makes the pod invalid: say so. */
export function findMountConflict(pod: Pod, files: FileModeConfig): string | undefined {
  for (const container of pod.spec?.containers ?? []) {
    const clash = container.volumeMounts?.find((mount) => mount.name !== FILES_VOLUME_NAME && mount.mountPath.replace(/(.)\/+$/, '$1') === files.mountPath);
    if (clash !== undefined) {
      return `file mode: container "${container.name}" already mounts volume "${clash.name}" at ${files.mountPath}; choose another secrets.k8s.aws/mount-path`;
    }
  }
  return undefined;
}

export function buildFilesContainer(config: PodConfig, files: FileModeConfig, plan: FilePlan, image: string): Container {
  const env: EnvVar[] = [
    { name: LAUNCHER_ENV.files, value: formatFileSpecs(files.secrets.map((secret) => ({ secretId: secret.arn, region: secret.region, path: secret.path }))) },
    { name: LAUNCHER_ENV.fileMode, value: plan.fileMode },
  ];
  if (config.debug) env.push({ name: LAUNCHER_ENV.debug, value: 'true' });
  if (config.numberOfRetry > 0) env.push({ name: LAUNCHER_ENV.numberOfRetry, value: String(config.numberOfRetry) });
  if (config.initialDelay !== undefined) env.push({ name: LAUNCHER_ENV.initialDelay, value: config.initialDelay });
  return {
    name: FILES_CONTAINER_NAME,
    image,
    imagePullPolicy: config.envImagePullPolicy,
    args: [...FILES_ARGS],
    env,
    resources: buildResources(config),
    securityContext: buildRestrictedSecurityContext(plan.runAsUser),
    volumeMounts: [{ name: FILES_VOLUME_NAME, mountPath: files.mountPath }],
  };
}

/** The tmpfs volume (1 MiB per secret; Secrets Manager values are at most 64 KiB) and the app mounts. */
export function applyFileVolume(pod: Pod, files: FileModeConfig): void {
  const spec = (pod.spec ??= { containers: [] });
  const volumes = (spec.volumes ??= []);
  if (!volumes.some((volume) => volume.name === FILES_VOLUME_NAME)) {
    volumes.push({ name: FILES_VOLUME_NAME, emptyDir: { medium: 'Memory', sizeLimit: `${Math.max(1, files.secrets.length)}Mi` } });
  }
  for (const container of spec.containers) {
    const mounts = (container.volumeMounts ??= []);
    if (!mounts.some((mount) => mount.name === FILES_VOLUME_NAME)) mounts.push({ name: FILES_VOLUME_NAME, mountPath: files.mountPath, readOnly: true });
  }
}

function quoteList(names: readonly string[]): string {
  return names.map((name) => `"${name}"`).join(', ');
}
