// Step: piggy-env at container start. Two annotated Pods go through the webhook: one in proxy mode
// (the launcher asks the controller's /secret with a pod-bound token), one in standalone mode (IRSA:
// the launcher assumes a role on moto's STS and reads Secrets Manager itself). There is no kubelet
// in the local stack, so the demo plays it on the host, without a chroot or root: it reads the stored
// Pod, computes the container's env and argv the way the kubelet does, writes the tokens the kubelet
// would project, and runs the launcher installed from dist/piggy-env. The apps print masked values.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { CoreV1Api, type KubeConfig, type V1Container, type V1EnvVar, type V1Pod } from '@kubernetes/client-node';
import { escapeKubernetesReferences, LAUNCHER_PATH } from '../../src/shared/injection-contract.ts';
import { installLauncher } from '../../src/env/install.ts';
import { ensurePiggyEnvBuild } from '../build-piggy-env.ts';
import { buildAwsEnv } from '../local/components.ts';
import { expandKubeletReferences } from '../local/kubelet-expansion.ts';
import { codeOf, ensureServiceAccount, pollUntil, requestPodToken } from '../local/kube-objects.ts';
import { sumMetric } from '../local/piggy-controller.ts';
import { AWS_SECRET_NAME, DEMO_DIR, NAMESPACE, need, type DemoContext, type DemoStep } from './context.ts';
import { CONTROLLER_ENV } from './step-controller.ts';
import { command, dim, good, maskValue, say, show } from './narrate.ts';

const LAUNCHER_DIR = path.join(DEMO_DIR, 'launcher');
const PODS_DIR = path.join(DEMO_DIR, 'pods');
const SERVICE_ACCOUNT = 'default';
const PROXY_POD = 'proxy-app';
const STANDALONE_POD = 'standalone-app';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/demo-app';
/** The app image's PATH (the kubelet puts the image's env first). */
const PATH = '/usr/bin:/bin';
/** What the app runs: its PID, each value masked like the demo's tables, and how many PIGGY_* it sees. */
const SCRIPT = [
  'mask() { n=${#2}; k=$((n / 3)); [ "$k" -gt 2 ] && k=2; printf \'%s=%.*s**** (%s chars)\\n\' "$1" "$k" "$2" "$n"; }',
  'echo "pid=$$"',
  'mask DB_USER "$DB_USER"',
  'mask DB_PASSWORD "$DB_PASSWORD"',
  'echo "PIGGY_* variables: $(env | grep -c ^PIGGY_)"',
].join('\n');

const rel = (file: string) => path.relative(process.cwd(), file);

function buildAppPod(name: string, annotations: Record<string, string>, extraEnv: readonly V1EnvVar[]): V1Pod {
  return {
    metadata: { name, namespace: NAMESPACE, annotations: { 'piggysec.com/aws-secret-name': AWS_SECRET_NAME, ...annotations } },
    spec: {
      serviceAccountName: SERVICE_ACCOUNT,
      containers: [
        {
          name: 'app',
          image: 'registry.example/app:1.0',
          // Kubernetes expands $(VAR) in command, so a pod author writes every `$` of a script as `$$`.
          command: ['/bin/sh', '-c', escapeKubernetesReferences(SCRIPT)],
          env: [{ name: 'DB_USER', value: 'piggy:username' }, { name: 'DB_PASSWORD', value: 'piggy:password' }, ...extraEnv],
        },
      ],
    },
  };
}

/** Creates the Pod through the API (so the webhook mutates it), replacing one an earlier run left. */
async function recreatePod(core: CoreV1Api, body: V1Pod): Promise<V1Pod> {
  const name = body.metadata?.name ?? '';
  await core.deleteNamespacedPod({ name, namespace: NAMESPACE, gracePeriodSeconds: 0 }).catch(() => undefined);
  let refused: Error | undefined;
  await pollUntil(`Pod ${name} to be created`, async () => {
    try {
      await core.createNamespacedPod({ namespace: NAMESPACE, body });
    } catch (error) {
      if (codeOf(error) === 409) return false; // the old Pod is still going
      refused = error instanceof Error ? error : new Error(String(error)); // denied: no point retrying
    }
    return true;
  }, 30_000, 250);
  if (refused !== undefined) throw refused;
  return core.readNamespacedPod({ name, namespace: NAMESPACE });
}

/** A TokenRequest for the pod's service account, bound to the pod (what the kubelet projects). */
function fetchPodToken(kc: KubeConfig, pod: V1Pod, audiences: readonly string[]): Promise<string> {
  const identity = { namespace: NAMESPACE, name: pod.metadata?.name ?? '', uid: pod.metadata?.uid ?? '', serviceAccount: pod.spec?.serviceAccountName ?? SERVICE_ACCOUNT };
  return requestPodToken(kc, identity, { audiences, expirationSeconds: 600 });
}

