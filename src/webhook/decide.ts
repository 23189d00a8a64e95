/**
 * The first decision on a review: is this a Pod CREATE that opted in, and is its configuration
 * valid? Returns structured reasons for logs and metrics (names only, never values). Pure.
 */
import {
  IGNORED_ANNOTATIONS,
  isFileModeTriggered,
  isPiggyTriggered,
  parsePodConfig,
  type AnnotationDefaults,
  type PodConfig,
} from '../config/annotations.ts';
import type { AdmissionRequest } from './admission.ts';
import type { Pod } from './pod.ts';

/** Why the webhook did what it did; `code` is one of REASONS. */
export interface Reason {
  readonly code: string;
  readonly container?: string;
  readonly annotation?: string;
  readonly names?: readonly string[];
  readonly detail?: string;
}

export const REASONS = {
  notPod: 'not-a-pod',
  subresource: 'subresource',
  operation: 'operation-not-create',
  notTriggered: 'not-triggered',
  invalidAnnotation: 'invalid-annotation',
  ignoredAnnotation: 'ignored-annotation',
  references: 'references',
  alreadyWrapped: 'already-wrapped',
  missingRef: 'missing-ref',
  noReferences: 'no-references',
  imageUnreadable: 'image-unreadable',
  admittedUnwrapped: 'admitted-unwrapped',
  fileMode: 'file-mode',
  unchanged: 'unchanged',
  denied: 'denied',
} as const;

export type Decision =
  | { readonly action: 'allow'; readonly reasons: readonly Reason[] }
  | { readonly action: 'deny'; readonly code: number; readonly message: string; readonly reasons: readonly Reason[] }
  | {
      readonly action: 'inspect';
      readonly pod: Pod;
      readonly namespace: string;
      readonly config: PodConfig;
      /** Piggy's trigger rule matched (env injection). */
      readonly piggy: boolean;
      /** secrets.k8s.aws/secret-arn is set (file mode). */
      readonly files: boolean;
      readonly reasons: readonly Reason[];
      /** For the person creating the pod (kubectl shows them). */
      readonly warnings: readonly string[];
    };

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A minimally valid Pod: an object whose spec.containers is an array of named objects. */
function isPodShaped(value: unknown): value is Pod {
  if (!isObject(value) || !isObject(value.spec) || !Array.isArray(value.spec.containers)) return false;
  const containers = [...(value.spec.containers as unknown[]), ...(Array.isArray(value.spec.initContainers) ? (value.spec.initContainers as unknown[]) : [])];
  const metadata = value.metadata;
  if (metadata !== undefined && !isObject(metadata)) return false;
  const annotations = isObject(metadata) ? metadata.annotations : undefined;
  if (annotations !== undefined && annotations !== null && !(isObject(annotations) && Object.values(annotations).every((v) => typeof v === 'string'))) return false;
  return containers.every((container) => isObject(container) && typeof container.name === 'string');
}

export function decideAdmission(request: AdmissionRequest, defaults: AnnotationDefaults): Decision {
  const { resource } = request;
  if (resource.group !== '' || resource.resource !== 'pods') return { action: 'allow', reasons: [{ code: REASONS.notPod, detail: `${resource.group}/${resource.resource}` }] };
  if (request.subResource !== undefined) return { action: 'allow', reasons: [{ code: REASONS.subresource, detail: request.subResource }] };
  if (request.operation !== 'CREATE') return { action: 'allow', reasons: [{ code: REASONS.operation, detail: request.operation }] };
  if (!isPodShaped(request.object)) {
    return { action: 'deny', code: 400, message: 'request.object is not a valid Pod', reasons: [{ code: REASONS.denied, detail: 'object' }] };
  }
  const pod = request.object;
  // Piggy crashed on pods without annotations (nil map): treat absent, null and {} alike.
  const annotations = pod.metadata?.annotations ?? undefined;
  const namespace = pod.metadata?.namespace ?? request.namespace ?? '';
  const piggy = isPiggyTriggered(annotations, defaults);
  const files = isFileModeTriggered(annotations);
  if (!piggy && !files) return { action: 'allow', reasons: [{ code: REASONS.notTriggered }] };
  const parsed = parsePodConfig(annotations, defaults, { namespace });
  if (!parsed.ok) {
    const message = parsed.issues.map((issue) => `annotation ${issue.annotation}: ${issue.problem}`).join('; ');
    const reasons = parsed.issues.map((issue) => ({ code: REASONS.invalidAnnotation, annotation: issue.annotation }));
    return { action: 'deny', code: 400, message: `piggy: invalid pod annotations: ${message}`, reasons };
  }
  const ignored = IGNORED_ANNOTATIONS.filter((name) => annotations?.[name] !== undefined);
  return {
    action: 'inspect',
    pod,
    namespace,
    config: parsed.config,
    piggy,
    files,
    reasons: ignored.map((annotation) => ({ code: REASONS.ignoredAnnotation, annotation })),
    warnings: ignored.map((annotation) => `${annotation} is ignored: piggy always verifies TLS and never allows privilege escalation`),
  };
}
