/**
 * Pod annotations of the injection model, parsed in one place: KongZ/piggy's `piggysec.com/*`
 * (each with a controller-wide default from the environment) and aws-secret-sidecar-injector's
 * `secrets.k8s.aws/*` (file mode). Pure: annotations and defaults in, a typed config or every issue out.
 */
import { LAUNCHER_DELIVERY_SETTINGS, PIGGY_UID_ANNOTATION, type LauncherDeliverySetting } from '../shared/injection-contract.ts';
import { parseBoolean, parseDuration, parseInteger, type Parsed } from './parse.ts';

export const PIGGY_ANNOTATION_PREFIX = 'piggysec.com/';

export const ANNOTATIONS = {
  piggyAddress: 'piggysec.com/piggy-address',
  awsSecretName: 'piggysec.com/aws-secret-name',
  awsRegion: 'piggysec.com/aws-region',
  awsSecretVersion: 'piggysec.com/aws-secret-version',
  awsSsmParameterPath: 'piggysec.com/aws-ssm-parameter-path',
  standalone: 'piggysec.com/standalone',
  enforceIntegrity: 'piggysec.com/piggy-enforce-integrity',
  enforceServiceAccount: 'piggysec.com/piggy-enforce-service-account',
  ignoreNoEnv: 'piggysec.com/piggy-ignore-no-env',
  numberOfRetry: 'piggysec.com/piggy-number-of-retry',
  initialDelay: 'piggysec.com/piggy-initial-delay',
  dnsResolver: 'piggysec.com/piggy-dns-resolver',
  envImage: 'piggysec.com/piggy-env-image',
  envImagePullPolicy: 'piggysec.com/piggy-env-image-pull-policy',
  /** piggy extension: how the launcher reaches the pod (auto, image-volume, init-container); default PIGGY_ENV_DELIVERY. */
  envDelivery: 'piggysec.com/piggy-env-delivery',
  cpuRequest: 'piggysec.com/piggy-env-resource-cpu-request',
  memoryRequest: 'piggysec.com/piggy-env-resource-memory-request',
  cpuLimit: 'piggysec.com/piggy-env-resource-cpu-limit',
  memoryLimit: 'piggysec.com/piggy-env-resource-memory-limit',
  imagePullSecret: 'piggysec.com/image-pull-secret',
  imagePullSecretNamespace: 'piggysec.com/image-pull-secret-namespace',
  imageSkipVerifyRegistry: 'piggysec.com/image-skip-verify-registry',
  defaultSecretNamePrefix: 'piggysec.com/piggy-default-secret-name-prefix',
  defaultSecretNameSuffix: 'piggysec.com/piggy-default-secret-name-suffix',
  debug: 'piggysec.com/debug',
  /** piggy extension: `deny` (default) or `admit` (unwrapped, with a warning) when an image cannot be read. */
  imageFailurePolicy: 'piggysec.com/image-failure-policy',
  /** piggy extension: pin an inspected container image to the digest that was read. */
  imagePinDigest: 'piggysec.com/image-pin-digest',
  /** Written by the webhook, read by the proxy. */
  piggyUid: PIGGY_UID_ANNOTATION,
  /** Known Piggy annotations that piggy deliberately ignores (dead in Piggy, or weaker than our defaults). */
  skipVerifyTls: 'piggysec.com/piggy-skip-verify-tls',
  pspAllowPrivilegeEscalation: 'piggysec.com/piggy-psp-allow-privilege-escalation',
} as const;

/** aws-secret-sidecar-injector's annotations: file mode. They have no controller-wide defaults. */
export const FILE_ANNOTATIONS = {
  secretArn: 'secrets.k8s.aws/secret-arn',
  mountPath: 'secrets.k8s.aws/mount-path',
  secretFilename: 'secrets.k8s.aws/secret-filename',
} as const;

export const IGNORED_ANNOTATIONS: readonly string[] = [ANNOTATIONS.skipVerifyTls, ANNOTATIONS.pspAllowPrivilegeEscalation];
export type PullPolicy = 'Always' | 'IfNotPresent' | 'Never';

/** aws-secret-version: a VersionId (what the docs always promised) or a staging label (what Piggy sent). */
export interface SecretVersion {
  readonly kind: 'id' | 'stage';
  readonly value: string;
}

