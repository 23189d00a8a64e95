/**
 * The pod mutation: wrap the planned containers with the launcher, add the launcher volume (an image
 * volume of the piggy-env image, or an emptyDir with the install init container), record `piggysec.com/piggy-uid`, and add file mode. Proxy mode also gets
 * the projected token of piggy's audience (volume `piggy-token`, PIGGY_TOKEN_FILE) and, in each
 * wrapped container's env, the admission record `/secret` trusts (PIGGY_ADMISSION). Works on a copy and
 * is idempotent: applying it to its own output changes nothing. Pure (ids come from `newUid`).
 */
import type { PodConfig } from '../config/annotations.ts';
import {
  IMAGE_LAUNCHER_SUBPATH,
  LAUNCHER_ENV,
  LAUNCHER_MOUNT_PATH,
  LAUNCHER_VOLUME_NAME,
  LAUNCHER_VOLUME_SIZE_LIMIT,
  PIGGY_UID_ANNOTATION,
  PROXY_TOKEN_FILE_NAME,
  PROXY_TOKEN_MOUNT_PATH,
  PROXY_TOKEN_VOLUME_NAME,
  buildCommandSignature,
  formatPiggyUids,
  isContainerUid,
  type LauncherDelivery,
} from '../shared/injection-contract.ts';
import { buildSecretTarget, formatAdmissionRecord } from '../shared/admission-record.ts';
import { buildWrappedCommand } from './command.ts';
import { applyFileVolume, buildFilesContainer, type FilePlan } from './file-mode.ts';
import { buildInstallContainer, placeInitContainers } from './init-containers.ts';
import { copyJson, findEnvValue, listContainers, upsertEnv, type Container, type EnvVar, type Pod, type Volume } from './pod.ts';

export interface WrapPlan {
  /** containerKey of the container. */
  readonly key: string;
  /** Its template (see command.ts). */
  readonly template: readonly string[];
  /** The image to run instead (pinned to the digest that was inspected). */
  readonly image?: string;
}

export interface MutationInput {
  readonly pod: Pod;
  /** The pod's namespace (metadata.namespace may be empty at admission). */
  readonly namespace: string;
  readonly config: PodConfig;
  /** Containers to wrap, including those already wrapped (refreshed in place). */
  readonly wraps: readonly WrapPlan[];
  /** The piggy-env image (required when wraps or file mode are present). */
  readonly envImage: string;
  /** How the launcher reaches the pod (launcher-delivery.ts); a reinvocation keeps the volume it finds. */
  readonly delivery: LauncherDelivery;
  /** PEM the launcher trusts for the controller (proxy mode). */
  readonly caBundle: string | undefined;
  readonly filePlan: FilePlan | undefined;
  readonly newUid: () => string;
  /** Proxy mode: the projected token the launcher sends (PROXY_TOKEN_AUDIENCE, PROXY_TOKEN_EXPIRATION). */
  readonly proxyToken: ProxyTokenSettings;
}

export interface ProxyTokenSettings {
  readonly audience: string;
  readonly expirationSeconds: number;
}

/** Proxy mode's facts of one wrapped container, recorded into its env. */
export interface RecordFacts {
  readonly signature: string;
  /** Where the pod runs: the default secret name is `${prefix}${namespace}/${serviceAccount}${suffix}`. */
  readonly namespace: string;
  readonly serviceAccount: string;
}

export interface WrappedContainer {
  readonly key: string;
  readonly uid: string;
  readonly signature: string;
}

export interface MutationResult {
  readonly pod: Pod;
  readonly wrapped: readonly WrappedContainer[];
}

/** The `PIGGY_*` env of a wrapped container (names and values are the contract of injection-contract.ts). */
export function buildLauncherEnv(config: PodConfig, uid: string, caBundle: string | undefined, facts?: RecordFacts): EnvVar[] {
  const env: EnvVar[] = [];
  const add = (name: string, value: string | undefined) => {
    if (value !== undefined && value !== '') env.push({ name, value });
  };
  add(LAUNCHER_ENV.awsSecretName, config.secretName);
  add(LAUNCHER_ENV.awsRegion, config.region);
  add(LAUNCHER_ENV.awsSsmParameterPath, config.ssmParameterPath);
  if (config.secretVersion !== undefined) {
    add(config.secretVersion.kind === 'id' ? LAUNCHER_ENV.awsSecretVersionId : LAUNCHER_ENV.awsSecretVersionStage, config.secretVersion.value);
  }
  if (config.debug) add(LAUNCHER_ENV.debug, 'true');
  if (config.standalone) {
    add(LAUNCHER_ENV.standalone, 'true');
  } else {
    add(LAUNCHER_ENV.address, config.address);
    env.push({ name: LAUNCHER_ENV.podName, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } });
    add(LAUNCHER_ENV.caBundle, caBundle);
    add(LAUNCHER_ENV.tokenFile, `${PROXY_TOKEN_MOUNT_PATH}/${PROXY_TOKEN_FILE_NAME}`);
    if (facts !== undefined) {
      const record = {
        uid,
        signature: facts.signature,
        target: buildSecretTarget(config, facts.namespace, facts.serviceAccount),
        enforceIntegrity: config.enforceIntegrity,
        enforceServiceAccount: config.enforceServiceAccount,
      };
      add(LAUNCHER_ENV.admission, formatAdmissionRecord(record));
    }
  }
  add(LAUNCHER_ENV.uid, uid);
  if (config.ignoreNoEnv) add(LAUNCHER_ENV.ignoreNoEnv, 'true');
  add(LAUNCHER_ENV.initialDelay, config.initialDelay);
  if (config.numberOfRetry > 0) add(LAUNCHER_ENV.numberOfRetry, String(config.numberOfRetry));
  return env;
}

