/**
 * The contract between the mutating webhook (src/webhook/) and the `piggy-env` launcher (src/env/).
 * Both sides import this file, so it stays dependency-free (node:crypto only, loaded on first use:
 * importing it pulls in ~30 internal modules, streams included, a few ms of the launcher's start):
 * the launcher ships into every app container.
 *
 * What the webhook writes into a Pod, and what the launcher may rely on:
 *
 * - Volume `piggy-env` holds the launcher, delivered one of two ways (the controller's
 *   PIGGY_ENV_DELIVERY):
 *   - `image-volume`: an image volume of the piggy-env image itself; the containers mount its
 *     `piggy/` folder (subPath) at `/piggy`. The image's launcher names its loader as
 *     `/piggy/lib/<loader>`, so it runs from there as it is: nothing is copied, no init container.
 *   - `init-container`: an emptyDir on disk (sizeLimit below; the launcher is not secret), filled
 *     by the init container `install-piggy-env`, which mounts it at `/piggy-volume` and runs the
 *     piggy-env image's ENTRYPOINT (the launcher, `/piggy/piggy-env` in that image) with
 *     `install /piggy-volume --mount-path /piggy`: the launcher copies itself there, mode 0755, exits 0.
 * - Each wrapped container mounts the volume read-only at `/piggy` and runs
 *   `command: ["/piggy/piggy-env"]`, `args: ["--", ...escapeKubernetesReferences(template)]`.
 * - The launcher's argv after the first `--` is the *template*. It signs the template verbatim
 *   (buildCommandSignature), then execs buildExecArgv(template, env) with env = its environment as it
 *   started (before any `piggy:` value is resolved).
 *
 * Why the template and not the final argv. Kubernetes expands `$(VAR)` in command/args from the
 * container's env before exec (`$$` is a literal `$`, an unknown `$(X)` stays as written). The
 * webhook cannot know every value at admission (valueFrom, envFrom, service links), so it cannot sign
 * the expanded argv; and if the launcher signed what it received, the two would differ whenever a
 * `$(VAR)` appears (KongZ/piggy's bug). So the webhook takes expansion away from the kubelet: every
 * `$` it writes into args is doubled, the kubelet turns `$$` back into `$`, and the launcher receives
 * exactly the template the webhook signed. The launcher then performs the kubelet's expansion itself
 * (expandKubernetesReferences, same algorithm). Strings that came from the image's ENTRYPOINT/CMD are
 * never expanded by Kubernetes, so the webhook puts them into the template with `$` already doubled
 * (escapeKubernetesReferences) and the launcher's expansion turns them back into the literal text.
 * Net effect: identical argv to an unwrapped container, and the signature holds by construction.
 * Difference: a `$(VAR)` naming a variable that exists only in the image's ENV is expanded by the
 * launcher, where the kubelet would have left it literal.
 *
 * Annotation `piggysec.com/piggy-uid`: JSON object `{ "<container uid>": "<signature>" }` for every
 * wrapped container (Piggy's format); the uid is also the container's `PIGGY_UID`.
 */
import { parseJsonObject } from './json.ts';

