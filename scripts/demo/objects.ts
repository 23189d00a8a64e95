// Reading and printing the demo's objects: the AWSSecret as `kubectl get awss -o wide` shows it, its
// conditions, and the generated Secret with masked values.
import { createHash } from 'node:crypto';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { ANNOTATION_DATA_HASH, GROUP, PLURAL, VERSION, type AWSSecret, type Condition } from '../../src/controller/awssecret.ts';
import { pollUntil } from '../local/kube-objects.ts';
import { AWSSECRET_NAME, DEPLOYMENT_NAME, NAMESPACE } from './context.ts';
import { formatAge, maskValue, show, table } from './narrate.ts';

export async function fetchAWSSecret(kc: KubeConfig): Promise<AWSSecret> {
  const api = kc.makeApiClient(CustomObjectsApi);
  return (await api.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace: NAMESPACE, name: AWSSECRET_NAME })) as AWSSecret;
}

export function fetchSecret(kc: KubeConfig): Promise<V1Secret> {
  return kc.makeApiClient(CoreV1Api).readNamespacedSecret({ namespace: NAMESPACE, name: AWSSECRET_NAME });
}

export async function fetchPodTemplateAnnotations(kc: KubeConfig): Promise<Record<string, string>> {
  const deployment = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: NAMESPACE, name: DEPLOYMENT_NAME });
  return deployment.spec?.template.metadata?.annotations ?? {};
}

export const conditionOf = (awsSecret: AWSSecret, type: string): Condition | undefined =>
  awsSecret.status?.conditions?.find((condition) => condition.type === type);

/** Polls the AWSSecret until `accept` says yes; returns it. */
export async function waitForAWSSecret(kc: KubeConfig, what: string, accept: (awsSecret: AWSSecret) => boolean, timeoutMs = 20_000): Promise<AWSSecret> {
  let found: AWSSecret | undefined;
  await pollUntil(what, async () => {
    const current = await fetchAWSSecret(kc);
    if (!accept(current)) return false;
    found = current;
    return true;
  }, timeoutMs, 100);
  if (found === undefined) throw new Error(`${what}: not found`);
  return found;
}

/** The printer columns of crds/ (Secret, Version, Ready, Age), then the conditions. */
export function showAWSSecret(awsSecret: AWSSecret, now = new Date()): void {
  const status = awsSecret.status;
  const ready = conditionOf(awsSecret, 'Ready');
  show(table(['NAME', 'SECRET', 'VERSION', 'READY', 'AGE'], [[
    awsSecret.metadata.name,
    status?.secretName ?? '',
    status?.versionId ?? '',
    ready?.status ?? '',
    formatAge((awsSecret.metadata as { creationTimestamp?: string }).creationTimestamp, now),
  ]]));
  show('');
  const rows = (status?.conditions ?? []).map((c) => [c.type, c.status, c.reason, formatAge(c.lastTransitionTime, now), c.message]);
  show(table(['CONDITION', 'STATUS', 'REASON', 'AGE', 'MESSAGE'], rows));
  if (status?.latestVersionId !== undefined) show(`\nstatus.latestVersionId: ${status.latestVersionId}   (AWSCURRENT at the last update check)`);
}

const digest = (value: Buffer): string => createHash('sha256').update(value).digest('hex');

/** sha256 of each value: lets the demo say which keys changed without keeping the values. */
export function buildValueDigests(secret: V1Secret): Record<string, string> {
  return Object.fromEntries(Object.entries(secret.data ?? {}).map(([key, value]) => [key, digest(Buffer.from(value, 'base64'))]));
}

/** The generated Secret: its piggy labels/annotations, and each key with a masked value. */
export function showSecret(secret: V1Secret, before?: Readonly<Record<string, string>>): void {
  const meta = secret.metadata ?? {};
  const owner = meta.ownerReferences?.map((ref) => `${ref.kind}/${ref.name}`).join(', ') ?? '(none)';
  show(`Secret ${meta.namespace ?? ''}/${meta.name ?? ''}   type ${secret.type ?? 'Opaque'}   owner ${owner}`);
  const annotations = Object.entries(meta.annotations ?? {}).filter(([key]) => key.startsWith('piggysec.com/'));
  const labels = Object.entries(meta.labels ?? {});
  const shorten = (key: string, value: string) => (key === ANNOTATION_DATA_HASH ? `${value.slice(0, 16)}…` : value);
  show(labels.map(([key, value]) => `label       ${key}: ${value}`).join('\n'));
  show(annotations.map(([key, value]) => `annotation  ${key}: ${shorten(key, value)}`).join('\n'));
  const rows = Object.entries(secret.data ?? {}).map(([key, value]) => {
    const bytes = Buffer.from(value, 'base64');
    const changed = before === undefined ? '' : before[key] === undefined ? 'added' : before[key] === digest(bytes) ? 'unchanged' : 'changed';
    return [key, maskValue(bytes.toString('utf8')), `${bytes.length} bytes`, changed];
  });
  show(table(['KEY', 'VALUE (masked)', 'SIZE', before === undefined ? '' : 'SINCE BUMP'], rows));
}
