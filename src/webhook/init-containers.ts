/**
 * The init containers piggy injects, compliant with the *restricted* Pod Security Standard, and
 * their placement in `spec.initContainers`. Pure.
 */
import type { PodConfig } from '../config/annotations.ts';
import {
  DEFAULT_RUN_AS_USER,
  INSTALL_ARGS,
  INSTALL_CONTAINER_NAME,
  INSTALL_MOUNT_PATH,
  LAUNCHER_VOLUME_NAME,
} from '../shared/injection-contract.ts';
import type { Container, Pod, PodSpec, SecurityContext } from './pod.ts';

/** restricted PSS: non-root, no privilege escalation, every capability dropped, RuntimeDefault seccomp. */
export function buildRestrictedSecurityContext(runAsUser: number | undefined): SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    ...(runAsUser === undefined ? {} : { runAsUser }),
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** The pod's runAsUser when it is a non-root one (inherited), else an explicit non-root default. */
export function installRunAsUser(pod: Pod): number | undefined {
  const podUser = pod.spec?.securityContext?.runAsUser;
  return podUser === undefined || podUser === 0 ? DEFAULT_RUN_AS_USER : undefined;
}

export function buildResources(config: PodConfig): NonNullable<Container['resources']> {
  return {
    limits: { cpu: config.resources.limits.cpu, memory: config.resources.limits.memory },
    requests: { cpu: config.resources.requests.cpu, memory: config.resources.requests.memory },
  };
}

/** `install-piggy-env`: the piggy-env image's ENTRYPOINT (the launcher) copies itself into the volume. */
export function buildInstallContainer(pod: Pod, config: PodConfig, image: string): Container {
  return {
    name: INSTALL_CONTAINER_NAME,
    image,
    imagePullPolicy: config.envImagePullPolicy,
    args: [...INSTALL_ARGS],
    resources: buildResources(config),
    securityContext: buildRestrictedSecurityContext(installRunAsUser(pod)),
    volumeMounts: [{ name: LAUNCHER_VOLUME_NAME, mountPath: INSTALL_MOUNT_PATH }],
  };
}

/**
 * Puts piggy's init containers (in the given order) in front when one is missing or when one runs
 * after an init container that depends on it; otherwise leaves the list alone, so a reinvocation
 * next to another webhook that reorders init containers does not fight it. Existing ones are kept
 * as they are (the API server has defaulted their fields).
 */
export function placeInitContainers(spec: PodSpec, wanted: readonly Container[], dependents: ReadonlySet<string>): void {
  const list = spec.initContainers ?? [];
  const ours = new Set(wanted.map((container) => container.name));
  const indexOf = (name: string) => list.findIndex((container) => container.name === name);
  const firstDependent = list.findIndex((container) => dependents.has(container.name));
  const settled = wanted.every((container) => {
    const at = indexOf(container.name);
    return at !== -1 && (firstDependent === -1 || at < firstDependent);
  });
  if (settled) return;
  const kept = wanted.map((container) => list.find((existing) => existing.name === container.name) ?? container);
  spec.initContainers = [...kept, ...list.filter((container) => !ours.has(container.name))];
}