export const LAUNCHER_VOLUME_NAME = 'piggy-env';
export const LAUNCHER_MOUNT_PATH = '/piggy';
export const LAUNCHER_PATH = '/piggy/piggy-env';
/** The launcher's folder inside the piggy-env image (its root): the subPath an image volume mounts. */
export const IMAGE_LAUNCHER_SUBPATH = 'piggy';
/** How the launcher reaches the pod (see above). */
export type LauncherDelivery = 'image-volume' | 'init-container';
/** PIGGY_ENV_DELIVERY: one of them, or auto (src/webhook/launcher-delivery.ts decides). */
export type LauncherDeliverySetting = 'auto' | LauncherDelivery;
export const LAUNCHER_DELIVERY_SETTINGS: readonly LauncherDeliverySetting[] = ['auto', 'image-volume', 'init-container'];
/** Where the install init container mounts the emptyDir (not /piggy: that is its own launcher). */
export const INSTALL_MOUNT_PATH = '/piggy-volume';
/** The launcher is one self-contained executable; the on-disk emptyDir is capped at this size. */
export const LAUNCHER_VOLUME_SIZE_LIMIT = '256Mi';
export const INSTALL_CONTAINER_NAME = 'install-piggy-env';
/** Args of the install init container (the image ENTRYPOINT is the launcher). */
export const INSTALL_ARGS: readonly string[] = ['install', INSTALL_MOUNT_PATH, '--mount-path', LAUNCHER_MOUNT_PATH];
/** File mode the installed launcher gets. */
export const LAUNCHER_INSTALL_MODE = 0o755;
/** Separates launcher flags from the template. */
export const LAUNCHER_SEPARATOR = '--';
/** runAsUser of the injected init containers when the pod sets none (or sets root). */
export const DEFAULT_RUN_AS_USER = 65532;

/**
 * File mode (aws-secret-sidecar-injector compatible): the init container `piggy-secret-files` runs the
 * piggy-env image's ENTRYPOINT with `write-files`. For every PIGGY_FILES entry the launcher fetches
 * the secret (AWSCURRENT) with the pod's own credentials in the entry's region and writes the
 * SecretString verbatim (SecretBinary: its bytes) to `path`, creating parent folders (0700, or 0750
 * for mode 0440), atomically (temp file + rename), with mode PIGGY_FILE_MODE. Any failure: exit
 * non-zero, so the pod never starts without its files. PIGGY_DEBUG, PIGGY_NUMBER_OF_RETRY and
 * PIGGY_INITIAL_DELAY apply as in env mode.
 */
export const FILES_CONTAINER_NAME = 'piggy-secret-files';
export const FILES_VOLUME_NAME = 'piggy-secret-files';
/** Args of the file-mode init container: the launcher writes every PIGGY_FILES entry, then exits 0. */
export const FILES_ARGS: readonly string[] = ['write-files'];

export const PIGGY_UID_ANNOTATION = 'piggysec.com/piggy-uid';

/**
 * Proxy mode: the launcher proves its pod with a projected service-account token of piggy's own
 * audience (PROXY_TOKEN_AUDIENCE), not the automounted one (which any service receiving it could
 * replay to /secret, and which pods with automountServiceAccountToken: false do not have). Volume
 * `piggy-token` (projected serviceAccountToken, short expiry, the kubelet refreshes it), mounted
 * read-only at this folder in every wrapped container; PIGGY_TOKEN_FILE names the file.
 */
export const PROXY_TOKEN_VOLUME_NAME = 'piggy-token';
export const PROXY_TOKEN_MOUNT_PATH = '/var/run/secrets/piggysec.com/serviceaccount';
export const PROXY_TOKEN_FILE_NAME = 'token';
/** The token file of launchers that get no PIGGY_TOKEN_FILE (pods admitted by an older piggy). */
export const AUTOMOUNTED_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';
/** A value of this form (whole value, case-sensitive) is resolved by the launcher. */
export const PIGGY_REFERENCE_PREFIX = 'piggy:';