export interface ResourceQuantities {
  readonly cpu: string;
  readonly memory: string;
}

export interface PodConfig {
  /** https base URL, no trailing slash. */
  readonly address: string | undefined;
  readonly secretName: string | undefined;
  readonly region: string | undefined;
  readonly secretVersion: SecretVersion | undefined;
  readonly ssmParameterPath: string | undefined;
  readonly standalone: boolean;
  readonly enforceIntegrity: boolean;
  /** Can only be raised by a pod: the controller-wide `true` wins over an annotation. */
  readonly enforceServiceAccount: boolean;
  readonly ignoreNoEnv: boolean;
  /** Total attempts for the launcher; 0 leaves the launcher's default (1). */
  readonly numberOfRetry: number;
  /** Go duration text, undefined when none (or zero). */
  readonly initialDelay: string | undefined;
  readonly envImage: string | undefined;
  readonly envImagePullPolicy: PullPolicy;
  readonly envDelivery: LauncherDeliverySetting;
  readonly resources: { readonly requests: ResourceQuantities; readonly limits: ResourceQuantities };
  readonly imagePullSecret: string | undefined;
  readonly imagePullSecretNamespace: string | undefined;
  readonly defaultSecretNamePrefix: string;
  readonly defaultSecretNameSuffix: string;
  readonly debug: boolean;
  readonly imageFailurePolicy: 'deny' | 'admit';
  readonly imagePinDigest: boolean;
  /** File mode (secrets.k8s.aws/*), undefined when the pod does not ask for it. */
  readonly files: FileModeConfig | undefined;
}

export interface AnnotationIssue {
  readonly annotation: string;
  readonly problem: string;
}

export type PodConfigResult =
  | { readonly ok: true; readonly config: PodConfig }
  | { readonly ok: false; readonly issues: readonly AnnotationIssue[] };

/** Validated controller-wide defaults, keyed by annotation name (raw text, parsed again per pod). */
export type AnnotationDefaults = Readonly<Record<string, string>>;

export type AnnotationDefaultsResult =
  | { readonly ok: true; readonly defaults: AnnotationDefaults }
  | { readonly ok: false; readonly issues: readonly { readonly variable: string; readonly problem: string }[] };

export type Annotations = Readonly<Record<string, string | undefined>> | null | undefined;

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(error: string): Parsed<T> => ({ ok: false, error });

interface Field<T> {
  readonly annotation: string;
  /** Built-in default (text, parsed like any value); undefined: the setting is unset. */
  readonly fallback: string | undefined;
  readonly parse: (text: string) => Parsed<T>;
}

const field = <T>(annotation: string, fallback: string | undefined, parse: (text: string) => Parsed<T>): Field<T> => ({ annotation, fallback, parse });

/** An empty string value means "unset" (an empty annotation overrides a default with nothing, as in Piggy). */
const optional =
  <T>(parse: (text: string) => Parsed<T>) =>
  (text: string): Parsed<T | undefined> =>
    text.trim() === '' ? ok(undefined) : parse(text.trim());

const pattern = (regex: RegExp, expected: string) => (text: string) => (regex.test(text) ? ok(text) : fail<string>(`expected ${expected}`));
const oneOf =
  <T extends string>(allowed: readonly T[]) =>
  (text: string): Parsed<T> => {
    const found = allowed.find((candidate) => candidate === text.trim());
    return found === undefined ? fail(`expected one of ${allowed.join(', ')}`) : ok(found);
  };

const SECRET_NAME = /^[A-Za-z0-9/_+=.@:-]{1,2048}$/;
const NAME_AFFIX = /^[A-Za-z0-9/_+=.@-]{0,512}$/;
const REGION = /^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$/;
const SSM_PATH = /^\/[A-Za-z0-9_.\-/]{0,2047}$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const IMAGE = new RegExp(
  `^(?:[a-zA-Z0-9.-]+(?::\\d+)?/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::\\w[\\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$`,
);
const AWS_STAGES = new Set(['AWSCURRENT', 'AWSPREVIOUS', 'AWSPENDING']);

