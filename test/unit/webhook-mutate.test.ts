// The pod mutation through handleAdmission, over fixture pods, with fake API and registry.
import test from 'ava';
import { buildCommandSignature, parsePiggyUids } from '../../src/shared/injection-contract.ts';
import { readWrappedTemplate } from '../../src/webhook/command.ts';
import { handleAdmission } from '../../src/webhook/review.ts';
import { CA_PEM, ENV_IMAGE, buildDeps, buildReview, containerOf as container, envOf, fakeImages, fakeLookup, loadPod, mutatedPod, patchOf, valueOf, type ImageCall } from '../fixtures/admission/build.ts';


test('a container with a literal piggy: value is wrapped; the others are untouched', async (t) => {
  const pod = loadPod('pod-env-literal');
  const deps = buildDeps();
  const review = await handleAdmission(buildReview(pod, { uid: 'abc' }), deps);
  t.like(review, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'abc', allowed: true, patchType: 'JSONPatch' } });
  const out = mutatedPod(pod, review);
  const app = container(out, 'app');
  t.deepEqual(app.command, ['/piggy/piggy-env']);
  t.deepEqual(app.args, ['--', '/bin/sh', '-c', 'echo $$(GREETING) $$$$HOME && exec server --password-file=/run/pw']);
  t.deepEqual(app.volumeMounts, [
    { name: 'piggy-env', mountPath: '/piggy', readOnly: true },
    { name: 'piggy-token', mountPath: '/var/run/secrets/piggysec.com/serviceaccount', readOnly: true },
  ]);
  t.like(envOf(app), {
    GREETING: { value: 'hello' },
    DB_PASSWORD: { value: 'piggy:db-password' },
    PIGGY_AWS_SECRET_NAME: { value: 'shop/demo' },
    PIGGY_AWS_REGION: { value: 'eu-west-1' },
    PIGGY_ADDRESS: { value: 'https://piggy.piggy.svc' },
    PIGGY_POD_NAME: { valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
    PIGGY_CA_BUNDLE: { value: CA_PEM },
    PIGGY_UID: { value: '00000000000000000000000000000001' },
    PIGGY_TOKEN_FILE: { value: '/var/run/secrets/piggysec.com/serviceaccount/token' },
  });
  for (const absent of ['PIGGY_STANDALONE', 'PIGGY_DEBUG', 'PIGGY_IGNORE_NO_ENV', 'PIGGY_NUMBER_OF_RETRY', 'PIGGY_INITIAL_DELAY', 'PIGGY_DNS_RESOLVER', 'PIGGY_AWS_SSM_PARAMETER_PATH']) {
    t.false(absent in envOf(app), absent);
  }
  t.deepEqual(container(out, 'metrics'), container(pod, 'metrics'), 'a container without piggy: values is left alone');
  t.deepEqual(out.spec?.volumes, [
    { name: 'piggy-env', emptyDir: { sizeLimit: '256Mi' } },
    { name: 'piggy-token', projected: { sources: [{ serviceAccountToken: { audience: 'piggysec.com', expirationSeconds: 600, path: 'token' } }] } },
  ], 'disk-backed, size-limited; the token of piggy\'s audience, 10 minutes');
  const uids = parsePiggyUids(out.metadata?.annotations?.['piggysec.com/piggy-uid']);
  t.deepEqual(uids, { '00000000000000000000000000000001': buildCommandSignature(['/bin/sh', '-c', 'echo $(GREETING) $$HOME && exec server --password-file=/run/pw']) });
  t.deepEqual(uids?.['00000000000000000000000000000001'], buildCommandSignature(readWrappedTemplate(app)));
});