/** Every environment variable the launcher reads. All of them are removed from the app's env. */
export const LAUNCHER_ENV = {
  /** Secrets Manager SecretId (standalone; informative in proxy mode). */
  awsSecretName: 'PIGGY_AWS_SECRET_NAME',
  awsRegion: 'PIGGY_AWS_REGION',
  /** SSM path (leading `/`); when set, SSM is used instead of Secrets Manager. */
  awsSsmParameterPath: 'PIGGY_AWS_SSM_PARAMETER_PATH',
  /** A Secrets Manager VersionId; at most one of the two version variables is set. */
  awsSecretVersionId: 'PIGGY_AWS_SECRET_VERSION_ID',
  /** A Secrets Manager staging label (AWSCURRENT, AWSPREVIOUS, custom). */
  awsSecretVersionStage: 'PIGGY_AWS_SECRET_VERSION_STAGE',
  /** Proxy mode: https base URL of the controller, no trailing slash; the launcher appends /secret. */
  address: 'PIGGY_ADDRESS',
  /** Proxy mode: PEM certificates (one or more) the launcher trusts for PIGGY_ADDRESS, instead of the system roots. */
  caBundle: 'PIGGY_CA_BUNDLE',
  /** Proxy mode: the projected token sent as X-Token; unset: AUTOMOUNTED_TOKEN_FILE. */
  tokenFile: 'PIGGY_TOKEN_FILE',
  /** Proxy mode: what admission recorded for this container (src/shared/admission-record.ts); read by the proxy from the pod spec. */
  admission: 'PIGGY_ADMISSION',
  /** The container's uid (32 lower-case hex), the key of its entry in the piggy-uid annotation. */
  uid: 'PIGGY_UID',
  /** Downward API metadata.name. */
  podName: 'PIGGY_POD_NAME',
  standalone: 'PIGGY_STANDALONE',
  debug: 'PIGGY_DEBUG',
  ignoreNoEnv: 'PIGGY_IGNORE_NO_ENV',
  /** Total attempts (not extra retries), an integer >= 1. */
  numberOfRetry: 'PIGGY_NUMBER_OF_RETRY',
  /** Go duration to wait before the first fetch. */
  initialDelay: 'PIGGY_INITIAL_DELAY',
  /** Never injected (piggy-dns-resolver is refused at admission); listed so the launcher strips it. */
  dnsResolver: 'PIGGY_DNS_RESOLVER',
  /** File mode: JSON array of FileSecretSpec. */
  files: 'PIGGY_FILES',
  /** File mode: octal mode of the written files, "0400" or "0440". */
  fileMode: 'PIGGY_FILE_MODE',
  /** Never injected (integrity is enforced by the controller); listed so the launcher strips it. */
  enforceIntegrity: 'PIGGY_ENFORCE_INTEGRITY',
  /** Never injected; TLS is verified. Listed so the launcher strips it. */
  skipVerifyTls: 'PIGGY_SKIP_VERIFY_TLS',
} as const;

export type LauncherEnvName = (typeof LAUNCHER_ENV)[keyof typeof LAUNCHER_ENV];
export const LAUNCHER_ENV_NAMES: readonly LauncherEnvName[] = Object.values(LAUNCHER_ENV);

/** One file the file-mode init container writes: the SecretString (or SecretBinary bytes) verbatim. */
export interface FileSecretSpec {
  /** Full Secrets Manager ARN. */
  readonly secretId: string;
  /** Region taken from the ARN. */
  readonly region: string;
  /** Absolute path of the file (inside the tmpfs volume). */
  readonly path: string;
}

export const FILE_MODE_OWNER = '0400';
export const FILE_MODE_GROUP = '0440';
/** Neither fsGroup nor one non-root user: readable by every container of the pod (its volume is the pod's alone). */
export const FILE_MODE_POD = '0444';

/** sha256 hex over the JSON array of the template: element boundaries count, `["a b"]` ≠ `["a","b"]`. */
export function buildCommandSignature(argv: readonly string[]): string {
  return process.getBuiltinModule('node:crypto').createHash('sha256').update(JSON.stringify(argv)).digest('hex');
}

/** The Kubernetes expansion of `$(VAR)` (k8s.io/kubernetes third_party/forked/golang/expansion). */
export function expandKubernetesReferences(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length; cursor += 1) {
    if (input[cursor] !== '$' || cursor + 1 >= input.length) continue;
    out += input.slice(checkpoint, cursor);
    const next = input[cursor + 1];
    if (next === '$') {
      out += '$';
      cursor += 1;
    } else if (next === '(') {
      const close = input.indexOf(')', cursor + 2);
      if (close === -1) {
        out += '$(';
        cursor += 1;
      } else {
        const name = input.slice(cursor + 2, close);
        out += lookup(name) ?? `$(${name})`;
        cursor = close;
      }
    } else {
      out += `$${next ?? ''}`;
      cursor += 1;
    }
    checkpoint = cursor + 1;
  }
  return out + input.slice(checkpoint);
}