/** The container's env as the kubelet computes it: `value`s in order with $(VAR) expansion, downward-API metadata.name. */
function buildContainerEnv(pod: V1Pod, container: V1Container): Map<string, string> {
  if ((container.envFrom ?? []).length > 0) throw new Error('the demo\'s kubelet does not read envFrom');
  const env = new Map<string, string>();
  for (const item of container.env ?? []) {
    if (item.valueFrom === undefined) env.set(item.name, expandKubeletReferences(item.value ?? '', env));
    else if (item.valueFrom.fieldRef?.fieldPath === 'metadata.name') env.set(item.name, pod.metadata?.name ?? '');
    else throw new Error(`the demo's kubelet only fills fieldRef metadata.name, not ${item.name} ${JSON.stringify(item.valueFrom)}`);
  }
  return env;
}

/** command + args with the kubelet's expansion; argv[0], /piggy/piggy-env, becomes the installed launcher. */
function buildLauncherArgv(container: V1Container, env: ReadonlyMap<string, string>, launcher: string): string[] {
  const argv = [...(container.command ?? []), ...(container.args ?? [])].map((part) => expandKubeletReferences(part, env));
  if (argv[0] !== LAUNCHER_PATH) throw new Error(`container ${container.name} was not wrapped: its command is ${JSON.stringify(container.command)}`);
  return [launcher, ...argv.slice(1)];
}

const describeEnv = (env: ReadonlyMap<string, string>) =>
  [...env].map(([name, value]) => (value.includes('-----BEGIN') ? `${name}=<PEM: the controller's certificate>` : `${name}=${value}`)).join('\n');

interface LaunchResult {
  readonly pid: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

async function runLauncher(argv: readonly string[], env: Readonly<Record<string, string>>, signal: AbortSignal): Promise<LaunchResult> {
  const [file = '', ...args] = argv;
  const child = spawn(file, args, { env, cwd: '/', stdio: ['ignore', 'pipe', 'pipe'], signal, timeout: 60_000, killSignal: 'SIGKILL' });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code, signalCode] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  return { pid: child.pid ?? -1, code, signal: signalCode, stdout, stderr };
}

/** The app's output must be AWSCURRENT's values, masked the same way (compared here, never printed in full). */
async function checkOutput(ctx: DemoContext, result: LaunchResult): Promise<void> {
  const current = await need(ctx.secretsManager, 'secretsManager').send(new GetSecretValueCommand({ SecretId: AWS_SECRET_NAME }));
  const values = JSON.parse(current.SecretString ?? '{}') as Record<string, unknown>;
  const masked = (name: string, value: unknown) => `${name}=${maskValue(String(value))} (${String(value).length} chars)`;
  const expected = [`pid=${result.pid}`, masked('DB_USER', values.username), masked('DB_PASSWORD', values.password), 'PIGGY_* variables: 0'];
  if (result.stdout.trimEnd() !== expected.join('\n')) throw new Error('the app did not print the PID, masked values and PIGGY_* count expected (AWSCURRENT of the secret)');
}

/**
 * Plays the kubelet for the Pod's first container and runs it. `added` is what the demo adds to the
 * container's env: PATH (the image's) and files a real kubelet would mount.
 */
async function startContainer(ctx: DemoContext, pod: V1Pod, launcher: string, added: Readonly<Record<string, string>>): Promise<void> {
  const container = need(pod.spec?.containers[0], 'the Pod\'s container');
  const env = buildContainerEnv(pod, container);
  const argv = buildLauncherArgv(container, env, launcher);
  if (argv.at(-1) !== escapeKubernetesReferences(SCRIPT)) throw new Error('after the kubelet\'s expansion, the script is not the command as the pod author wrote it');
  say(`the kubelet's part, played on the host for Pod ${pod.metadata?.name ?? ''}: env with $(VAR) expansion and the downward API, argv = command + args expanded:`);
  show([`argv  ${[rel(argv[0] ?? ''), ...argv.slice(1, -1)].join(' ')} <the script, $ as the pod author wrote it>`, describeEnv(env), dim(`+ ${Object.entries(added).map(([name, value]) => `${name}=${value.startsWith(DEMO_DIR) ? rel(value) : value}`).join('  ')}`)].join('\n'));
  const result = await runLauncher(argv, { ...added, ...Object.fromEntries(env) }, ctx.signal);
  if (result.code !== 0) {
    show(result.stderr); // the launcher's JSON log: names and codes, never values
    throw new Error(`${pod.metadata?.name ?? ''}: piggy-env exited ${result.code ?? result.signal ?? ''}`);
  }
  say('the app\'s output:');
  show(result.stdout);
  const started = result.stderr.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line.msg === 'starting the app');
  if (started !== undefined) say(dim(`piggy-env log: starting the app (mode ${String(started.mode)}, ${String(started.resolved)} resolved, ${String(started.ms)} ms)`));
  await checkOutput(ctx, result);
  good(`exit code 0; the app printed the launcher's own PID ${result.pid} (execve, not a child); no PIGGY_* reached it; masked, the values match AWSCURRENT's`);
}