export function parseAddress(text: string): Parsed<string> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return fail('expected an https URL such as https://<service>.<namespace>.svc');
  }
  if (url.protocol !== 'https:') return fail('must be an https URL: secrets are never sent over plain HTTP');
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    return fail('must be a base URL without credentials, query or fragment');
  }
  return ok(url.origin + url.pathname.replace(/\/+$/, ''));
}

/** `id:<VersionId>` / `stage:<label>` are explicit; otherwise a 32–64 character token is a VersionId. */
export function parseSecretVersion(text: string): Parsed<SecretVersion> {
  const explicit = /^(id|stage):(.*)$/.exec(text);
  const value = explicit?.[2] ?? text;
  const looksLikeId = /^[A-Za-z0-9-]{32,64}$/.test(value) && !AWS_STAGES.has(value);
  const kind = explicit?.[1] === 'id' ? 'id' : explicit?.[1] === 'stage' ? 'stage' : looksLikeId ? 'id' : 'stage';
  if (kind === 'id' && !/^[A-Za-z0-9-]{32,64}$/.test(value)) return fail('expected a VersionId of 32 to 64 characters');
  if (kind === 'stage' && !/^[A-Za-z0-9_.+=@-]{1,256}$/.test(value)) {
    return fail('expected a VersionId (32 to 64 characters) or a staging label such as AWSCURRENT');
  }
  return ok({ kind, value });
}

function parseDelay(text: string): Parsed<string | undefined> {
  if (/^0+$/.test(text)) return ok(undefined);
  const parsed = parseDuration(text);
  if (!parsed.ok) return fail('expected a duration such as 2s or 1m30s');
  if (parsed.value > 3_600_000) return fail('must not exceed 1h');
  return ok(parsed.value === 0 ? undefined : text);
}

const quantity = (what: 'cpu' | 'memory') => (text: string) => {
  const parsed = parseQuantity(text);
  return parsed.ok && parsed.value > 0 ? ok(text.trim()) : fail<string>(`expected a positive Kubernetes ${what} quantity such as ${what === 'cpu' ? '50m' : '64Mi'}`);
};

const bool = (text: string) => parseBoolean(text);
const FIELDS = {
  address: field(ANNOTATIONS.piggyAddress, undefined, optional(parseAddress)),
  secretName: field(ANNOTATIONS.awsSecretName, undefined, optional(pattern(SECRET_NAME, 'a Secrets Manager secret name or ARN'))),
  region: field(ANNOTATIONS.awsRegion, undefined, optional(pattern(REGION, 'an AWS region such as eu-west-1'))),
  secretVersion: field(ANNOTATIONS.awsSecretVersion, undefined, optional(parseSecretVersion)),
  ssmParameterPath: field(ANNOTATIONS.awsSsmParameterPath, undefined, optional(pattern(SSM_PATH, 'an SSM path starting with /'))),
  standalone: field(ANNOTATIONS.standalone, 'false', bool),
  enforceIntegrity: field(ANNOTATIONS.enforceIntegrity, 'true', bool),
  enforceServiceAccount: field(ANNOTATIONS.enforceServiceAccount, 'false', bool),
  ignoreNoEnv: field(ANNOTATIONS.ignoreNoEnv, 'false', bool),
  numberOfRetry: field(ANNOTATIONS.numberOfRetry, '0', (text) => parseInteger(text, 0, 100)),
  initialDelay: field(ANNOTATIONS.initialDelay, undefined, optional(parseDelay)),
  envImage: field(ANNOTATIONS.envImage, undefined, optional(pattern(IMAGE, 'an image reference such as ghcr.io/org/piggy-env:1.0.0'))),
  envImagePullPolicy: field(ANNOTATIONS.envImagePullPolicy, 'IfNotPresent', oneOf<PullPolicy>(['Always', 'IfNotPresent', 'Never'])),
  envDelivery: field(ANNOTATIONS.envDelivery, 'auto', oneOf(LAUNCHER_DELIVERY_SETTINGS)),
  cpuRequest: field(ANNOTATIONS.cpuRequest, '50m', quantity('cpu')),
  memoryRequest: field(ANNOTATIONS.memoryRequest, '64Mi', quantity('memory')),
  cpuLimit: field(ANNOTATIONS.cpuLimit, '200m', quantity('cpu')),
  memoryLimit: field(ANNOTATIONS.memoryLimit, '128Mi', quantity('memory')),
  imagePullSecret: field(ANNOTATIONS.imagePullSecret, undefined, optional(pattern(DNS_SUBDOMAIN, 'a Secret name'))),
  imagePullSecretNamespace: field(ANNOTATIONS.imagePullSecretNamespace, undefined, optional(pattern(DNS_LABEL, 'a namespace name'))),
  defaultSecretNamePrefix: field(ANNOTATIONS.defaultSecretNamePrefix, '', pattern(NAME_AFFIX, 'secret-name characters (A-Z a-z 0-9 / _ + = . @ -)')),
  defaultSecretNameSuffix: field(ANNOTATIONS.defaultSecretNameSuffix, '', pattern(NAME_AFFIX, 'secret-name characters (A-Z a-z 0-9 / _ + = . @ -)')),
  debug: field(ANNOTATIONS.debug, 'false', bool),
  imageFailurePolicy: field(ANNOTATIONS.imageFailurePolicy, 'deny', oneOf(['deny', 'admit'] as const)),
  imagePinDigest: field(ANNOTATIONS.imagePinDigest, 'false', bool),
};

