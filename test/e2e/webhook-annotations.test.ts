// The injection webhook end to end, annotations: the effect of every `piggysec.com/*` annotation
// on the persisted Pod (the launcher env, the install container), with the controller-wide defaults
// of the environment and an annotation winning over them.
import test, { type ExecutionContext } from 'ava';
import type { Pod } from '../../src/webhook/pod.ts';
import { createTestNamespace } from '../helpers/kube.ts';
import { uniqueName } from '../helpers/stack.ts';
import {
  ENV_IMAGE,
  PIGGY_ADDRESS,
  assertInjectedOnce,
  assertWrapped,
  containerOf,
  createPod,
  createScope,
  envOf,
  startWebhookController,
  type WebhookController,
} from '../helpers/webhook.ts';

const scope = createScope();
let controller: WebhookController;
let namespace: string;

test.before(async (t) => {
  namespace = await createTestNamespace(t, 'e2e-wh-annot');
  controller = await startWebhookController(scope, { namespace });
});
test.after.always(() => scope.close());

const VERSION_ID = 'EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE';
const LAUNCHER_ENV = ['PIGGY_AWS_SECRET_NAME', 'PIGGY_AWS_REGION', 'PIGGY_AWS_SSM_PARAMETER_PATH', 'PIGGY_AWS_SECRET_VERSION_ID', 'PIGGY_AWS_SECRET_VERSION_STAGE', 'PIGGY_ADDRESS', 'PIGGY_CA_BUNDLE', 'PIGGY_POD_NAME', 'PIGGY_UID', 'PIGGY_STANDALONE', 'PIGGY_DEBUG', 'PIGGY_IGNORE_NO_ENV', 'PIGGY_NUMBER_OF_RETRY', 'PIGGY_INITIAL_DELAY', 'PIGGY_DNS_RESOLVER'];

function annotatedPod(annotations: Record<string, string>): Pod {
  return {
    metadata: { name: uniqueName('annot'), annotations },
    spec: { containers: [{ name: 'app', image: 'registry.example.com/shop/app:1', command: ['/app'], env: [{ name: 'TOKEN', value: 'piggy:token' }] }] },
  };
}

interface Case {
  readonly annotations: Record<string, string>;
  /** The launcher env of the wrapped container: exactly these PIGGY_* names (PIGGY_UID, PIGGY_POD_NAME checked elsewhere). */
  readonly env: Record<string, string>;
  readonly install?: Record<string, unknown>;
}

const PROXY = () => ({ PIGGY_ADDRESS, PIGGY_CA_BUNDLE: controller.ca });
const BASE = () => ({ 'piggysec.com/aws-secret-name': `${namespace}/app` });

async function effect(t: ExecutionContext, build: () => Case): Promise<void> {
  const { annotations, env, install } = build();
  const stored = await createPod(namespace, annotatedPod(annotations));
  assertWrapped(t, stored, 'app', ['/app']);
  assertInjectedOnce(t, stored, ['app']);
  const actual = envOf(containerOf(stored, 'app'));
  const launcher = Object.fromEntries(Object.entries(actual).filter(([name]) => LAUNCHER_ENV.includes(name) && name !== 'PIGGY_UID' && name !== 'PIGGY_POD_NAME'));
  t.deepEqual(launcher, env);
  t.is(actual.TOKEN, 'piggy:token');
  if (install !== undefined) t.like(containerOf(stored, 'install-piggy-env'), install);
}

test('defaults: aws-secret-name alone gets the controller\'s PIGGY_ADDRESS, AWS_REGION and CA', effect, () => ({
  annotations: BASE(),
  env: { PIGGY_AWS_SECRET_NAME: `${namespace}/app`, PIGGY_AWS_REGION: 'us-east-1', ...PROXY() },
  install: { image: ENV_IMAGE, imagePullPolicy: 'IfNotPresent', resources: { limits: { cpu: '200m', memory: '128Mi' }, requests: { cpu: '50m', memory: '64Mi' } } },
}));

