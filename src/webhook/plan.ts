/**
 * Plans a pod's mutation: which containers to wrap (reading referenced ConfigMaps/Secrets and image
 * configs through the functions in `deps`), with which template, and file mode's ownership. The
 * only I/O goes through `deps`; every failure becomes a denial with a message a user can act on.
 */
import type { PodConfig } from '../config/annotations.ts';
import { ANNOTATIONS } from '../config/annotations.ts';
import { messageOf } from '../shared/errors.ts';
import { buildTemplate, isWrapped, needsImageEntrypoint, readWrappedTemplate } from './command.ts';
import { REASONS, type Reason } from './decide.ts';
import { detectLiteralReferences, detectReferences, hasReferences, planRefs, refId, uniqueRefs, type LookupRef } from './detect.ts';
import { findMountConflict, planFileOwnership, type FilePlan } from './file-mode.ts';
import type { WrapPlan } from './mutate.ts';
import { listContainers, type ContainerSlot, type Pod } from './pod.ts';

export interface ImageRequestContext {
  /** The pod's namespace: its imagePullSecrets and service account live there. */
  readonly namespace: string;
  readonly serviceAccountName: string;
  /** Non-empty names from spec.imagePullSecrets (the service account's are for the resolver to add). */
  readonly imagePullSecrets: readonly string[];
  /** piggysec.com/image-pull-secret, in image-pull-secret-namespace (default: the pod's). */
  readonly extraPullSecret: { readonly name: string; readonly namespace: string } | undefined;
  readonly imagePullPolicy: string | undefined;
  /** From the pod's nodeSelector (kubernetes.io/os, kubernetes.io/arch) when it pins one. */
  readonly platform: { readonly os: string; readonly architecture: string } | undefined;
  readonly signal: AbortSignal;
}

export interface ResolvedImageConfig {
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  readonly digest?: string;
}

export type ResolveImage = (image: string, context: ImageRequestContext) => Promise<ResolvedImageConfig>;

export interface PlanDeps {
  readonly lookupRef: LookupRef;
  readonly resolveImage: ResolveImage;
  /** Optional early check of the controller's access policy (proxy mode). */
  readonly allowsSecret?: (namespace: string, secretId: string, region: string | undefined) => boolean;
}

export type PlanResult =
  | { readonly ok: true; readonly wraps: readonly WrapPlan[]; readonly filePlan: FilePlan | undefined; readonly reasons: Reason[]; readonly warnings: string[] }
  | { readonly ok: false; readonly code: number; readonly message: string; readonly reasons: Reason[] };

interface Inspected {
  readonly slot: ContainerSlot;
  readonly template?: readonly string[];
}

const deny = (code: number, message: string, reasons: Reason[]): PlanResult => ({ ok: false, code, message, reasons });
const transientCode = (error: unknown) => ((error as { kind?: unknown }).kind === 'terminal' ? 400 : 503);

/** Containers that reference `piggy:` (or are already wrapped), reading refs only when a literal does not settle it. */
async function findContainersToWrap(pod: Pod, namespace: string, deps: PlanDeps, signal: AbortSignal, reasons: Reason[]): Promise<Inspected[]> {
  const chosen: Inspected[] = [];
  const pending: ContainerSlot[] = [];
  for (const slot of listContainers(pod)) {
    const name = slot.container.name;
    if (isWrapped(slot.container)) {
      chosen.push({ slot, template: readWrappedTemplate(slot.container) });
      reasons.push({ code: REASONS.alreadyWrapped, container: name });
      continue;
    }
    const literal = detectLiteralReferences(slot.container);
    if (literal.length > 0) {
      chosen.push({ slot });
      reasons.push({ code: REASONS.references, container: name, detail: 'env', names: literal });
    } else if (planRefs(slot.container).length > 0) pending.push(slot);
    else reasons.push({ code: REASONS.noReferences, container: name });
  }
  const refs = uniqueRefs(pending.flatMap((slot) => planRefs(slot.container)));
  const aborted = new Promise<never>((_resolve, reject) => {
    signal.addEventListener('abort', () => reject(new Error('timed out reading ConfigMaps and Secrets')), { once: true });
  });
  aborted.catch(() => undefined);
  const facts = new Map(await Promise.race([Promise.all(refs.map(async (ref) => [refId(ref), await deps.lookupRef(ref.kind, namespace, ref.name)] as const)), aborted]));
  for (const slot of pending) {
    const detection = detectReferences(slot.container, facts);
    if (detection.missing.length > 0) reasons.push({ code: REASONS.missingRef, container: slot.container.name, names: detection.missing });
    if (!hasReferences(detection)) {
      reasons.push({ code: REASONS.noReferences, container: slot.container.name });
      continue;
    }
    chosen.push({ slot });
    for (const [path, names] of Object.entries(detection.found)) {
      if (names.length > 0) reasons.push({ code: REASONS.references, container: slot.container.name, detail: path, names });
    }
  }
  return chosen;
}