async function installDemoLauncher(): Promise<string> {
  command('npm run build:piggy-env');
  let announced = false;
  const build = await ensurePiggyEnvBuild({
    log: (line) => {
      if (!announced) say('no build of these inputs in dist/piggy-env: building the launcher (a cold build takes a minute or two)');
      announced = true;
      say(dim(line));
    },
  });
  good(`piggy-env ${build.buildId} ${build.reused ? 'reused from' : 'built into'} dist/piggy-env (cached by a hash of its inputs)`);
  command(`piggy-env install ${rel(LAUNCHER_DIR)}   # what the install-piggy-env init container runs, into /piggy`);
  const installed = await installLauncher(build.executable, LAUNCHER_DIR);
  good(`installed ${rel(installed.path)} with its loader and ${installed.runtimeFiles} files in lib/ (no Node.js needed where it runs)`);
  return installed.path;
}

/** piggy_proxy_requests_total of the demo controller, summed over the samples that carry `labels`. */
const proxyRequests = async (ctx: DemoContext, labels: Readonly<Record<string, string>> = {}) =>
  sumMetric(await need(ctx.controller, 'controller').scrapeMetrics(), 'piggy_proxy_requests_total', labels);

export const launchStep: DemoStep = {
  title: 'piggy-env at container start: proxy mode and standalone mode',
  async run(ctx: DemoContext) {
    const controller = need(ctx.controller, 'controller');
    const kc = need(ctx.kc, 'kubeconfig');
    const core = kc.makeApiClient(CoreV1Api);
    const launcher = await installDemoLauncher();
    command(`kubectl -n ${NAMESPACE} create serviceaccount ${SERVICE_ACCOUNT}   # this stack runs no controller that makes it`);
    await ensureServiceAccount(kc, NAMESPACE, SERVICE_ACCOUNT);
    await rm(PODS_DIR, { recursive: true, force: true });
    await mkdir(PODS_DIR, { recursive: true, mode: 0o700 });
    try {
      say('both Pods run this script (the app), with DB_USER=piggy:username and DB_PASSWORD=piggy:password:');
      show(SCRIPT);

      const address = `https://127.0.0.1:${controller.httpsPort}`;
      say(`proxy mode: Pod ${PROXY_POD}, piggysec.com/piggy-address: ${address} (in a cluster: the controller's Service, this controller's default ${CONTROLLER_ENV.PIGGY_ADDRESS ?? ''})`);
      const proxyPod = await recreatePod(core, buildAppPod(PROXY_POD, { 'piggysec.com/piggy-address': address }, []));
      const tokenFile = path.join(PODS_DIR, `${PROXY_POD}.token`);
      await writeFile(tokenFile, await fetchPodToken(kc, proxyPod, []), { mode: 0o600 });
      say('a kubelet mounts a pod-bound token at /var/run/secrets/kubernetes.io/serviceaccount/token; here a TokenRequest bound to the Pod goes to a file, named by PIGGY_TOKEN_FILE');
      const before = await proxyRequests(ctx, { result: 'ok' });
      await startContainer(ctx, proxyPod, launcher, { PATH, PIGGY_TOKEN_FILE: tokenFile });
      good(`the controller answered /secret after a TokenReview, the pod binding and the command signature: piggy_proxy_requests_total{result="ok"} ${before} → ${await proxyRequests(ctx, { result: 'ok' })}`);
      command(`curl -s ${controller.metricsUrl} | grep piggy_proxy_requests_total`);

      const aws = buildAwsEnv(need(ctx.stack, 'stack').info.awsEndpoint);
      const webIdentityFile = path.join(PODS_DIR, `${STANDALONE_POD}.sts-token`);
      say(`standalone mode: Pod ${STANDALONE_POD}, piggysec.com/standalone: "true", and the IRSA env EKS's pod identity webhook would add (role ${ROLE_ARN})`);
      const irsa = { AWS_ROLE_ARN: ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE: webIdentityFile, AWS_REGION: aws.AWS_REGION ?? '', AWS_ENDPOINT_URL: aws.AWS_ENDPOINT_URL ?? '' };
      const standalonePod = await recreatePod(core, buildAppPod(STANDALONE_POD, { 'piggysec.com/standalone': 'true' }, Object.entries(irsa).map(([name, value]) => ({ name, value }))));
      await writeFile(webIdentityFile, await fetchPodToken(kc, standalonePod, ['sts.amazonaws.com']), { mode: 0o600 });
      say('EKS projects that token (audience sts.amazonaws.com) into the Pod; here a TokenRequest bound to the Pod is written to the file AWS_WEB_IDENTITY_TOKEN_FILE names');
      const proxyBefore = await proxyRequests(ctx);
      await startContainer(ctx, standalonePod, launcher, { PATH });
      if ((await proxyRequests(ctx)) !== proxyBefore) throw new Error('standalone mode asked the proxy');
      good('the launcher\'s only credential was the pod-bound web-identity token: AssumeRoleWithWebIdentity on moto\'s STS, then GetSecretValue with the role\'s keys; the proxy was not asked (piggy_proxy_requests_total unchanged)');
      good('exit code 0 after success: KongZ/piggy\'s standalone exits 1 there; here the app is exec\'d and its exit code is the Pod\'s');
      command(`kubectl -n ${NAMESPACE} get pods ${PROXY_POD} ${STANDALONE_POD} -o yaml`);
    } finally {
      await rm(PODS_DIR, { recursive: true, force: true }); // the tokens
    }
  },
};