/** Makes a string pass through expandKubernetesReferences unchanged (every `$` doubled). */
export function escapeKubernetesReferences(text: string): string {
  return text.replaceAll('$', () => '$$');
}

/** The argv the launcher execs: the template expanded with the environment it started with. */
export function buildExecArgv(template: readonly string[], env: Readonly<Record<string, string | undefined>>): string[] {
  return template.map((part) => expandKubernetesReferences(part, (name) => (Object.hasOwn(env, name) ? env[name] : undefined)));
}

/** Splits the launcher's own argv (without node/executable) at the first `--`. */
export function splitLauncherArgv(argv: readonly string[]): { flags: string[]; template: string[] } | undefined {
  const at = argv.indexOf(LAUNCHER_SEPARATOR);
  if (at === -1) return undefined;
  return { flags: argv.slice(0, at), template: argv.slice(at + 1) };
}

/** The key of a `piggy:KEY` value (up to the first newline), or undefined when it is not a reference. */
export function readPiggyReference(value: string): string | undefined {
  if (!value.startsWith(PIGGY_REFERENCE_PREFIX)) return undefined;
  const key = value.slice(PIGGY_REFERENCE_PREFIX.length).split('\n', 1)[0] ?? '';
  return key === '' ? undefined : key;
}

export function isPiggyReference(value: unknown): boolean {
  return typeof value === 'string' && value.startsWith(PIGGY_REFERENCE_PREFIX);
}

const UID_PATTERN = /^[0-9a-f]{32}$/;
const SIGNATURE_PATTERN = /^[0-9a-f]{64}$/;

export function isContainerUid(text: string): boolean {
  return UID_PATTERN.test(text);
}

/** A container uid from a random UUID (dashes removed, lower case), as Piggy makes them. */
export function buildContainerUid(uuid: string): string {
  const uid = uuid.replaceAll('-', '').toLowerCase();
  if (!isContainerUid(uid)) throw new Error('a container uid needs 32 hex digits');
  return uid;
}

/** The piggy-uid annotation value: keys sorted, so the same map always gives the same text. */
export function formatPiggyUids(signatures: Readonly<Record<string, string>>): string {
  const sorted: Record<string, string> = {};
  for (const uid of Object.keys(signatures).sort()) sorted[uid] = signatures[uid] ?? '';
  return JSON.stringify(sorted);
}

/** Reads a piggy-uid annotation; undefined when it is not an object of uid → signature. */
export function parsePiggyUids(text: string | undefined): Record<string, string> | undefined {
  const parsed = text === undefined ? undefined : parseJsonObject(text);
  if (parsed === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [uid, signature] of Object.entries(parsed)) {
    if (!isContainerUid(uid) || typeof signature !== 'string' || !SIGNATURE_PATTERN.test(signature)) return undefined;
    out[uid] = signature;
  }
  return out;
}

export function formatFileSpecs(specs: readonly FileSecretSpec[]): string {
  return JSON.stringify(specs.map((spec) => ({ secretId: spec.secretId, region: spec.region, path: spec.path })));
}

/** Reads PIGGY_FILES; undefined when malformed. */
export function parseFileSpecs(text: string | undefined): FileSecretSpec[] | undefined {
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length === 0) return undefined;
  const specs: FileSecretSpec[] = [];
  for (const item of parsed as unknown[]) {
    if (item === null || typeof item !== 'object') return undefined;
    const { secretId, region, path } = item as Record<string, unknown>;
    if (typeof secretId !== 'string' || typeof region !== 'string' || typeof path !== 'string' || !path.startsWith('/')) {
      return undefined;
    }
    specs.push({ secretId, region, path });
  }
  return specs;
}