test('the install init container is first and meets the restricted Pod Security Standard', async (t) => {
  const pod = loadPod('pod-env-literal');
  const out = mutatedPod(pod, await handleAdmission(buildReview(pod), buildDeps()));
  t.deepEqual(out.spec?.initContainers, [
    {
      name: 'install-piggy-env',
      image: ENV_IMAGE,
      imagePullPolicy: 'IfNotPresent',
      args: ['install', '/piggy-volume', '--mount-path', '/piggy'],
      resources: { limits: { cpu: '200m', memory: '128Mi' }, requests: { cpu: '50m', memory: '64Mi' } },
      securityContext: {
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        runAsUser: 65532,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      volumeMounts: [{ name: 'piggy-env', mountPath: '/piggy-volume' }],
    },
  ]);
});

test('image-volume delivery: the piggy-env image is the volume, its piggy/ folder mounted at /piggy; no init container, nothing copied', async (t) => {
  const pod = loadPod('pod-env-literal');
  const review = await handleAdmission(buildReview(pod), buildDeps({ launcherDelivery: () => 'image-volume' }));
  const out = mutatedPod(pod, review);
  t.deepEqual(out.spec?.volumes?.find((volume) => volume.name === 'piggy-env'), { name: 'piggy-env', image: { reference: ENV_IMAGE, pullPolicy: 'IfNotPresent' } });
  t.deepEqual(container(out, 'app').volumeMounts?.find((mount) => mount.name === 'piggy-env'), { name: 'piggy-env', mountPath: '/piggy', readOnly: true, subPath: 'piggy' });
  t.deepEqual(container(out, 'app').command, ['/piggy/piggy-env']);
  t.is(out.spec?.initContainers, undefined, 'no install-piggy-env');
  // A reinvocation under the other setting keeps the volume the pod has, and changes nothing.
  const again = await handleAdmission(buildReview(out), buildDeps({ launcherDelivery: () => 'init-container' }));
  t.deepEqual(patchOf(again), []);
  const back = await handleAdmission(buildReview(mutatedPod(pod, await handleAdmission(buildReview(pod), buildDeps()))), buildDeps({ launcherDelivery: () => 'image-volume' }));
  t.deepEqual(patchOf(back), [], 'an emptyDir pod stays an emptyDir pod');
});

test('the install container inherits a non-root pod runAsUser, and overrides root', async (t) => {
  for (const [runAsUser, expected] of [[1000, undefined], [0, 65532]] as const) {
    const pod = loadPod('pod-env-literal');
    pod.spec = { ...pod.spec, containers: pod.spec?.containers ?? [], securityContext: { runAsUser } };
    const out = mutatedPod(pod, await handleAdmission(buildReview(pod), buildDeps()));
    t.is(container(out, 'install-piggy-env').securityContext?.runAsUser, expected, `pod runAsUser ${runAsUser}`);
    t.true(container(out, 'install-piggy-env').securityContext?.runAsNonRoot);
  }
});

test('every launcher annotation reaches the PIGGY_* env; resources and pull policy reach the init container', async (t) => {
  const pod = loadPod('pod-env-literal');
  Object.assign(pod.metadata?.annotations ?? {}, {
    'piggysec.com/aws-ssm-parameter-path': '/shop/demo',
    'piggysec.com/aws-secret-version': 'c43e66cb-2f71-4c5e-9b4c-1d8a3e0c2f11',
    'piggysec.com/debug': 'true',
    'piggysec.com/piggy-ignore-no-env': 'true',
    'piggysec.com/piggy-number-of-retry': '4',
    'piggysec.com/piggy-initial-delay': '1500ms',
    'piggysec.com/piggy-env-image': 'localhost:5000/piggy-env:dev',
    'piggysec.com/piggy-env-image-pull-policy': 'Always',
    'piggysec.com/piggy-env-resource-cpu-request': '10m',
    'piggysec.com/piggy-env-resource-memory-request': '16Mi',
    'piggysec.com/piggy-env-resource-cpu-limit': '1',
    'piggysec.com/piggy-env-resource-memory-limit': '256Mi',
  });
  const out = mutatedPod(pod, await handleAdmission(buildReview(pod), buildDeps()));
  const app = container(out, 'app');
  t.like(envOf(app), {
    PIGGY_AWS_SSM_PARAMETER_PATH: { value: '/shop/demo' },
    PIGGY_AWS_SECRET_VERSION_ID: { value: 'c43e66cb-2f71-4c5e-9b4c-1d8a3e0c2f11' },
    PIGGY_DEBUG: { value: 'true' },
    PIGGY_IGNORE_NO_ENV: { value: 'true' },
    PIGGY_NUMBER_OF_RETRY: { value: '4' },
    PIGGY_INITIAL_DELAY: { value: '1500ms' },
  });
  t.false('PIGGY_AWS_SECRET_VERSION_STAGE' in envOf(app));
  const install = container(out, 'install-piggy-env');
  t.like(install, { image: 'localhost:5000/piggy-env:dev', imagePullPolicy: 'Always' });
  t.deepEqual(install.resources, { limits: { cpu: '1', memory: '256Mi' }, requests: { cpu: '10m', memory: '16Mi' } });
});

test('a staging label becomes PIGGY_AWS_SECRET_VERSION_STAGE', async (t) => {
  const pod = loadPod('pod-env-literal');
  Object.assign(pod.metadata?.annotations ?? {}, { 'piggysec.com/aws-secret-version': 'AWSPREVIOUS' });
  const app = container(mutatedPod(pod, await handleAdmission(buildReview(pod), buildDeps())), 'app');
  t.is(valueOf(app, 'PIGGY_AWS_SECRET_VERSION_STAGE'), 'AWSPREVIOUS');
  t.false('PIGGY_AWS_SECRET_VERSION_ID' in envOf(app));
});

test('standalone: PIGGY_STANDALONE and no proxy variables or CA', async (t) => {
  const pod = loadPod('pod-env-literal');
  Object.assign(pod.metadata?.annotations ?? {}, { 'piggysec.com/standalone': 'true' });
  const app = container(mutatedPod(pod, await handleAdmission(buildReview(pod), buildDeps())), 'app');
  t.is(valueOf(app, 'PIGGY_STANDALONE'), 'true');
  for (const absent of ['PIGGY_ADDRESS', 'PIGGY_POD_NAME', 'PIGGY_CA_BUNDLE', 'PIGGY_TOKEN_FILE', 'PIGGY_ADMISSION']) t.false(absent in envOf(app), absent);
  t.regex(valueOf(app, 'PIGGY_UID') ?? '', /^[0-9a-f]{32}$/);
  t.false(JSON.stringify(mutatedPod(pod, await handleAdmission(buildReview(pod), buildDeps())).spec?.volumes).includes('piggy-token'), 'no proxy token in standalone mode');
});

test('valueFrom and envFrom references are read through the API, once per object', async (t) => {
  const pod = loadPod('pod-value-from');
  const calls: string[] = [];
  const lookupRef = fakeLookup(
    {
      'ConfigMap/app-config': { 'api-key': 'piggy:api-key', 'log-level': 'debug' },
      'Secret/app-secret': { 'db-password': 'piggy:db-password', other: 'plain' },
      'ConfigMap/app-env': { TOKEN: 'piggy:token', MODE: 'fast' },
      'Secret/plain-secret': { USER: 'admin' },
    },
    calls,
  );
  const deps = buildDeps({ lookupRef });
  const out = mutatedPod(pod, await handleAdmission(buildReview(pod), deps));
  for (const name of ['config-map-key', 'secret-key', 'env-from', 'env-from-secret']) t.deepEqual(container(out, name).command, ['/piggy/piggy-env'], name);
  t.deepEqual(container(out, 'plain-refs'), container(pod, 'plain-refs'), 'only non-piggy values: untouched');
  t.deepEqual([...calls].sort(), ['ConfigMap/shop/app-config', 'ConfigMap/shop/app-env', 'ConfigMap/shop/missing', 'Secret/shop/app-secret', 'Secret/shop/plain-secret']);
  const line = deps.capture.lines().find((entry) => entry.msg === 'pod mutated');
  const reasons = line?.reasons as { code: string; container?: string; detail?: string; names?: string[] }[];
  t.deepEqual(reasons.find((reason) => reason.container === 'env-from' && reason.code === 'references'), { code: 'references', container: 'env-from', detail: 'envFrom', names: ['APP_TOKEN'] });
  t.deepEqual(reasons.find((reason) => reason.code === 'missing-ref'), { code: 'missing-ref', container: 'plain-refs', names: ['ConfigMap/missing'] });
});

test('a literal reference settles a container without reading its refs', async (t) => {
  const pod = loadPod('pod-env-literal');
  const app = container(pod, 'app');
  app.envFrom = [{ secretRef: { name: 'big' } }];
  const calls: string[] = [];
  await handleAdmission(buildReview(pod), buildDeps({ lookupRef: fakeLookup({}, calls) }));
  t.deepEqual(calls, []);
});

test('a failing API read denies the pod (503) naming the object, never admits it unwrapped', async (t) => {
  const pod = loadPod('pod-value-from');
  const lookupRef = () => Promise.reject(new Error('kubernetes get secret shop/app-secret failed (HTTP 500)'));
  const review = await handleAdmission(buildReview(pod), buildDeps({ lookupRef }));
  t.false(review.response.allowed);
  t.is(review.response.status?.code, 503);
  t.regex(review.response.status?.message ?? '', /shop\/app-secret/);
});

test('no command: the image entrypoint is read (once per image) with the pod pull secrets', async (t) => {
  const pod = loadPod('pod-image-entrypoint');
  const calls: ImageCall[] = [];
  const resolveImage = fakeImages({ 'registry.example.com/shop/worker:7': { entrypoint: ['/worker'], cmd: ['--serve'], digest: `sha256:${'a'.repeat(64)}` } }, calls);
  const review = await handleAdmission(buildReview(pod), buildDeps({ resolveImage }));
  t.true(review.response.allowed);
  const out = mutatedPod(pod, review);
  t.deepEqual(container(out, 'args-only').args, ['--', '/worker', '--queue', '$$(QUEUE)']);
  t.deepEqual(container(out, 'image-default').args, ['--', '/worker', '--serve']);
  t.deepEqual(container(out, 'migrate').args, ['--', 'migrate', 'up']);
  t.is(calls.length, 1, 'one read for two containers of one image; none for a container with a command');
  t.like(calls[0]?.context, { namespace: 'shop', serviceAccountName: 'default', extraPullSecret: undefined, platform: undefined });
  t.deepEqual(calls[0]?.context.imagePullSecrets, ['regcred'], "Piggy's empty pull-secret names are gone");
  t.is(container(out, 'image-default').image, 'registry.example.com/shop/worker:7', 'not pinned unless asked');
  t.is(valueOf(container(out, 'args-only'), 'PIGGY_ADDRESS'), 'https://piggy.piggy.svc', 'trailing slash dropped (Piggy bug)');
});

test('wrapped init containers run after install-piggy-env', async (t) => {
  const pod = loadPod('pod-image-entrypoint');
  const resolveImage = fakeImages({ 'registry.example.com/shop/worker:7': { entrypoint: ['/worker'], cmd: [] } });
  const out = mutatedPod(pod, await handleAdmission(buildReview(pod), buildDeps({ resolveImage })));
  t.deepEqual(out.spec?.initContainers?.map((item) => item.name), ['install-piggy-env', 'migrate']);
  t.is(Object.keys(parsePiggyUids(out.metadata?.annotations?.['piggysec.com/piggy-uid']) ?? {}).length, 3);
});

test('pinning, extra pull secret and platform reach the image read', async (t) => {
  const pod = loadPod('pod-image-entrypoint');
  Object.assign(pod.metadata?.annotations ?? {}, {
    'piggysec.com/image-pin-digest': 'true',
    'piggysec.com/image-pull-secret': 'shared-pull',
    'piggysec.com/image-skip-verify-registry': 'false',
  });
  pod.spec = { ...pod.spec, containers: pod.spec?.containers ?? [], nodeSelector: { 'kubernetes.io/arch': 'arm64' }, serviceAccountName: 'worker' };
  const calls: ImageCall[] = [];
  const digest = `sha256:${'b'.repeat(64)}`;
  const resolveImage = fakeImages({ 'registry.example.com/shop/worker:7': { entrypoint: ['/worker'], cmd: [], digest } }, calls);
  const out = mutatedPod(pod, await handleAdmission(buildReview(pod), buildDeps({ resolveImage })));
  t.is(container(out, 'image-default').image, `registry.example.com/shop/worker:7@${digest}`);
  t.is(container(out, 'migrate').image, 'registry.example.com/shop/migrate:2', 'a container with a command was not inspected');
  t.like(calls[0]?.context, { serviceAccountName: 'worker', extraPullSecret: { name: 'shared-pull', namespace: 'shop' }, platform: { os: 'linux', architecture: 'arm64' } });
});

test('an image that cannot be read denies the pod, naming container, image and why', async (t) => {
  const pod = loadPod('pod-image-entrypoint');
  const failure = Object.assign(new Error('image "registry.example.com/shop/worker:7": registry registry.example.com answered 401 for the manifest 7'), { kind: 'terminal' });
  const review = await handleAdmission(buildReview(pod), buildDeps({ resolveImage: fakeImages({ 'registry.example.com/shop/worker:7': failure }) }));
  t.false(review.response.allowed);
  t.is(review.response.status?.code, 400);
  const message = review.response.status?.message ?? '';
  t.regex(message, /container "args-only"/);
  t.regex(message, /container "image-default"/);
  t.regex(message, /image "registry\.example\.com\/shop\/worker:7"/);
  t.regex(message, /answered 401/);
  t.is(review.response.patch, undefined);
});

test('an unreachable registry denies with 503 (retryable)', async (t) => {
  const pod = loadPod('pod-image-entrypoint');
  const failure = Object.assign(new Error('connect ECONNREFUSED'), { kind: 'transient' });
  const review = await handleAdmission(buildReview(pod), buildDeps({ resolveImage: fakeImages({ 'registry.example.com/shop/worker:7': failure }) }));
  t.like(review.response, { allowed: false, status: { code: 503 } });
});

test('image-failure-policy admit: allowed unwrapped with a warning, never silently', async (t) => {
  const pod = loadPod('pod-image-entrypoint');
  Object.assign(pod.metadata?.annotations ?? {}, { 'piggysec.com/image-failure-policy': 'admit' });
  const review = await handleAdmission(buildReview(pod), buildDeps());
  t.true(review.response.allowed);
  t.is(review.response.warnings?.length, 2);
  t.regex(review.response.warnings?.[0] ?? '', /did not wrap container "args-only"/);
  const out = mutatedPod(pod, review);
  t.deepEqual(container(out, 'image-default'), container(pod, 'image-default'));
  t.deepEqual(container(out, 'migrate').command, ['/piggy/piggy-env'], 'the container with a command is still wrapped');
});

test('an image without ENTRYPOINT and CMD cannot be wrapped: denied', async (t) => {
  const pod = loadPod('pod-image-entrypoint');
  const review = await handleAdmission(buildReview(pod), buildDeps({ resolveImage: fakeImages({ 'registry.example.com/shop/worker:7': { entrypoint: [], cmd: [] } }) }));
  t.false(review.response.allowed);
  t.regex(review.response.status?.message ?? '', /container "image-default" sets no command and image "registry\.example\.com\/shop\/worker:7" has no ENTRYPOINT or CMD/);
});

test('a slow registry is cut by the deadline and denied', async (t) => {
  const pod = loadPod('pod-image-entrypoint');
  const resolveImage = () => new Promise<never>(() => undefined);
  const started = Date.now();
  const review = await handleAdmission(buildReview(pod), buildDeps({ resolveImage: (image, context) => Promise.race([resolveImage(), new Promise<never>((_r, reject) => context.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }))]), deadlineMs: 200 }));
  t.true(Date.now() - started < 5_000);
  t.like(review.response, { allowed: false, status: { code: 503 } });
  t.regex(review.response.status?.message ?? '', /timed out/);
});