test('piggy-address: the launcher gets the base URL without a trailing slash', effect, () => ({
  annotations: { 'piggysec.com/piggy-address': 'https://piggy.example.svc:8443/' },
  env: { PIGGY_AWS_REGION: 'us-east-1', PIGGY_ADDRESS: 'https://piggy.example.svc:8443', PIGGY_CA_BUNDLE: controller.ca },
}));

test('aws-region overrides AWS_REGION', effect, () => ({
  annotations: { ...BASE(), 'piggysec.com/aws-region': 'eu-west-1' },
  env: { PIGGY_AWS_SECRET_NAME: `${namespace}/app`, PIGGY_AWS_REGION: 'eu-west-1', ...PROXY() },
}));

test('aws-secret-version: a VersionId is passed as a VersionId (Piggy sent it as a stage)', effect, () => ({
  annotations: { ...BASE(), 'piggysec.com/aws-secret-version': VERSION_ID },
  env: { PIGGY_AWS_SECRET_NAME: `${namespace}/app`, PIGGY_AWS_REGION: 'us-east-1', PIGGY_AWS_SECRET_VERSION_ID: VERSION_ID, ...PROXY() },
}));

test('aws-secret-version: a staging label is still accepted, as a stage', effect, () => ({
  annotations: { ...BASE(), 'piggysec.com/aws-secret-version': 'AWSPREVIOUS' },
  env: { PIGGY_AWS_SECRET_NAME: `${namespace}/app`, PIGGY_AWS_REGION: 'us-east-1', PIGGY_AWS_SECRET_VERSION_STAGE: 'AWSPREVIOUS', ...PROXY() },
}));

test('aws-secret-version: explicit id: and stage: prefixes decide the kind', async (t) => {
  const [id, stage] = await Promise.all([
    createPod(namespace, annotatedPod({ ...BASE(), 'piggysec.com/aws-secret-version': 'id:0123456789abcdef0123456789abcdef' })),
    createPod(namespace, annotatedPod({ ...BASE(), 'piggysec.com/aws-secret-version': 'stage:release-2024-01-01-0000000000000000' })),
  ]);
  t.is(envOf(containerOf(id, 'app')).PIGGY_AWS_SECRET_VERSION_ID, '0123456789abcdef0123456789abcdef');
  t.is(envOf(containerOf(stage, 'app')).PIGGY_AWS_SECRET_VERSION_STAGE, 'release-2024-01-01-0000000000000000');
  t.is(envOf(containerOf(stage, 'app')).PIGGY_AWS_SECRET_VERSION_ID, undefined);
});

test('aws-ssm-parameter-path is a trigger on its own and reaches the launcher', effect, () => ({
  annotations: { 'piggysec.com/aws-ssm-parameter-path': '/shop/prod' },
  env: { PIGGY_AWS_SSM_PARAMETER_PATH: '/shop/prod', PIGGY_AWS_REGION: 'us-east-1', ...PROXY() },
}));

test('standalone: PIGGY_STANDALONE and no proxy variables (no address, CA or pod name)', async (t) => {
  const stored = await createPod(namespace, annotatedPod({ ...BASE(), 'piggysec.com/standalone': 'true' }));
  const env = envOf(containerOf(stored, 'app'));
  t.like(env, { PIGGY_STANDALONE: 'true', PIGGY_AWS_SECRET_NAME: `${namespace}/app`, PIGGY_AWS_REGION: 'us-east-1' });
  for (const name of ['PIGGY_ADDRESS', 'PIGGY_CA_BUNDLE', 'PIGGY_POD_NAME']) t.is(env[name], undefined, name);
  assertWrapped(t, stored, 'app', ['/app']);
});

test('piggy-ignore-no-env, piggy-number-of-retry, piggy-initial-delay and debug reach the launcher', effect, () => ({
  annotations: {
    ...BASE(),
    'piggysec.com/piggy-ignore-no-env': 'true',
    'piggysec.com/piggy-number-of-retry': '3',
    'piggysec.com/piggy-initial-delay': '1m30s',
    'piggysec.com/debug': 'true',
  },
  env: {
    PIGGY_AWS_SECRET_NAME: `${namespace}/app`,
    PIGGY_AWS_REGION: 'us-east-1',
    ...PROXY(),
    PIGGY_IGNORE_NO_ENV: 'true',
    PIGGY_NUMBER_OF_RETRY: '3',
    PIGGY_INITIAL_DELAY: '1m30s',
    PIGGY_DEBUG: 'true',
  },
}));