/** Mode checks that would otherwise give a pod whose launcher can only fail. */
function checkMode(config: PodConfig, pod: Pod, namespace: string, deps: PlanDeps): string | undefined {
  if (config.standalone) {
    if (config.secretName === undefined && config.ssmParameterPath === undefined) {
      return `standalone mode needs ${ANNOTATIONS.awsSecretName} or ${ANNOTATIONS.awsSsmParameterPath}`;
    }
    return undefined;
  }
  if (config.address === undefined) {
    return `proxy mode needs ${ANNOTATIONS.piggyAddress} (or the controller's PIGGY_ADDRESS); or set ${ANNOTATIONS.standalone}: "true"`;
  }
  if (deps.allowsSecret !== undefined && config.ssmParameterPath === undefined) {
    const serviceAccount = pod.spec?.serviceAccountName ?? 'default';
    const secretId = config.secretName ?? `${config.defaultSecretNamePrefix}${namespace}/${serviceAccount}${config.defaultSecretNameSuffix}`;
    if (!deps.allowsSecret(namespace, secretId, config.region)) return `the access policy does not allow namespace ${namespace} to read secret ${secretId}`;
  }
  return undefined;
}

function imageContext(pod: Pod, namespace: string, config: PodConfig, signal: AbortSignal): Omit<ImageRequestContext, 'imagePullPolicy'> {
  const selector = pod.spec?.nodeSelector ?? {};
  const architecture = selector['kubernetes.io/arch'] ?? selector['beta.kubernetes.io/arch'];
  const os = selector['kubernetes.io/os'] ?? selector['beta.kubernetes.io/os'] ?? 'linux';
  return {
    namespace,
    serviceAccountName: pod.spec?.serviceAccountName ?? pod.spec?.serviceAccount ?? 'default',
    // Piggy prepended empty names here and failed every pod with imagePullSecrets; only real names pass.
    imagePullSecrets: (pod.spec?.imagePullSecrets ?? []).map((ref) => ref.name ?? '').filter((name) => name !== ''),
    extraPullSecret: config.imagePullSecret === undefined ? undefined : { name: config.imagePullSecret, namespace: config.imagePullSecretNamespace ?? namespace },
    platform: architecture === undefined ? undefined : { os, architecture },
    signal,
  };
}

const withoutImagePrefix = (message: string) => message.replace(/^image "[^"]*": /, '');

interface Failure {
  readonly message: string;
  readonly code: number;
}

