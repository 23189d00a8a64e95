// The injection webhook end to end, refusals and defaults: a malformed annotation denies the pod
// naming it (never silently false or zero), the access policy and mode checks deny what could only
// fail later, ignored Piggy annotations warn, controller-wide defaults apply with the annotation
// winning, and a pod without any annotations (Piggy crashed on the nil map) is wrapped.
import test from 'ava';
import type { Pod } from '../../src/webhook/pod.ts';
import { FOREIGN_ACCOUNT, MOTO_ACCOUNT } from '../helpers/aws-account.ts';
import { createTestNamespace } from '../helpers/kube.ts';
import { kubectl, uniqueName } from '../helpers/stack.ts';
import {
  PIGGY_ADDRESS,
  assertInjectedOnce,
  assertWrapped,
  containerOf,
  createPod,
  createPodDenied,
  createScope,
  envOf,
  startWebhookController,
} from '../helpers/webhook.ts';

const scope = createScope();
let namespace: string;

test.before(async (t) => {
  namespace = await createTestNamespace(t, 'e2e-wh-deny');
  await startWebhookController(scope, { namespace });
});
test.after.always(() => scope.close());

function annotatedPod(annotations: Record<string, string> | undefined): Pod {
  return {
    metadata: { name: uniqueName('deny'), ...(annotations === undefined ? {} : { annotations }) },
    spec: { containers: [{ name: 'app', image: 'registry.example.com/shop/app:1', command: ['/app'], env: [{ name: 'TOKEN', value: 'piggy:token' }] }] },
  };
}

const MALFORMED: Record<string, string> = {
  'piggysec.com/aws-secret-name': 'not a secret name',
  'piggysec.com/piggy-address': 'http://piggy.example.svc',
  'piggysec.com/aws-region': 'mars',
  'piggysec.com/aws-secret-version': 'not/a version',
  'piggysec.com/aws-ssm-parameter-path': 'no-leading-slash',
  'piggysec.com/standalone': 'yes-please',
  'piggysec.com/piggy-enforce-integrity': 'maybe',
  'piggysec.com/piggy-enforce-service-account': 'maybe',
  'piggysec.com/piggy-ignore-no-env': 'maybe',
  'piggysec.com/piggy-number-of-retry': '-1',
  'piggysec.com/piggy-initial-delay': 'soon',
  'piggysec.com/piggy-dns-resolver': 'carrier-pigeon',
  'piggysec.com/piggy-env-image': 'Not An Image',
  'piggysec.com/piggy-env-image-pull-policy': 'Sometimes',
  'piggysec.com/piggy-env-resource-cpu-request': 'lots',
  'piggysec.com/piggy-env-resource-memory-request': '-64Mi',
  'piggysec.com/piggy-env-resource-cpu-limit': '0',
  'piggysec.com/piggy-env-resource-memory-limit': 'big',
  'piggysec.com/image-pull-secret': 'Bad_Name',
  'piggysec.com/image-pull-secret-namespace': 'Bad_Namespace',
  'piggysec.com/image-skip-verify-registry': 'maybe',
  'piggysec.com/piggy-default-secret-name-prefix': 'bad prefix!',
  'piggysec.com/piggy-default-secret-name-suffix': 'bad suffix!',
  'piggysec.com/debug': 'maybe',
  'piggysec.com/image-failure-policy': 'ignore',
  'piggysec.com/image-pin-digest': 'maybe',
};

test('every malformed annotation value denies the pod, and the message names each annotation', async (t) => {
  const message = await createPodDenied(namespace, annotatedPod(MALFORMED));
  t.regex(message, /admission webhook "pods\.piggysec\.com" denied the request: piggy: invalid pod annotations/);
  for (const annotation of Object.keys(MALFORMED)) t.true(message.includes(`annotation ${annotation}:`), `${annotation} is named`);
  t.regex(message, /must be an https URL/);
});

