// What `npm run bench:pods` creates, as pure builders: the app (busybox `/bin/sh -c`, the same script
// in every case, printing MARKER as its first line), a Pod per case for the real nodes, and the
// AWSSecrets. Every pod gives its command, so the webhook never reads the image from the registry.
import type { V1Pod, V1PodSpec } from '@kubernetes/client-node';
import { API_VERSION, KIND } from '../../src/controller/awssecret.ts';
import { escapeKubernetesReferences } from '../../src/shared/injection-contract.ts';
import { onRealNode } from '../../scripts/local/app-image.ts';

export const CASES = ['plain', 'injected', 'injected-copy', 'awssecret', 'awssecret-sync'] as const;
export type CaseName = (typeof CASES)[number];

/** What each case is, for the report. */
export const CASE_TITLES: Readonly<Record<CaseName, string>> = {
  plain: 'plain pod (baseline)',
  injected: 'injected, proxy mode, 3 keys, launcher from an image volume',
  'injected-copy': 'injected, proxy mode, 3 keys, launcher copied by the init container',
  awssecret: 'AWSSecret Secret mounted, synced before',
  'awssecret-sync': 'AWSSecret + pod applied together',
};

/** The app's first line: its own process has started (and, where it checks, found its inputs). */
export const MARKER = 'piggy-bench: app started';
/** The Secrets Manager secret's keys (3, as the launcher benchmark's proxy case). */
export const SECRET_KEYS = ['username', 'password', 'token'] as const;
export const SECRET_MOUNT = '/etc/app-secret';
/** The AWSSecret of the `awssecret` case, synced once before the measured pods. */
export const PRESYNCED = 'presynced';

/**
 * The app: check its inputs without printing them (an injected pod's variables, a mounted Secret's
 * file), print MARKER, then stay up until SIGTERM (PID 1: `wait` is interrupted by the trap).
 */
export function buildAppScript(check: string | undefined): string {
  return [...(check === undefined ? [] : [`${check} || exit 3`]), `echo "${MARKER}"`, 'trap "exit 0" TERM', 'sleep 3600 & wait'].join('\n');
}

interface PodInput {
  readonly name: string;
  readonly namespace: string;
  readonly image: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Pin to one node (the warm-up pulls the images on each node). */
  readonly nodeName?: string | undefined;
}

function buildPod(input: PodInput, script: string, extra: { annotations?: Record<string, string>; env?: { name: string; value: string }[]; secret?: string }): V1Pod {
  const spec: V1PodSpec = {
    serviceAccountName: 'default',
    terminationGracePeriodSeconds: 2,
    ...(input.nodeName === undefined ? {} : { nodeName: input.nodeName }),
    ...(extra.secret === undefined ? {} : { volumes: [{ name: 'app-secret', secret: { secretName: extra.secret } }] }),
    containers: [{
      name: 'app',
      image: input.image,
      imagePullPolicy: 'IfNotPresent',
      // Kubernetes expands $(VAR) in command, so every `$` of the script is written `$$`.
      command: ['/bin/sh', '-c', escapeKubernetesReferences(script)],
      ...(extra.env === undefined ? {} : { env: extra.env }),
      ...(extra.secret === undefined ? {} : { volumeMounts: [{ name: 'app-secret', mountPath: SECRET_MOUNT, readOnly: true }] }),
    }],
  };
  return {
    metadata: { name: input.name, namespace: input.namespace, labels: { ...input.labels }, ...(extra.annotations === undefined ? {} : { annotations: extra.annotations }) },
    spec: onRealNode(spec),
  };
}

/** Each injected case names its delivery, so the controller's default does not decide it. */
const DELIVERY_OF = { injected: 'image-volume', 'injected-copy': 'init-container' } as const;
/** The delivery the webhook must have used for the case (launcherDelivery's words). */
export const EXPECTED_DELIVERY: Readonly<Partial<Record<CaseName, string>>> = { injected: 'image volume', 'injected-copy': 'init container copy' };
export const isInjected = (kind: CaseName): boolean => kind === 'injected' || kind === 'injected-copy';

const ENV_NAMES: Readonly<Record<(typeof SECRET_KEYS)[number], string>> = { username: 'DB_USER', password: 'DB_PASSWORD', token: 'API_TOKEN' };

/** The case's pod; `secretName` is the Secrets Manager secret (injected) or the Secret (the AWSSecret cases). */
export function buildCasePod(kind: CaseName, input: PodInput, secretName: string): V1Pod {
  switch (kind) {
    case 'plain':
      return buildPod(input, buildAppScript(undefined), {});
    case 'injected':
    case 'injected-copy':
      // Set, and not the literal reference: the launcher resolved it (values are never printed).
      return buildPod(input, buildAppScript(SECRET_KEYS.map((key) => `[ -n "$${ENV_NAMES[key]}" ] && [ "$\{${ENV_NAMES[key]}#piggy:}" = "$${ENV_NAMES[key]}" ]`).join(' && ')), {
        annotations: { 'piggysec.com/aws-secret-name': secretName, 'piggysec.com/piggy-env-delivery': DELIVERY_OF[kind] },
        env: SECRET_KEYS.map((key) => ({ name: ENV_NAMES[key], value: `piggy:${key}` })),
      });
    case 'awssecret':
    case 'awssecret-sync':
      return buildPod(input, buildAppScript(SECRET_KEYS.map((key) => `[ -s ${SECRET_MOUNT}/${key} ]`).join(' && ')), { secret: secretName });
  }
}

/** An AWSSecret pinning VERSIONID of SECRETID; its Secret is NAME. */
export function buildAWSSecret(namespace: string, name: string, secretId: string, versionId: string): Record<string, unknown> {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, namespace },
    spec: { stringDataFrom: { secretsManagerSecretRef: { secretId, versionId } } },
  };
}