/** Refused rather than accepted and ignored (a pod or default asking for them is denied); "false"/"" ask for nothing. */
const REFUSED: readonly Field<undefined>[] = [
  field(ANNOTATIONS.imageSkipVerifyRegistry, undefined, optional((text) => {
    const parsed = parseBoolean(text);
    return !parsed.ok || !parsed.value ? (parsed.ok ? ok(undefined) : fail(parsed.error)) : fail('piggy always verifies registry TLS: remove the annotation (trust a private CA with NODE_EXTRA_CA_CERTS on the controller, or set a command on the container so no image is read)');
  })),
  field(ANNOTATIONS.dnsResolver, undefined, (text) => (text.trim() === '' ? ok(undefined) : fail('is not supported: piggy-env resolves names with the system resolver, like the app; remove the annotation'))),
];

type FieldValues = { -readonly [K in keyof typeof FIELDS]: (typeof FIELDS)[K] extends Field<infer T> ? T : never };

/** The controller-wide default's variable: drop `piggysec.com/`, upper-case, `-` → `_`. */
export function annotationDefaultVariable(annotation: string): string {
  return annotation.slice(PIGGY_ANNOTATION_PREFIX.length).toUpperCase().replaceAll('-', '_');
}

/** Every annotation that has a controller-wide default. */
export const DEFAULTABLE_ANNOTATIONS: readonly string[] = [...Object.values(FIELDS), ...REFUSED].map((entry) => entry.annotation);

/** Reads `AWS_REGION`, `PIGGY_ADDRESS`, `PIGGY_ENV_IMAGE`, … Blank variables count as unset. */
export function parseAnnotationDefaults(env: Readonly<Record<string, string | undefined>>): AnnotationDefaultsResult {
  const defaults: Record<string, string> = {};
  const issues: { variable: string; problem: string }[] = [];
  for (const entry of [...Object.values(FIELDS), ...REFUSED] as Field<unknown>[]) {
    const variable = annotationDefaultVariable(entry.annotation);
    const text = env[variable]?.trim();
    if (text === undefined || text === '') continue;
    const parsed = entry.parse(text);
    if (parsed.ok) defaults[entry.annotation] = text;
    else issues.push({ variable, problem: `${parsed.error} (default for ${entry.annotation})` });
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, defaults: Object.freeze(defaults) };
}

/** Piggy's trigger rule: after defaults, one of aws-secret-name, aws-ssm-parameter-path, piggy-address is non-empty. */
export function isPiggyTriggered(annotations: Annotations, defaults: AnnotationDefaults): boolean {
  return [ANNOTATIONS.awsSecretName, ANNOTATIONS.awsSsmParameterPath, ANNOTATIONS.piggyAddress].some(
    (name) => (annotations?.[name] ?? defaults[name] ?? '').trim() !== '',
  );
}