test('the Piggy options piggy refuses rather than ignore: image-skip-verify-registry "true" and piggy-dns-resolver deny the pod through the real API server', async (t) => {
  const message = await createPodDenied(namespace, annotatedPod({ 'piggysec.com/aws-secret-name': `${namespace}/app`, 'piggysec.com/image-skip-verify-registry': 'true', 'piggysec.com/piggy-dns-resolver': 'tcp4' }));
  t.regex(message, /annotation piggysec\.com\/piggy-dns-resolver: is not supported: piggy-env resolves names with the system resolver/);
  t.regex(message, /annotation piggysec\.com\/image-skip-verify-registry: piggy always verifies registry TLS/);
});

test('one malformed value among valid ones is enough: it never silently becomes false or zero', async (t) => {
  for (const [annotation, value] of [['piggysec.com/standalone', 'ture'], ['piggysec.com/piggy-number-of-retry', 'three'], ['piggysec.com/piggy-env-resource-memory-limit', '64MB']]) {
    const message = await createPodDenied(namespace, annotatedPod({ 'piggysec.com/aws-secret-name': `${namespace}/app`, [annotation ?? '']: value ?? '' }));
    t.true(message.includes(`annotation ${annotation ?? ''}:`), message);
  }
});

test('a resource request above its limit is denied naming both annotations', async (t) => {
  const message = await createPodDenied(namespace, annotatedPod({ 'piggysec.com/aws-secret-name': `${namespace}/app`, 'piggysec.com/piggy-env-resource-cpu-request': '500m', 'piggysec.com/piggy-env-resource-cpu-limit': '200m' }));
  t.regex(message, /annotation piggysec\.com\/piggy-env-resource-cpu-request: must not exceed piggysec\.com\/piggy-env-resource-cpu-limit \(200m\)/);
});

test('the access policy: a secret outside the pod\'s namespace is denied, and so is a default name moved out by prefix', async (t) => {
  const other = await createPodDenied(namespace, annotatedPod({ 'piggysec.com/aws-secret-name': 'other-team/db' }));
  t.true(other.includes(`the access policy does not allow namespace ${namespace} to read secret other-team/db`), other);
  const prefixed = await createPodDenied(namespace, annotatedPod({ 'piggysec.com/piggy-default-secret-name-prefix': 'shared/', 'piggysec.com/piggy-default-secret-name-suffix': '-v2', 'piggysec.com/piggy-address': 'https://piggy.example.svc' }));
  t.true(prefixed.includes(`read secret shared/${namespace}/default-v2`), prefixed);
});

