// A test kubelet: runs a Pod as stored by the real API server, the way the kubelet would, but each
// container in an isolated root (bench/env/sandbox.ts: a private mount namespace + chroot, no
// Node.js). What it does for a pod:
//   volumes       emptyDir → a host folder (0777); projected serviceAccountToken → a TokenRequest
//                 bound to the pod with the volume's audience, written to the file; image → that
//                 catalogue image's root (a subPath the image binds from elsewhere: that folder), read-only;
//   token         unless automountServiceAccountToken is false, a pod-bound token (TokenRequest with
//                 the API server's audience) at /var/run/secrets/kubernetes.io/serviceaccount/token;
//   env           image env, then the container's env in order: `value` with the kubelet's $(VAR)
//                 expansion (`$$` → `$`, unknown references kept), `valueFrom.fieldRef` (downward API);
//   argv          command (else the image entrypoint) + args (else the image cmd), expanded the same way;
//   user          runAsUser/runAsGroup of the container, else the pod's, else the image's;
//   order         init containers one after another (a failure stops the pod), then the containers.
// Images are a catalogue (name → root folder, entrypoint, cmd, env, user, extra binds) the test gives.
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { V1Container, V1Pod, V1Volume } from '@kubernetes/client-node';
import { runInRoot, startInRoot, type Bind, type RootResult, type RunningRoot } from '../../bench/env/sandbox.ts';
import { expandKubeletReferences } from '../../scripts/local/kubelet-expansion.ts';
import { requestPodToken } from '../../scripts/local/kube-objects.ts';
import { kube } from './kube.ts';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface ImageEntry {
  /** The image's root folder (must hold /proc). */
  readonly root: string;
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** uid:gid when the pod says nothing. */
  readonly user: string;
  /** Folders of the image that live elsewhere on the host (bind-mounted read-only). */
  readonly binds?: readonly Bind[];
}

/** What a test changes to play an attacker or a broken node; by container name. */
export interface ContainerOverride {
  /** The content of every token file the container sees (automounted and projected) instead of this pod's own tokens. */
  readonly token?: string;
  /** Replaces the argv the kubelet computed (a process that calls the launcher differently). */
  readonly argv?: (argv: readonly string[]) => readonly string[];
  /** Set (or, with undefined, remove) variables after the kubelet computed the env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface PreparedContainer {
  readonly name: string;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly user: string;
  readonly root: string;
  readonly binds: readonly Bind[];
}

export interface PodRun {
  /** Results of the init containers that ran (stops at the first failure). */
  readonly init: readonly (RootResult & { readonly name: string })[];
  /** The app containers, started once every init container exited 0 (empty otherwise). */
  readonly containers: ReadonlyMap<string, RunningRoot>;
  /** Resolves when every app container exited. */
  finished(): Promise<Map<string, RootResult>>;
  /** Kills what still runs (by PID) and removes the pod's folders. */
  dispose(): Promise<void>;
}

export interface Kubelet {
  /** Prepares and runs the pod; `overrides` by container name. */
  runPod(pod: V1Pod, overrides?: Readonly<Record<string, ContainerOverride>>): Promise<PodRun>;
  /** A token for the pod's service account bound to the pod (what the kubelet projects). */
  podToken(pod: V1Pod, audiences?: readonly string[]): Promise<string>;
}

function fieldValue(pod: V1Pod, path: string): string {
  switch (path) {
    case 'metadata.name':
      return pod.metadata?.name ?? '';
    case 'metadata.namespace':
      return pod.metadata?.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata?.uid ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? 'default';
    case 'spec.nodeName':
      return 'test-kubelet';
    case 'status.podIP':
      return '127.0.0.1';
    default:
      throw new Error(`the test kubelet does not fill fieldRef ${path}`);
  }
}