/**
 * One pod's configuration: annotation, else controller default, else built-in default. Every
 * malformed value is an issue naming its annotation. `namespace` is the pod's: an
 * image-pull-secret-namespace annotation may only name it (or the controller-wide default).
 */
export function parsePodConfig(annotations: Annotations, defaults: AnnotationDefaults, context: { namespace?: string } = {}): PodConfigResult {
  const issues: AnnotationIssue[] = [];
  const values: Partial<Record<keyof typeof FIELDS, unknown>> = {};
  for (const [key, entry] of Object.entries(FIELDS) as [keyof typeof FIELDS, Field<unknown>][]) {
    const text = annotations?.[entry.annotation] ?? defaults[entry.annotation] ?? entry.fallback;
    if (text === undefined) continue;
    const parsed = entry.parse(text);
    if (parsed.ok) values[key] = parsed.value;
    else issues.push({ annotation: entry.annotation, problem: parsed.error });
  }
  for (const { annotation, parse } of REFUSED) {
    const parsed = parse(annotations?.[annotation] ?? defaults[annotation] ?? '');
    if (!parsed.ok) issues.push({ annotation, problem: parsed.error });
  }
  const v = values as FieldValues;
  const annotated = (name: string) => annotations?.[name] !== undefined;
  if (issues.length === 0) issues.push(...checkResources(v));
  const defaultNamespace = defaults[ANNOTATIONS.imagePullSecretNamespace];
  if (annotated(ANNOTATIONS.imagePullSecretNamespace) && v.imagePullSecretNamespace !== undefined && context.namespace !== undefined) {
    if (v.imagePullSecretNamespace !== context.namespace && v.imagePullSecretNamespace !== defaultNamespace) {
      issues.push({ annotation: ANNOTATIONS.imagePullSecretNamespace, problem: "may only name the pod's own namespace or the controller-wide default" });
    }
  }
  const files = parseFileMode(annotations);
  if (!files.ok) issues.push(...files.issues);
  if (issues.length > 0) return { ok: false, issues };
  const controllerEnforcesSa = parseBoolean(defaults[ANNOTATIONS.enforceServiceAccount] ?? 'false');
  const { cpuRequest, memoryRequest, cpuLimit, memoryLimit, ...rest } = v;
  const config: PodConfig = {
    ...rest,
    enforceServiceAccount: v.enforceServiceAccount || (controllerEnforcesSa.ok && controllerEnforcesSa.value),
    resources: { requests: { cpu: cpuRequest, memory: memoryRequest }, limits: { cpu: cpuLimit, memory: memoryLimit } },
    files: files.ok ? files.config : undefined,
  };
  return { ok: true, config: Object.freeze(config) };
}

function checkResources(v: FieldValues): AnnotationIssue[] {
  const issues: AnnotationIssue[] = [];
  const pairs = [
    [ANNOTATIONS.cpuRequest, v.cpuRequest, ANNOTATIONS.cpuLimit, v.cpuLimit],
    [ANNOTATIONS.memoryRequest, v.memoryRequest, ANNOTATIONS.memoryLimit, v.memoryLimit],
  ] as const;
  for (const [requestName, request, limitName, limit] of pairs) {
    const requested = parseQuantity(request);
    const limited = parseQuantity(limit);
    if (requested.ok && limited.ok && requested.value > limited.value) {
      issues.push({ annotation: requestName, problem: `must not exceed ${limitName} (${limit})` });
    }
  }
  return issues;
}

/** One secret of file mode: written to `path` (absolute, under the mount path). */
export interface FileSecret {
  readonly arn: string;
  readonly region: string;
  readonly path: string;
}

export interface FileModeConfig {
  /** Absolute, no trailing slash. */
  readonly mountPath: string;
  readonly secrets: readonly FileSecret[];
}

export function isFileModeTriggered(annotations: Annotations): boolean {
  return (annotations?.[FILE_ANNOTATIONS.secretArn] ?? '').trim() !== '';
}

const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:([a-z]{2,4}(?:-[a-z]+)+-\d{1,2}):\d{12}:secret:([A-Za-z0-9/_+=.@-]+)$/;
const FILE_SEGMENT = /^[A-Za-z0-9_+=@-][A-Za-z0-9_.+=@-]*$/;