test('the access policy: an ARN in another account is denied naming the account; the controller learned its own (STS) and admits that account\'s ARN', async (t) => {
  const arn = (account: string) => `arn:aws:secretsmanager:us-east-1:${account}:secret:${namespace}/app-AbCdEf`;
  const foreign = await createPodDenied(namespace, annotatedPod({ 'piggysec.com/aws-secret-name': arn(FOREIGN_ACCOUNT) }));
  t.true(foreign.includes(`the access policy does not allow namespace ${namespace} to read secret ${arn(FOREIGN_ACCOUNT)}`), foreign);
  const own = await kubectl(['create', '--namespace', namespace, '--output', 'json', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', ...annotatedPod({ 'piggysec.com/aws-secret-name': arn(MOTO_ACCOUNT) }) }) });
  t.is(own.code, 0, own.stderr);
  assertWrapped(t, JSON.parse(own.stdout) as Pod, 'app', ['/app']);
});

test('modes that could only fail later are denied: standalone without a secret, pull secrets of another namespace, no piggy-env image', async (t) => {
  const standalone = await createPodDenied(namespace, annotatedPod({ 'piggysec.com/standalone': 'true', 'piggysec.com/piggy-address': 'https://piggy.example.svc' }));
  t.regex(standalone, /standalone mode needs piggysec\.com\/aws-secret-name or piggysec\.com\/aws-ssm-parameter-path/);
  const foreign = await createPodDenied(namespace, annotatedPod({ 'piggysec.com/aws-secret-name': `${namespace}/app`, 'piggysec.com/image-pull-secret-namespace': 'kube-system' }));
  t.regex(foreign, /annotation piggysec\.com\/image-pull-secret-namespace: may only name the pod's own namespace/);
  const noImage = await createPodDenied(namespace, annotatedPod({ 'piggysec.com/aws-secret-name': `${namespace}/app`, 'piggysec.com/piggy-env-image': '' }));
  t.regex(noImage, /piggysec\.com\/piggy-env-image is not set/);
});

test('Piggy annotations piggy ignores are admitted with a warning and change nothing', async (t) => {
  const pod = annotatedPod({ 'piggysec.com/aws-secret-name': `${namespace}/app`, 'piggysec.com/piggy-skip-verify-tls': 'true', 'piggysec.com/piggy-psp-allow-privilege-escalation': 'true' });
  const created = await kubectl(['create', '--namespace', namespace, '--output', 'json', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', ...pod }) });
  t.is(created.code, 0, created.stderr);
  t.regex(created.stderr, /Warning: piggysec\.com\/piggy-skip-verify-tls is ignored/);
  t.regex(created.stderr, /Warning: piggysec\.com\/piggy-psp-allow-privilege-escalation is ignored/);
  const stored = JSON.parse(created.stdout) as Pod;
  t.false(containerOf(stored, 'install-piggy-env').securityContext?.allowPrivilegeEscalation);
  t.is(envOf(containerOf(stored, 'app')).PIGGY_SKIP_VERIFY_TLS, undefined);
  assertWrapped(t, stored, 'app', ['/app']);
});

test('a pod with no annotations at all and a literal piggy: value is wrapped through the controller defaults (Piggy regression: nil map)', async (t) => {
  const stored = await createPod(namespace, annotatedPod(undefined));
  assertWrapped(t, stored, 'app', ['/app']);
  assertInjectedOnce(t, stored, ['app']);
  t.like(envOf(containerOf(stored, 'app')), { PIGGY_ADDRESS, PIGGY_AWS_REGION: 'us-east-1' });
  t.is(envOf(containerOf(stored, 'app')).PIGGY_AWS_SECRET_NAME, undefined, 'proxy mode: the proxy derives the default name');
});

test('controller-wide defaults apply to every pod, and an annotation wins over its default', async (t) => {
  const own = await createTestNamespace(t, 'e2e-wh-defaults');
  await startWebhookController(t, {
    namespace: own,
    env: {
      PIGGY_NUMBER_OF_RETRY: '5',
      DEBUG: 'true',
      PIGGY_IGNORE_NO_ENV: 'true',
      PIGGY_ENV_IMAGE_PULL_POLICY: 'Always',
      PIGGY_ENV_RESOURCE_MEMORY_LIMIT: '256Mi',
      AWS_SSM_PARAMETER_PATH: '/defaults/path',
    },
  });
  const [defaulted, overridden] = await Promise.all([
    createPod(own, annotatedPod({ 'piggysec.com/piggy-address': 'https://piggy.example.svc' })),
    createPod(own, annotatedPod({
      'piggysec.com/piggy-address': 'https://piggy.example.svc',
      'piggysec.com/piggy-number-of-retry': '2',
      'piggysec.com/debug': 'false',
      'piggysec.com/piggy-ignore-no-env': 'false',
      'piggysec.com/piggy-env-image-pull-policy': 'Never',
      'piggysec.com/aws-ssm-parameter-path': '',
    })),
  ]);
  t.like(envOf(containerOf(defaulted, 'app')), { PIGGY_NUMBER_OF_RETRY: '5', PIGGY_DEBUG: 'true', PIGGY_IGNORE_NO_ENV: 'true', PIGGY_AWS_SSM_PARAMETER_PATH: '/defaults/path' });
  t.like(containerOf(defaulted, 'install-piggy-env'), { imagePullPolicy: 'Always', resources: { limits: { memory: '256Mi' } } });
  const env = envOf(containerOf(overridden, 'app'));
  t.like(env, { PIGGY_NUMBER_OF_RETRY: '2' });
  t.is(env.PIGGY_DEBUG, undefined);
  t.is(env.PIGGY_IGNORE_NO_ENV, undefined);
  t.is(env.PIGGY_AWS_SSM_PARAMETER_PATH, undefined, 'an empty annotation unsets the default');
  t.like(containerOf(overridden, 'install-piggy-env'), { imagePullPolicy: 'Never', resources: { limits: { memory: '256Mi' } } });
});