test('a triggered pod whose containers reference nothing is allowed without a patch', async (t) => {
  const pod = loadPod('pod-env-literal');
  for (const item of pod.spec?.containers ?? []) item.env = [];
  const review = await handleAdmission(buildReview(pod), buildDeps());
  t.deepEqual(review.response, { uid: 'uid-1', allowed: true });
});

test('a pod that did not opt in is allowed without a patch, even with piggy: values', async (t) => {
  const review = await handleAdmission(buildReview(loadPod('pod-plain')), buildDeps());
  t.deepEqual(review.response, { uid: 'uid-1', allowed: true });
});

test('denials for settings the launcher could only fail on', async (t) => {
  const cases: [Record<string, string>, RegExp, Record<string, string>?][] = [
    [{ 'piggysec.com/aws-secret-name': 'shop/x' }, /proxy mode needs piggysec\.com\/piggy-address/],
    [{ 'piggysec.com/piggy-address': 'https://p.svc', 'piggysec.com/standalone': 'true' }, /standalone mode needs piggysec\.com\/aws-secret-name or piggysec\.com\/aws-ssm-parameter-path/],
    [{ 'piggysec.com/piggy-address': 'https://p.svc' }, /piggysec\.com\/piggy-env-image is not set/, {}],
  ];
  for (const [annotations, expected, defaults] of cases) {
    const pod = loadPod('pod-no-annotations');
    pod.metadata = { ...pod.metadata, annotations };
    const review = await handleAdmission(buildReview(pod), buildDeps(defaults === undefined ? {} : { defaults }));
    t.false(review.response.allowed, JSON.stringify(annotations));
    t.regex(review.response.status?.message ?? '', expected);
  }
});