/**
 * secrets.k8s.aws/secret-arn: one or more full ARNs, comma-separated (region from each ARN).
 * mount-path: absolute, default /tmp. secret-filename: default `secret` for one ARN; for several,
 * either one relative name per ARN (comma-separated, same order) or none: then each file is named
 * after its secret (the ARN's name without Secrets Manager's `-XXXXXX` suffix; `/` makes folders).
 */
function parseFileMode(annotations: Annotations): { ok: true; config: FileModeConfig | undefined } | { ok: false; issues: AnnotationIssue[] } {
  if (!isFileModeTriggered(annotations)) return { ok: true, config: undefined };
  const issues: AnnotationIssue[] = [];
  const issue = (annotation: string, problem: string) => issues.push({ annotation, problem });
  const arns = (annotations?.[FILE_ANNOTATIONS.secretArn] ?? '').split(',').map((part) => part.trim());
  const parsed = arns.map((arn) => SECRET_ARN.exec(arn));
  if (parsed.some((match) => match === null)) {
    issue(FILE_ANNOTATIONS.secretArn, 'expected full Secrets Manager ARNs (arn:aws:secretsmanager:<region>:<account>:secret:<name>), comma-separated');
  }
  const mountPath = (annotations?.[FILE_ANNOTATIONS.mountPath] ?? '/tmp').trim().replace(/(.)\/+$/, '$1');
  const segments = mountPath.split('/').slice(1);
  if (!mountPath.startsWith('/') || mountPath === '/' || mountPath.includes(':') || segments.some((s) => s === '' || s === '.' || s === '..')) {
    issue(FILE_ANNOTATIONS.mountPath, 'expected an absolute directory path other than / (no "..", no ":")');
  } else if (mountPath === '/piggy' || mountPath.startsWith('/piggy/')) {
    issue(FILE_ANNOTATIONS.mountPath, 'must not be /piggy, the launcher volume');
  }
  const explicit = annotations?.[FILE_ANNOTATIONS.secretFilename];
  let names: string[];
  if (explicit !== undefined) names = explicit.split(',').map((part) => part.trim());
  else if (arns.length === 1) names = ['secret'];
  else names = parsed.map((match) => (match?.[2] ?? '').replace(/-[A-Za-z0-9]{6}$/, ''));
  if (issues.some((item) => item.annotation === FILE_ANNOTATIONS.secretArn)) {
    // names derive from the ARNs: nothing more to say until they are valid
  } else if (names.length !== arns.length) {
    issue(FILE_ANNOTATIONS.secretFilename, `expected ${arns.length} file names, one per ARN, comma-separated`);
  } else if (names.some((name) => !name.split('/').every((segment) => FILE_SEGMENT.test(segment)))) {
    issue(FILE_ANNOTATIONS.secretFilename, 'expected relative file names (letters, digits, _ + = @ - ., folders with /, no ".." and no leading /)');
  } else if (new Set(names).size !== names.length) {
    issue(FILE_ANNOTATIONS.secretFilename, 'every secret needs its own file name');
  }
  if (issues.length > 0) return { ok: false, issues };
  const secrets = parsed.map((match, index) => ({ arn: arns[index] ?? '', region: match?.[1] ?? '', path: `${mountPath}/${names[index] ?? ''}` }));
  return { ok: true, config: { mountPath, secrets } };
}

const BINARY_SUFFIXES: Readonly<Record<string, number>> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL_SUFFIXES: Readonly<Record<string, number>> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** A Kubernetes resource quantity (`50m`, `64Mi`, `1.5`, `2e3`) as a number of units (cores, bytes). */
export function parseQuantity(text: string): Parsed<number> {
  const match = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/.exec(text.trim());
  if (match === null) return fail('expected a Kubernetes quantity such as 50m, 1, 64Mi or 1G');
  const number = Number(match[1]);
  const suffix = match[3] ?? '';
  const scale = match[2] !== undefined ? Number(`1${match[2]}`) : (BINARY_SUFFIXES[suffix] ?? DECIMAL_SUFFIXES[suffix] ?? Number.NaN);
  const value = number * scale;
  return Number.isFinite(value) ? ok(value) : fail('expected a Kubernetes quantity such as 50m, 1, 64Mi or 1G');
}