/** Templates for the chosen containers; image configs are read concurrently, once per image. */
async function planTemplates(chosen: readonly Inspected[], config: PodConfig, context: Omit<ImageRequestContext, 'imagePullPolicy'>, deps: PlanDeps, notes: { reasons: Reason[]; warnings: string[] }): Promise<{ wraps: WrapPlan[]; failures: Failure[] }> {
  const reads = new Map<string, Promise<ResolvedImageConfig>>();
  for (const { slot, template } of chosen) {
    const image = slot.container.image ?? '';
    if (template !== undefined || !needsImageEntrypoint(slot.container) || reads.has(image)) continue;
    const read = Promise.resolve().then(() => deps.resolveImage(image, { ...context, imagePullPolicy: slot.container.imagePullPolicy }));
    read.catch(() => undefined);
    reads.set(image, read);
  }
  const wraps: WrapPlan[] = [];
  const failures: Failure[] = [];
  for (const { slot, template } of chosen) {
    const { container } = slot;
    const image = container.image ?? '';
    const read = reads.get(image);
    if (template !== undefined || read === undefined || !needsImageEntrypoint(container)) {
      wraps.push({ key: slot.key, template: template ?? buildTemplate(container, undefined) });
      continue;
    }
    let resolved: ResolvedImageConfig;
    try {
      resolved = await read;
    } catch (error) {
      const aborted = context.signal.aborted;
      const why = aborted ? 'timed out reading the image config' : withoutImagePrefix(messageOf(error));
      notes.reasons.push({ code: REASONS.imageUnreadable, container: container.name, detail: image });
      if (config.imageFailurePolicy === 'admit') {
        notes.warnings.push(`piggy did not wrap container "${container.name}": ${why}; its piggy: values stay unresolved`);
        notes.reasons.push({ code: REASONS.admittedUnwrapped, container: container.name });
      } else {
        const message = `container "${container.name}" sets no command and the entrypoint of image "${image}" could not be read: ${why}`;
        failures.push({ message, code: aborted ? 503 : transientCode(error) });
      }
      continue;
    }
    const built = buildTemplate(container, resolved);
    if (built.length === 0) {
      failures.push({ code: 400, message: `container "${container.name}" sets no command and image "${image}" has no ENTRYPOINT or CMD` });
      continue;
    }
    const pin = config.imagePinDigest && resolved.digest !== undefined && !image.includes('@');
    wraps.push({ key: slot.key, template: built, ...(pin ? { image: `${image}@${resolved.digest ?? ''}` } : {}) });
  }
  return { wraps, failures };
}

function planFiles(pod: Pod, config: PodConfig, notes: { reasons: Reason[]; warnings: string[] }): { ok: true; plan: FilePlan | undefined } | { ok: false; problem: string } {
  const { reasons } = notes;
  if (config.files === undefined) return { ok: true, plan: undefined };
  const ownership = planFileOwnership(pod, config.files);
  if (!ownership.ok) return { ok: false, problem: ownership.problem };
  if (ownership.warning !== undefined) notes.warnings.push(ownership.warning);
  const conflict = findMountConflict(pod, config.files);
  if (conflict !== undefined) return { ok: false, problem: conflict };
  reasons.push({ code: REASONS.fileMode, names: config.files.secrets.map((secret) => secret.path), detail: ownership.plan.fileMode });
  return { ok: true, plan: ownership.plan };
}

export async function planMutation(pod: Pod, namespace: string, config: PodConfig, flags: { piggy: boolean; files: boolean }, deps: PlanDeps, signal: AbortSignal): Promise<PlanResult> {
  const notes = { reasons: [] as Reason[], warnings: [] as string[] };
  const { reasons, warnings } = notes;
  const files = flags.files ? planFiles(pod, config, notes) : { ok: true as const, plan: undefined };
  if (!files.ok) return deny(400, `piggy: ${files.problem}`, reasons);
  let chosen: Inspected[] = [];
  try {
    if (flags.piggy) chosen = await findContainersToWrap(pod, namespace, deps, signal, reasons);
  } catch (error) {
    const why = signal.aborted ? 'timed out' : messageOf(error);
    return deny(signal.aborted ? 503 : transientCode(error), `piggy: cannot read the ConfigMaps/Secrets the containers' env refers to: ${why}`, reasons);
  }
  if (chosen.length === 0 && files.plan === undefined) return { ok: true, wraps: [], filePlan: undefined, reasons, warnings };
  if (pod.spec?.os?.name === 'windows') return deny(400, 'piggy: piggy-env runs on Linux only; this pod sets spec.os.name: windows', reasons);
  if (config.envImage === undefined) {
    return deny(400, `piggy: ${ANNOTATIONS.envImage} is not set: set the annotation or the controller's PIGGY_ENV_IMAGE`, reasons);
  }
  const problem = chosen.length > 0 ? checkMode(config, pod, namespace, deps) : undefined;
  if (problem !== undefined) return deny(400, `piggy: ${problem}`, reasons);
  const { wraps, failures } = await planTemplates(chosen, config, imageContext(pod, namespace, config, signal), deps, notes);
  if (failures.length > 0) {
    const code = failures.some((failure) => failure.code === 503) ? 503 : 400;
    const hint = `; set a command on the container, or ${ANNOTATIONS.imageFailurePolicy}: "admit" to start it unwrapped`;
    return deny(code, `piggy: ${failures.map((failure) => failure.message).join('; ')}${hint}`, reasons);
  }
  return { ok: true, wraps, filePlan: files.plan, reasons, warnings };
}