test('an optional access-policy check denies secrets outside the namespace early', async (t) => {
  const pod = loadPod('pod-env-literal');
  Object.assign(pod.metadata?.annotations ?? {}, { 'piggysec.com/aws-secret-name': 'other-team/db' });
  const allowsSecret = (namespace: string, secretId: string) => secretId.startsWith(`${namespace}/`);
  const denied = await handleAdmission(buildReview(pod), buildDeps({ allowsSecret }));
  t.regex(denied.response.status?.message ?? '', /does not allow namespace shop to read secret other-team\/db/);
  const defaultName = loadPod('pod-no-annotations');
  defaultName.metadata = { ...defaultName.metadata, annotations: { 'piggysec.com/piggy-address': 'https://p.svc' } };
  const allowed = await handleAdmission(buildReview(defaultName), buildDeps({ allowsSecret }));
  t.true(allowed.response.allowed, 'the default name shop/default is allowed');
  t.true(patchOf(allowed).length > 0);
});

test('a container with a command is never inspected, even when another container of its image is', async (t) => {
  const pod = loadPod('pod-image-entrypoint');
  const migrate = pod.spec?.initContainers?.[0];
  if (migrate) migrate.image = 'registry.example.com/shop/worker:7';
  Object.assign(pod.metadata?.annotations ?? {}, { 'piggysec.com/image-pin-digest': 'true', 'piggysec.com/image-failure-policy': 'admit' });
  const resolveImage = fakeImages({ 'registry.example.com/shop/worker:7': new Error('registry down') });
  const review = await handleAdmission(buildReview(pod), buildDeps({ resolveImage }));
  const out = mutatedPod(pod, review);
  t.deepEqual(container(out, 'migrate').args, ['--', 'migrate', 'up'], 'wrapped from its own command');
  t.is(review.response.warnings?.length, 2, 'only the two image-default containers are reported');
});

test('Windows pods are denied: the launcher is Linux-only', async (t) => {
  const pod = loadPod('pod-env-literal');
  pod.spec = { ...pod.spec, containers: pod.spec?.containers ?? [], os: { name: 'windows' } };
  const review = await handleAdmission(buildReview(pod), buildDeps());
  t.like(review.response, { allowed: false, status: { code: 400 } });
  t.regex(review.response.status?.message ?? '', /Linux only/);
});