function containerEnv(pod: V1Pod, container: V1Container, image: ImageEntry): Record<string, string> {
  const defined = new Map<string, string>();
  for (const item of container.env ?? []) {
    if (item.valueFrom !== undefined) {
      const path = item.valueFrom.fieldRef?.fieldPath;
      if (path === undefined) throw new Error(`the test kubelet only fills fieldRef, not ${JSON.stringify(item.valueFrom)}`);
      defined.set(item.name, fieldValue(pod, path));
    } else {
      defined.set(item.name, expandKubeletReferences(item.value ?? '', defined));
    }
  }
  if ((container.envFrom ?? []).length > 0) throw new Error('the test kubelet does not read envFrom');
  return { ...image.env, ...Object.fromEntries(defined) };
}

function containerArgv(container: V1Container, image: ImageEntry, env: Readonly<Record<string, string>>): string[] {
  const vars = new Map(Object.entries(env));
  const expand = (list: readonly string[]) => list.map((part) => expandKubeletReferences(part, vars));
  if (container.command !== undefined) return [...expand(container.command), ...expand(container.args ?? [])];
  return [...(image.entrypoint ?? []), ...(container.args === undefined ? (image.cmd ?? []) : expand(container.args))];
}

function containerUser(pod: V1Pod, container: V1Container, image: ImageEntry): string {
  const [imageUid, imageGid] = image.user.split(':');
  const uid = container.securityContext?.runAsUser ?? pod.spec?.securityContext?.runAsUser ?? imageUid;
  const gid = container.securityContext?.runAsGroup ?? pod.spec?.securityContext?.runAsGroup ?? imageGid;
  return `${String(uid)}:${String(gid)}`;
}

/** The token volume the API server's ServiceAccount admission adds (kube-api-access-<suffix>). */
const isServiceAccountVolume = (name: string): boolean => /^kube-api-access-[a-z0-9]+$/.test(name);

