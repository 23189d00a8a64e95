// The injection part's app: an annotated Pod whose env holds `piggy:NAME` references; piggy-env
// resolves them at container start and execs the script, which prints its PID, the values masked
// and how many PIGGY_* variables it sees, then stays up (for `kubectl exec`).
import { CoreV1Api, type V1EnvVar, type V1Pod, type V1PodSpec } from '@kubernetes/client-node';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { AWS_SECRET_NAME, NAMESPACE, need, type DemoContext } from './context.ts';
import { command, good, show } from './narrate.ts';
import { buildAppScript, buildAppSpec, execInPod, formatPods, maskedLine, waitForLogs, waitForPodRunning } from './pods.ts';

const LAST_LINE = 'PIGGY_* variables: ';
export const APP_SCRIPT = buildAppScript([
  'echo "pid=$$"',
  'mask DB_USER "$DB_USER"',
  'mask DB_PASSWORD "$DB_PASSWORD"',
  `echo "${LAST_LINE}$(env | grep -c ^PIGGY_)"`,
]);

const REFERENCES: readonly V1EnvVar[] = [{ name: 'DB_USER', value: 'piggy:username' }, { name: 'DB_PASSWORD', value: 'piggy:password' }];

/** An annotated app Pod for the real nodes; `extra` adds env, volumes and mounts (standalone's IRSA). */
export function buildInjectedPod(ctx: DemoContext, name: string, annotations: Record<string, string>, extra: { env?: V1EnvVar[]; spec?: Partial<V1PodSpec>; mounts?: { name: string; mountPath: string; readOnly: boolean }[] } = {}): V1Pod {
  return {
    metadata: { name, namespace: NAMESPACE, annotations: { 'piggysec.com/aws-secret-name': AWS_SECRET_NAME, ...annotations } },
    spec: buildAppSpec(ctx, APP_SCRIPT, { env: [...REFERENCES, ...(extra.env ?? [])], volumeMounts: extra.mounts ?? [] }, extra.spec ?? {}),
  };
}

/** AWSCURRENT's username and password (compared with what the pod printed; never printed in full). */
async function fetchCurrentValues(ctx: DemoContext): Promise<{ username: string; password: string }> {
  const current = await need(ctx.secretsManager, 'secretsManager').send(new GetSecretValueCommand({ SecretId: AWS_SECRET_NAME }));
  const values = JSON.parse(current.SecretString ?? '{}') as Record<string, unknown>;
  return { username: String(values.username), password: String(values.password) };
}

/**
 * Waits for the pod to run, shows `kubectl get pod` and `kubectl logs`, checks the output (PID 1:
 * the launcher exec'd the app; AWSCURRENT's values, masked; no PIGGY_*), then `kubectl exec env`.
 */
export async function showInjectedPod(ctx: DemoContext, name: string): Promise<void> {
  const core = need(ctx.kc, 'kc').makeApiClient(CoreV1Api);
  const t0 = Date.now();
  const pod = await waitForPodRunning(core, name);
  const init = pod.status?.initContainerStatuses?.find((status) => status.name === 'install-piggy-env')?.state?.terminated;
  good(`running on node ${pod.spec?.nodeName ?? ''} after ${Date.now() - t0} ms; init container install-piggy-env exited ${init?.exitCode ?? '?'} (${init?.reason ?? ''}): piggy-env is in /piggy`);
  command(`kubectl -n ${NAMESPACE} get pod ${name} -o wide`);
  show(formatPods([await core.readNamespacedPod({ namespace: NAMESPACE, name })]));
  const text = await waitForLogs(core, name, (out) => out.includes(LAST_LINE));
  command(`kubectl -n ${NAMESPACE} logs ${name}`);
  show(text);
  const values = await fetchCurrentValues(ctx);
  const expected = ['pid=1', maskedLine('DB_USER', values.username), maskedLine('DB_PASSWORD', values.password), `${LAST_LINE}0`].join('\n');
  const printed = text.split('\n').filter((line) => line !== '' && !line.startsWith('{')).join('\n'); // the app's lines, not piggy-env's JSON log
  if (printed !== expected) throw new Error(`Pod ${name} did not print PID 1, AWSCURRENT's values (masked) and no PIGGY_* variable`);
  good('the first line is piggy-env\'s log on stderr (names and counts, never values); then PID 1: the launcher exec\'d the app (same process, the container\'s first); masked, the values are AWSCURRENT\'s; no PIGGY_* reached the app');
  command(`kubectl -n ${NAMESPACE} exec ${name} -- env   # a new process: the container's env from the Pod spec`);
  const env = await execInPod(ctx, name, ['env']);
  // The username (3 characters) is in many a line by chance: a variable holding it is what counts.
  const holding = (value: string) => env.split('\n').some((line) => line.slice(line.indexOf('=') + 1) === value);
  if (holding(values.username) || env.includes(values.password)) throw new Error(`kubectl exec ${name} -- env shows a secret value`);
  show(`a variable holding the username: no   the password anywhere: no\n${env.split('\n').filter((line) => line.startsWith('DB_')).join('\n')}`);
  good('the values live only in the app process: not in the Pod spec, not in etcd, not in what `kubectl exec` sees');
}
