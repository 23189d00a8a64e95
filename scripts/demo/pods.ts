// The demo's pods on the real nodes: the app script they run (masked values only), waiting for a
// pod to start (failing fast with the kubelet's reason), `kubectl logs`, `kubectl exec`, and
// `kubectl get pods -o wide`.
import { CoreV1Api, type V1ContainerStatus, type V1Pod, type V1PodSpec } from '@kubernetes/client-node';
import { escapeKubernetesReferences } from '../../src/shared/injection-contract.ts';
import { onRealNode } from '../local/app-image.ts';
import { codeOf, pollUntil } from '../local/kube-objects.ts';
import { run } from '../local/procs.ts';
import { NAMESPACE, need, type DemoContext } from './context.ts';
import { formatAge, maskValue, table } from './narrate.ts';

/** Prints NAME=<first characters>**** (<n> chars), like maskValue: at most 2 and at most a third shown. */
const MASK = 'mask() { n=${#2}; k=$((n / 3)); [ "$k" -gt 2 ] && k=2; printf \'%s=%.*s**** (%s chars)\\n\' "$1" "$k" "$2" "$n"; }';
/** Stays up (for `kubectl exec`) and stops at once on SIGTERM (PID 1 ignores signals it has no handler for). */
const STAY_UP = 'trap "exit 0" TERM; while true; do sleep 1; done';

/** The shell script an app container runs: `lines` after the mask function, then it stays up. */
export const buildAppScript = (lines: readonly string[]): string => [MASK, ...lines, STAY_UP].join('\n');

/** A masked line as the script prints it. */
export const maskedLine = (name: string, value: string): string => `${name}=${maskValue(value)} (${value.length} chars)`;

/** A pod spec for the real nodes: one container `app` running SCRIPT in the busybox image. */
export function buildAppSpec(ctx: DemoContext, script: string, container: Partial<V1PodSpec['containers'][number]> = {}, spec: Partial<V1PodSpec> = {}): V1PodSpec {
  return onRealNode({
    serviceAccountName: 'default',
    terminationGracePeriodSeconds: 5,
    ...spec,
    containers: [{
      name: 'app',
      image: need(ctx.images, 'images').appImage,
      // Kubernetes expands $(VAR) in command, so a pod author writes every `$` of a script as `$$`.
      command: ['/bin/sh', '-c', escapeKubernetesReferences(script)],
      ...container,
    }],
  });
}

const BAD_WAITING = new Set(['ErrImagePull', 'ImagePullBackOff', 'CrashLoopBackOff', 'CreateContainerError', 'RunContainerError', 'InvalidImageName']);

/** Why the pod will not start (an init or app container that failed), or undefined while it may still. */
function failureOf(pod: V1Pod): string | undefined {
  const statuses: V1ContainerStatus[] = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  for (const status of statuses) {
    const waiting = status.state?.waiting;
    if (waiting?.reason !== undefined && BAD_WAITING.has(waiting.reason)) return `container ${status.name}: ${waiting.reason} ${waiting.message ?? ''}`;
    const done = status.state?.terminated ?? status.lastState?.terminated;
    if (done !== undefined && done.exitCode !== 0) return `container ${status.name} exited ${done.exitCode} (${done.reason ?? ''})`;
  }
  if (pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded') return `pod ${pod.status.phase}`;
  return undefined;
}

/** Waits until the pod's app container runs; throws with the kubelet's reason when it cannot. */
export async function waitForPodRunning(core: CoreV1Api, name: string, timeoutMs = 90_000): Promise<V1Pod> {
  let pod: V1Pod | undefined;
  let failure: string | undefined;
  await pollUntil(`Pod ${NAMESPACE}/${name} to run`, async () => {
    pod = await core.readNamespacedPod({ namespace: NAMESPACE, name });
    failure = failureOf(pod);
    return failure !== undefined || pod.status?.containerStatuses?.[0]?.state?.running !== undefined;
  }, timeoutMs, 200);
  if (failure !== undefined) throw new Error(`Pod ${NAMESPACE}/${name} did not start: ${failure}`);
  return need(pod, 'the pod');
}

/** `kubectl logs POD` once the app printed its last line (the one `done` accepts). */
export async function waitForLogs(core: CoreV1Api, name: string, done: (text: string) => boolean, timeoutMs = 20_000): Promise<string> {
  let text = '';
  await pollUntil(`the output of Pod ${NAMESPACE}/${name}`, async () => {
    text = await core.readNamespacedPodLog({ namespace: NAMESPACE, name, container: 'app' });
    return done(text);
  }, timeoutMs, 200);
  return text;
}

/** `kubectl exec POD -- ARGS` with the stack's kubectl (through the apiserver to the node's kubelet). */
export async function execInPod(ctx: DemoContext, name: string, args: readonly string[]): Promise<string> {
  const stack = need(ctx.stack, 'stack');
  const kubectl = need(stack.info.tools.kubectl, 'kubectl');
  const res = await run(kubectl, ['--kubeconfig', stack.info.kubeconfig, '-n', NAMESPACE, 'exec', name, '-c', 'app', '--', ...args]);
  if (res.code !== 0) throw new Error(`kubectl exec ${name} -- ${args.join(' ')} exited ${res.code}: ${res.stderr.trim()}`);
  return res.stdout;
}

/** `kubectl get pods -o wide`, the columns that matter here. */
export function formatPods(pods: readonly V1Pod[], now = new Date()): string {
  const rows = pods.map((pod) => {
    const statuses = pod.status?.containerStatuses ?? [];
    const ready = `${statuses.filter((s) => s.ready).length}/${pod.spec?.containers.length ?? 0}`;
    const status = pod.metadata?.deletionTimestamp !== undefined ? 'Terminating' : statuses[0]?.state?.waiting?.reason ?? pod.status?.phase ?? '';
    const restarts = String(statuses.reduce((sum, s) => sum + s.restartCount, 0));
    return [pod.metadata?.name ?? '', ready, status, restarts, pod.spec?.nodeName ?? '<none>', formatAge(pod.metadata?.creationTimestamp, now)];
  });
  return table(['NAME', 'READY', 'STATUS', 'RESTARTS', 'NODE', 'AGE'], rows);
}

/** Creates the Pod through the API (so the webhook sees it), replacing one an earlier run left. */
export async function recreatePod(core: CoreV1Api, body: V1Pod): Promise<V1Pod> {
  const name = body.metadata?.name ?? '';
  await core.deleteNamespacedPod({ name, namespace: NAMESPACE, gracePeriodSeconds: 0 }).catch(() => undefined);
  let created: V1Pod | undefined;
  let refused: Error | undefined;
  await pollUntil(`Pod ${name} to be created`, async () => {
    try {
      created = await core.createNamespacedPod({ namespace: NAMESPACE, body });
    } catch (error) {
      if (codeOf(error) === 409) return false; // the old Pod is still going
      refused = error instanceof Error ? error : new Error(String(error)); // denied: no point retrying
    }
    return true;
  }, 30_000, 250);
  if (refused !== undefined) throw refused;
  return need(created, 'the created Pod');
}