/** A kubelet for pods in `workDir` (one sub-folder per pod uid), running images from `images`. */
export function createKubelet(workDir: string, images: Readonly<Record<string, ImageEntry>>): Kubelet {
  const podToken = (pod: V1Pod, audiences: readonly string[] = []): Promise<string> =>
    requestPodToken(kube().kc, { namespace: pod.metadata?.namespace ?? '', name: pod.metadata?.name ?? '', uid: pod.metadata?.uid ?? '', serviceAccount: pod.spec?.serviceAccountName ?? 'default' }, { audiences });

  /** The host folder an image volume's mount shows: the image's root or subPath (read-only, as the runtime mounts it). */
  const imageVolumeSource = (reference: string, subPath: string | undefined): string => {
    const image = images[reference];
    if (image === undefined) throw new Error(`the test kubelet has no image ${reference} for an image volume`);
    if (subPath === undefined) return image.root;
    return image.binds?.find((bind) => bind.target === `/${subPath}`)?.source ?? join(image.root, subPath);
  };

  /** Host folder per volume; projected tokens written now. */
  const prepareVolumes = async (pod: V1Pod, podDir: string): Promise<Map<string, string>> => {
    const folders = new Map<string, string>();
    for (const volume of pod.spec?.volumes ?? []) {
      if (isServiceAccountVolume(volume.name)) continue; // the automount below plays it (overrides included)
      if (volume.image !== undefined) continue; // resolved per mount (imageVolumeSource)
      const folder = join(podDir, 'volumes', volume.name);
      await mkdir(folder, { recursive: true, mode: 0o777 });
      await chmod(folder, 0o777);
      if (volume.projected !== undefined) await writeProjected(pod, volume, folder);
      else if (volume.emptyDir === undefined) throw new Error(`the test kubelet only provides emptyDir and projected token volumes, not ${volume.name}`);
      folders.set(volume.name, folder);
    }
    return folders;
  };

  const writeProjected = async (pod: V1Pod, volume: V1Volume, folder: string): Promise<void> => {
    for (const source of volume.projected?.sources ?? []) {
      const token = source.serviceAccountToken;
      if (token === undefined) throw new Error(`the test kubelet only projects serviceAccountToken sources (${volume.name})`);
      await writeFile(join(folder, token.path), await podToken(pod, token.audience === undefined ? [] : [token.audience]), { mode: 0o644 });
    }
  };

  const prepare = async (pod: V1Pod, container: V1Container, folders: Map<string, string>, podDir: string, override: ContainerOverride = {}): Promise<PreparedContainer> => {
    const image = images[container.image ?? ''];
    if (image === undefined) throw new Error(`the test kubelet has no image ${container.image ?? '(none)'}`);
    const binds: Bind[] = [...(image.binds ?? [])];
    for (const mount of container.volumeMounts ?? []) {
      if (isServiceAccountVolume(mount.name)) continue;
      const projected = pod.spec?.volumes?.find((volume) => volume.name === mount.name)?.projected;
      if (override.token !== undefined && projected !== undefined) {
        const own = join(podDir, 'override', container.name, mount.name);
        await mkdir(own, { recursive: true, mode: 0o777 });
        for (const source of projected.sources ?? []) if (source.serviceAccountToken) await writeFile(join(own, source.serviceAccountToken.path), override.token, { mode: 0o644 });
        binds.push({ source: own, target: mount.mountPath, readOnly: true });
        continue;
      }
      const imageVolume = pod.spec?.volumes?.find((volume) => volume.name === mount.name)?.image;
      if (imageVolume !== undefined) {
        binds.push({ source: imageVolumeSource(imageVolume.reference ?? '', mount.subPath), target: mount.mountPath, readOnly: true });
        continue;
      }
      const folder = folders.get(mount.name);
      if (folder === undefined) throw new Error(`${container.name} mounts ${mount.name}, which the pod does not declare`);
      binds.push({ source: mount.subPath === undefined ? folder : join(folder, mount.subPath), target: mount.mountPath, readOnly: mount.readOnly === true });
    }
    if (pod.spec?.automountServiceAccountToken !== false) {
      const folder = join(podDir, 'serviceaccount', container.name);
      await mkdir(folder, { recursive: true });
      await writeFile(join(folder, 'token'), override.token ?? (await podToken(pod)), { mode: 0o644 });
      await writeFile(join(folder, 'namespace'), pod.metadata?.namespace ?? '', { mode: 0o644 });
      binds.push({ source: folder, target: SERVICE_ACCOUNT_DIR, readOnly: true });
    }
    for (const bind of binds) await mkdir(join(image.root, bind.target), { recursive: true });
    const computed = containerEnv(pod, container, image);
    for (const [name, value] of Object.entries(override.env ?? {})) {
      if (value === undefined) Reflect.deleteProperty(computed, name);
      else computed[name] = value;
    }
    const argv = containerArgv(container, image, computed);
    return {
      name: container.name,
      argv: override.argv === undefined ? argv : override.argv(argv),
      env: computed,
      user: containerUser(pod, container, image),
      root: image.root,
      binds,
    };
  };

  const runPod = async (pod: V1Pod, overrides: Readonly<Record<string, ContainerOverride>> = {}): Promise<PodRun> => {
    const podDir = join(workDir, pod.metadata?.uid ?? 'no-uid');
    await mkdir(podDir, { recursive: true });
    const folders = await prepareVolumes(pod, podDir);
    const init: (RootResult & { name: string })[] = [];
    const containers = new Map<string, RunningRoot>();
    const toRun = (prepared: PreparedContainer) => ({ root: prepared.root, binds: prepared.binds, argv: prepared.argv, env: prepared.env, user: prepared.user });
    const finished = async () => new Map(await Promise.all([...containers].map(async ([name, running]) => [name, await running.done] as const)));
    const dispose = async () => {
      for (const running of containers.values()) {
        if (running.child.exitCode === null && running.child.signalCode === null) process.kill(running.pid, 'SIGKILL');
      }
      await finished();
      await rm(podDir, { recursive: true, force: true });
    };
    const result = { init, containers, finished, dispose };
    for (const container of pod.spec?.initContainers ?? []) {
      const prepared = await prepare(pod, container, folders, podDir, overrides[container.name]);
      const done = await runInRoot(toRun(prepared));
      init.push({ ...done, name: container.name });
      if (done.code !== 0) return result;
    }
    for (const container of pod.spec?.containers ?? []) {
      const prepared = await prepare(pod, container, folders, podDir, overrides[container.name]);
      containers.set(container.name, startInRoot(toRun(prepared)));
    }
    return result;
  };

  return { runPod, podToken };
}