function wrapContainer(container: Container, plan: WrapPlan, input: MutationInput, delivery: LauncherDelivery, taken: Set<string>): WrappedContainer {
  const existing = findEnvValue(container, LAUNCHER_ENV.uid);
  // A uid copied from another container would make two entries collide in piggy-uid: give a new one.
  const uid = existing !== undefined && isContainerUid(existing) && !taken.has(existing) ? existing : input.newUid();
  taken.add(uid);
  const { command, args } = buildWrappedCommand(plan.template);
  container.command = command;
  container.args = args;
  if (plan.image !== undefined) container.image = plan.image;
  const signature = buildCommandSignature(plan.template);
  const facts = { signature, namespace: input.namespace, serviceAccount: input.pod.spec?.serviceAccountName ?? 'default' };
  for (const item of buildLauncherEnv(input.config, uid, input.caBundle, facts)) upsertEnv(container, item);
  const mounts = (container.volumeMounts ??= []);
  if (!mounts.some((mount) => mount.name === LAUNCHER_VOLUME_NAME)) {
    mounts.push({ name: LAUNCHER_VOLUME_NAME, mountPath: LAUNCHER_MOUNT_PATH, readOnly: true, ...(delivery === 'image-volume' ? { subPath: IMAGE_LAUNCHER_SUBPATH } : {}) });
  }
  if (!input.config.standalone && !mounts.some((mount) => mount.name === PROXY_TOKEN_VOLUME_NAME)) {
    mounts.push({ name: PROXY_TOKEN_VOLUME_NAME, mountPath: PROXY_TOKEN_MOUNT_PATH, readOnly: true });
  }
  return { key: plan.key, uid, signature };
}

/** The projected token of piggy's audience; refreshed by the kubelet, present even without automount. */
export function buildProxyTokenVolume(settings: ProxyTokenSettings): NonNullable<NonNullable<Pod['spec']>['volumes']>[number] {
  return {
    name: PROXY_TOKEN_VOLUME_NAME,
    projected: { sources: [{ serviceAccountToken: { audience: settings.audience, expirationSeconds: settings.expirationSeconds, path: PROXY_TOKEN_FILE_NAME } }] },
  };
}

/** The launcher volume for `delivery`: the piggy-env image itself, or the emptyDir the init container fills. */
export function buildLauncherVolume(delivery: LauncherDelivery, envImage: string, pullPolicy: PodConfig['envImagePullPolicy']): Volume {
  return delivery === 'image-volume'
    ? { name: LAUNCHER_VOLUME_NAME, image: { reference: envImage, pullPolicy } }
    : { name: LAUNCHER_VOLUME_NAME, emptyDir: { sizeLimit: LAUNCHER_VOLUME_SIZE_LIMIT } };
}

export function buildMutatedPod(input: MutationInput): MutationResult {
  const pod = copyJson(input.pod);
  const spec = (pod.spec ??= { containers: [] });
  // On reinvocation the volume already there decides, so the mounts and init containers match it.
  const present = spec.volumes?.find((volume) => volume.name === LAUNCHER_VOLUME_NAME);
  const delivery: LauncherDelivery = present === undefined ? input.delivery : present.image !== undefined ? 'image-volume' : 'init-container';
  const slots = new Map(listContainers(pod).map((slot) => [slot.key, slot]));
  const wrapped: WrappedContainer[] = [];
  const taken = new Set<string>();
  // Only the webhook writes admission records: one in a container it does not wrap in proxy mode is
  // dropped (wrapping replaces its own in place, so a reinvocation changes nothing).
  const recorded = new Set(input.config.standalone ? [] : input.wraps.map((plan) => plan.key));
  for (const [key, { container }] of slots) {
    if (!recorded.has(key) && container.env?.some((item) => item.name === LAUNCHER_ENV.admission) === true) container.env = container.env.filter((item) => item.name !== LAUNCHER_ENV.admission);
  }
  for (const plan of input.wraps) {
    const slot = slots.get(plan.key);
    if (slot !== undefined) wrapped.push(wrapContainer(slot.container, plan, input, delivery, taken));
  }
  const ours: Container[] = [];
  if (wrapped.length > 0) {
    const volumes = (spec.volumes ??= []);
    if (present === undefined) volumes.push(buildLauncherVolume(delivery, input.envImage, input.config.envImagePullPolicy));
    // Kept as it is when present: the API server has defaulted it (defaultMode) on reinvocation.
    if (!input.config.standalone && !volumes.some((volume) => volume.name === PROXY_TOKEN_VOLUME_NAME)) volumes.push(buildProxyTokenVolume(input.proxyToken));
    if (delivery === 'init-container') ours.push(buildInstallContainer(input.pod, input.config, input.envImage));
    const metadata = (pod.metadata ??= {});
    const annotations = (metadata.annotations ??= {});
    annotations[PIGGY_UID_ANNOTATION] = formatPiggyUids(Object.fromEntries(wrapped.map((item) => [item.uid, item.signature])));
  } else if (pod.metadata?.annotations?.[PIGGY_UID_ANNOTATION] !== undefined) {
    // Nothing is wrapped, so no uid may be honoured by the proxy: drop a hand-written map.
    Reflect.deleteProperty(pod.metadata.annotations, PIGGY_UID_ANNOTATION);
  }
  const files = input.config.files;
  if (files !== undefined && input.filePlan !== undefined) {
    applyFileVolume(pod, files);
    ours.push(buildFilesContainer(input.config, files, input.filePlan, input.envImage));
  }
  const dependents = new Set(
    wrapped.filter((item) => item.key.startsWith('initContainers/')).map((item) => item.key.slice('initContainers/'.length)),
  );
  if (ours.length > 0) placeInitContainers(spec, ours, dependents);
  return { pod, wrapped };
}