test('false and zero values inject nothing (Piggy injected only what was set)', effect, () => ({
  annotations: { ...BASE(), 'piggysec.com/piggy-ignore-no-env': 'false', 'piggysec.com/debug': 'false', 'piggysec.com/piggy-number-of-retry': '0', 'piggysec.com/piggy-initial-delay': '0' },
  env: { PIGGY_AWS_SECRET_NAME: `${namespace}/app`, PIGGY_AWS_REGION: 'us-east-1', ...PROXY() },
}));

test('piggy-env-image, its pull policy and the four resource annotations shape install-piggy-env', effect, () => ({
  annotations: {
    ...BASE(),
    'piggysec.com/piggy-env-image': 'ghcr.io/example/piggy-env:9.9.9',
    'piggysec.com/piggy-env-image-pull-policy': 'Always',
    'piggysec.com/piggy-env-resource-cpu-request': '10m',
    'piggysec.com/piggy-env-resource-memory-request': '16Mi',
    'piggysec.com/piggy-env-resource-cpu-limit': '1',
    'piggysec.com/piggy-env-resource-memory-limit': '1Gi',
  },
  env: { PIGGY_AWS_SECRET_NAME: `${namespace}/app`, PIGGY_AWS_REGION: 'us-east-1', ...PROXY() },
  install: { image: 'ghcr.io/example/piggy-env:9.9.9', imagePullPolicy: 'Always', resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '1', memory: '1Gi' } } },
}));

test('proxy-side settings (enforce-integrity, enforce-service-account, default-secret-name suffix, image-skip-verify-registry "false", own pull-secret namespace) are accepted and inject no launcher variable (they are in the admission record)', effect, () => ({
  annotations: {
    'piggysec.com/piggy-enforce-integrity': 'false',
    'piggysec.com/piggy-enforce-service-account': 'true',
    'piggysec.com/piggy-default-secret-name-suffix': '-suffix',
    'piggysec.com/image-skip-verify-registry': 'false',
    'piggysec.com/image-pull-secret-namespace': namespace,
    'piggysec.com/image-pull-secret': 'regcred',
    'piggysec.com/piggy-address': 'https://piggy.example.svc',
  },
  env: { PIGGY_AWS_REGION: 'us-east-1', PIGGY_ADDRESS: 'https://piggy.example.svc', PIGGY_CA_BUNDLE: controller.ca },
}));

test('the pod security context decides the install container\'s user: a non-root pod user is inherited, root is replaced', async (t) => {
  const nonRoot = annotatedPod(BASE());
  nonRoot.spec = { ...nonRoot.spec, containers: nonRoot.spec?.containers ?? [], securityContext: { runAsUser: 1000 } };
  const root = annotatedPod(BASE());
  root.spec = { ...root.spec, containers: root.spec?.containers ?? [], securityContext: { runAsUser: 0 } };
  const [inherited, replaced] = await Promise.all([createPod(namespace, nonRoot), createPod(namespace, root)]);
  t.is(containerOf(inherited, 'install-piggy-env').securityContext?.runAsUser, undefined, 'inherits 1000 from the pod');
  t.is(containerOf(replaced, 'install-piggy-env').securityContext?.runAsUser, 65532);
  t.true(containerOf(replaced, 'install-piggy-env').securityContext?.runAsNonRoot);
});

test('a hand-written piggy-uid is replaced by the webhook\'s own map', async (t) => {
  const forged = JSON.stringify({ ['f'.repeat(32)]: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' });
  const stored = await createPod(namespace, annotatedPod({ ...BASE(), 'piggysec.com/piggy-uid': forged }));
  const uids = JSON.parse(stored.metadata?.annotations?.['piggysec.com/piggy-uid'] ?? '{}') as Record<string, string>;
  t.false(Object.hasOwn(uids, 'f'.repeat(32)), 'the forged uid is gone');
  assertInjectedOnce(t, stored, ['app']);
});
