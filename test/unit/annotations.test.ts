import test from 'ava';
import {
  ANNOTATIONS,
  DEFAULTABLE_ANNOTATIONS,
  FILE_ANNOTATIONS,
  annotationDefaultVariable,
  isFileModeTriggered,
  isPiggyTriggered,
  parseAnnotationDefaults,
  parsePodConfig,
  parseQuantity,
  parseSecretVersion,
  type AnnotationDefaults,
  type PodConfig,
} from '../../src/config/annotations.ts';

const A = ANNOTATIONS;

function config(annotations: Record<string, string> | undefined, defaults: AnnotationDefaults = {}, namespace = 'shop'): PodConfig {
  const result = parsePodConfig(annotations, defaults, { namespace });
  if (!result.ok) throw new Error(`unexpected issues: ${JSON.stringify(result.issues)}`);
  return result.config;
}

function issuesOf(annotations: Record<string, string>, defaults: AnnotationDefaults = {}): { annotation: string; problem: string }[] {
  const result = parsePodConfig(annotations, defaults, { namespace: 'shop' });
  return result.ok ? [] : [...result.issues];
}

test('every annotation DESIGN.md lists has a constant and a controller-wide default', (t) => {
  const design = [
    'piggy-address', 'aws-secret-name', 'aws-region', 'aws-secret-version', 'aws-ssm-parameter-path', 'standalone',
    'piggy-enforce-integrity', 'piggy-ignore-no-env', 'piggy-number-of-retry', 'piggy-initial-delay', 'piggy-env-image',
    'piggy-env-image-pull-policy', 'piggy-env-resource-cpu-request', 'piggy-env-resource-memory-request',
    'piggy-env-resource-cpu-limit', 'piggy-env-resource-memory-limit', 'image-pull-secret', 'image-pull-secret-namespace',
    'piggy-default-secret-name-prefix', 'piggy-default-secret-name-suffix', 'debug',
  ].map((name) => `piggysec.com/${name}`);
  const constants = new Set<string>(Object.values(ANNOTATIONS));
  for (const name of design) {
    t.true(constants.has(name), name);
    t.true(DEFAULTABLE_ANNOTATIONS.includes(name), `${name} has a default`);
  }
  t.deepEqual(Object.values(FILE_ANNOTATIONS), ['secrets.k8s.aws/secret-arn', 'secrets.k8s.aws/mount-path', 'secrets.k8s.aws/secret-filename']);
});

test('default variable names: drop the prefix, upper-case, - becomes _', (t) => {
  t.is(annotationDefaultVariable(A.awsRegion), 'AWS_REGION');
  t.is(annotationDefaultVariable(A.envImage), 'PIGGY_ENV_IMAGE');
  t.is(annotationDefaultVariable(A.cpuLimit), 'PIGGY_ENV_RESOURCE_CPU_LIMIT');
  t.is(annotationDefaultVariable(A.debug), 'DEBUG');
  t.is(annotationDefaultVariable(A.standalone), 'STANDALONE');
});

test('parseAnnotationDefaults reads valid variables, skips blank ones and reports every bad one', (t) => {
  const good = parseAnnotationDefaults({ AWS_REGION: 'eu-west-1', PIGGY_ENV_IMAGE: 'ghcr.io/x/piggy-env:1', DEBUG: ' ', LOG_LEVEL: 'info' });
  t.deepEqual(good, { ok: true, defaults: { [A.awsRegion]: 'eu-west-1', [A.envImage]: 'ghcr.io/x/piggy-env:1' } });
  const bad = parseAnnotationDefaults({ DEBUG: 'express:*', PIGGY_NUMBER_OF_RETRY: '-1', PIGGY_ADDRESS: 'http://piggy', AWS_REGION: 'eu-west-1' });
  t.false(bad.ok);
  if (bad.ok) return;
  t.deepEqual(bad.issues.map((issue) => issue.variable).sort(), ['DEBUG', 'PIGGY_ADDRESS', 'PIGGY_NUMBER_OF_RETRY']);
  t.regex(bad.issues.find((issue) => issue.variable === 'DEBUG')?.problem ?? '', /true or false.*piggysec\.com\/debug/);
});

test('built-in defaults when nothing is set', (t) => {
  const c = config(undefined);
  t.like(c, {
    address: undefined, secretName: undefined, region: undefined, secretVersion: undefined, ssmParameterPath: undefined,
    standalone: false, enforceIntegrity: true, enforceServiceAccount: false, ignoreNoEnv: false, numberOfRetry: 0,
    initialDelay: undefined, envImage: undefined, envImagePullPolicy: 'IfNotPresent',
    defaultSecretNamePrefix: '', defaultSecretNameSuffix: '', debug: false,
    imageFailurePolicy: 'deny', imagePinDigest: false, files: undefined,
  });
  t.deepEqual(c.resources, { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '200m', memory: '128Mi' } });
});

test('an annotation wins over the controller default, which wins over the built-in one', (t) => {
  const defaults = { [A.awsRegion]: 'eu-west-1', [A.debug]: 'true', [A.cpuLimit]: '500m' };
  t.like(config({}, defaults), { region: 'eu-west-1', debug: true });
  t.is(config({}, defaults).resources.limits.cpu, '500m');
  t.like(config({ [A.awsRegion]: 'us-east-2', [A.debug]: 'false' }, defaults), { region: 'us-east-2', debug: false });
  // An empty string annotation clears a string default (Piggy's rule).
  t.is(config({ [A.awsSecretName]: '' }, { [A.awsSecretName]: 'shared/default' }).secretName, undefined);
});

test('every annotation is parsed: values reach the config', (t) => {
  const c = config({
    [A.piggyAddress]: 'https://piggy.piggy.svc:8443/base/',
    [A.awsSecretName]: 'shop/api',
    [A.awsRegion]: 'eu-central-1',
    [A.awsSecretVersion]: 'AWSPREVIOUS',
    [A.awsSsmParameterPath]: '/shop/api',
    [A.standalone]: 'TRUE',
    [A.enforceIntegrity]: 'f',
    [A.enforceServiceAccount]: '1',
    [A.ignoreNoEnv]: 'True',
    [A.numberOfRetry]: '5',
    [A.initialDelay]: '1m30s',
    [A.dnsResolver]: '',
    [A.envImage]: 'localhost:5000/piggy/piggy-env:dev',
    [A.envImagePullPolicy]: 'Always',
    [A.cpuRequest]: '0.1',
    [A.memoryRequest]: '32Mi',
    [A.cpuLimit]: '1',
    [A.memoryLimit]: '1Gi',
    [A.imagePullSecret]: 'regcred',
    [A.imagePullSecretNamespace]: 'shop',
    [A.imageSkipVerifyRegistry]: 'false',
    [A.defaultSecretNamePrefix]: 'prod/',
    [A.defaultSecretNameSuffix]: '/app',
    [A.debug]: 't',
    [A.imageFailurePolicy]: 'admit',
    [A.imagePinDigest]: 'true',
  });
  t.like(c, {
    address: 'https://piggy.piggy.svc:8443/base', secretName: 'shop/api', region: 'eu-central-1',
    secretVersion: { kind: 'stage', value: 'AWSPREVIOUS' }, ssmParameterPath: '/shop/api', standalone: true,
    enforceIntegrity: false, enforceServiceAccount: true, ignoreNoEnv: true, numberOfRetry: 5, initialDelay: '1m30s',
    envImage: 'localhost:5000/piggy/piggy-env:dev', envImagePullPolicy: 'Always',
    imagePullSecret: 'regcred', imagePullSecretNamespace: 'shop',
    defaultSecretNamePrefix: 'prod/', defaultSecretNameSuffix: '/app', debug: true, imageFailurePolicy: 'admit', imagePinDigest: true,
  });
  t.deepEqual(c.resources, { requests: { cpu: '0.1', memory: '32Mi' }, limits: { cpu: '1', memory: '1Gi' } });
});

test('malformed values are issues naming the annotation, never silently false or zero', (t) => {
  const cases: [string, string][] = [
    [A.standalone, 'yes'], [A.debug, ''], [A.ignoreNoEnv, 'on'], [A.enforceIntegrity, 'nope'],
    [A.numberOfRetry, '-1'], [A.numberOfRetry, 'abc'], [A.numberOfRetry, '101'], [A.numberOfRetry, '2.5'],
    [A.initialDelay, '5'], [A.initialDelay, '2d'], [A.initialDelay, '2h'],
    [A.cpuRequest, 'abc'], [A.cpuRequest, '-50m'], [A.memoryLimit, '0'], [A.memoryLimit, '64MB'], [A.cpuLimit, ''],
    [A.envImagePullPolicy, 'always'], [A.dnsResolver, 'dns'], [A.dnsResolver, 'tcp'], [A.imageSkipVerifyRegistry, 'true'], [A.imageSkipVerifyRegistry, 'maybe'],
    [A.piggyAddress, 'http://piggy.piggy.svc'], [A.piggyAddress, 'piggy.piggy.svc'], [A.piggyAddress, 'https://u:p@piggy'],
    [A.awsRegion, 'Europe'], [A.awsSsmParameterPath, 'shop/api'], [A.awsSecretName, 'has space'],
    [A.awsSecretVersion, 'bad label!'], [A.envImage, 'Not An Image'], [A.imagePullSecret, 'Reg_Cred'],
    [A.imagePullSecretNamespace, 'Shop'], [A.defaultSecretNamePrefix, 'a b'], [A.imageFailurePolicy, 'ignore'],
  ];
  for (const [annotation, value] of cases) {
    const issues = issuesOf({ [annotation]: value });
    t.is(issues.length, 1, `${annotation}=${JSON.stringify(value)}`);
    t.is(issues[0]?.annotation, annotation);
    t.false((issues[0]?.problem ?? '').includes(value) && value.length > 3, 'the problem does not echo the value');
  }
});

test('all issues are reported at once', (t) => {
  const issues = issuesOf({ [A.debug]: 'yes', [A.numberOfRetry]: 'x', [FILE_ANNOTATIONS.secretArn]: 'not-an-arn' });
  t.deepEqual(issues.map((issue) => issue.annotation).sort(), [A.debug, A.numberOfRetry, FILE_ANNOTATIONS.secretArn].sort());
});

test('a request above its limit is an issue', (t) => {
  t.deepEqual(issuesOf({ [A.cpuRequest]: '300m' }), [{ annotation: A.cpuRequest, problem: `must not exceed ${A.cpuLimit} (200m)` }]);
  t.deepEqual(issuesOf({ [A.memoryRequest]: '1Gi', [A.memoryLimit]: '512Mi' }).map((issue) => issue.annotation), [A.memoryRequest]);
  t.deepEqual(issuesOf({ [A.memoryRequest]: '128Mi', [A.memoryLimit]: '0.125Gi' }), []);
});

test('aws-secret-version: a VersionId or a staging label, recorded as which', (t) => {
  t.deepEqual(parseSecretVersion('c43e66cb-2f71-4c5e-9b4c-1d8a3e0c2f11'), { ok: true, value: { kind: 'id', value: 'c43e66cb-2f71-4c5e-9b4c-1d8a3e0c2f11' } });
  t.deepEqual(parseSecretVersion('EXAMPLE1-90ab-cdef-fedc-ba987SECRET1'), { ok: true, value: { kind: 'id', value: 'EXAMPLE1-90ab-cdef-fedc-ba987SECRET1' } });
  t.deepEqual(parseSecretVersion('AWSCURRENT'), { ok: true, value: { kind: 'stage', value: 'AWSCURRENT' } });
  t.deepEqual(parseSecretVersion('AWSPREVIOUS'), { ok: true, value: { kind: 'stage', value: 'AWSPREVIOUS' } });
  t.deepEqual(parseSecretVersion('release-2024'), { ok: true, value: { kind: 'stage', value: 'release-2024' } });
  t.deepEqual(parseSecretVersion('stage:0123456789abcdef0123456789abcdef'), { ok: true, value: { kind: 'stage', value: '0123456789abcdef0123456789abcdef' } });
  t.deepEqual(parseSecretVersion('id:my-own-client-request-token-000001'), { ok: true, value: { kind: 'id', value: 'my-own-client-request-token-000001' } });
  t.false(parseSecretVersion('id:short').ok);
  t.false(parseSecretVersion('x'.repeat(257)).ok);
  t.false(parseSecretVersion('').ok);
});

test('piggy-enforce-service-account: a pod can raise it but not lower the controller-wide true', (t) => {
  t.true(config({ [A.enforceServiceAccount]: 'false' }, { [A.enforceServiceAccount]: 'true' }).enforceServiceAccount);
  t.true(config({ [A.enforceServiceAccount]: 'true' }).enforceServiceAccount);
});

test('image-pull-secret-namespace may only name the pod namespace or the controller default', (t) => {
  t.is(config({ [A.imagePullSecretNamespace]: 'shop' }).imagePullSecretNamespace, 'shop');
  t.is(config({ [A.imagePullSecretNamespace]: 'registry' }, { [A.imagePullSecretNamespace]: 'registry' }).imagePullSecretNamespace, 'registry');
  t.is(config({}, { [A.imagePullSecretNamespace]: 'registry' }).imagePullSecretNamespace, 'registry');
  t.deepEqual(issuesOf({ [A.imagePullSecretNamespace]: 'kube-system' }).map((issue) => issue.annotation), [A.imagePullSecretNamespace]);
});

test("Piggy's trigger rule: secret name, SSM path or address after defaults", (t) => {
  t.false(isPiggyTriggered(undefined, {}));
  t.false(isPiggyTriggered(null, {}));
  t.false(isPiggyTriggered({ [A.debug]: 'true', [A.awsRegion]: 'eu-west-1' }, {}));
  t.true(isPiggyTriggered({ [A.awsSecretName]: 'x' }, {}));
  t.true(isPiggyTriggered({ [A.awsSsmParameterPath]: '/x' }, {}));
  t.true(isPiggyTriggered({ [A.piggyAddress]: 'https://p' }, {}));
  t.true(isPiggyTriggered(undefined, { [A.piggyAddress]: 'https://p' }));
  t.false(isPiggyTriggered({ [A.piggyAddress]: '' }, { [A.piggyAddress]: 'https://p' }), 'an empty annotation clears the default');
  t.false(isFileModeTriggered({ [FILE_ANNOTATIONS.secretArn]: ' ' }));
  t.true(isFileModeTriggered({ [FILE_ANNOTATIONS.secretArn]: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf' }));
});

const ARN_DB = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop/db-AbCdEf';
const ARN_API = 'arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:api-key-Zz09Yy';

test('file mode: defaults /tmp and secret, region from the ARN', (t) => {
  t.deepEqual(config({ [FILE_ANNOTATIONS.secretArn]: ARN_DB }).files, {
    mountPath: '/tmp',
    secrets: [{ arn: ARN_DB, region: 'eu-west-1', path: '/tmp/secret' }],
  });
  t.deepEqual(config({ [FILE_ANNOTATIONS.secretArn]: ARN_DB, [FILE_ANNOTATIONS.mountPath]: '/run/secrets/', [FILE_ANNOTATIONS.secretFilename]: 'db/creds.json' }).files, {
    mountPath: '/run/secrets',
    secrets: [{ arn: ARN_DB, region: 'eu-west-1', path: '/run/secrets/db/creds.json' }],
  });
});

test('file mode: several ARNs, each its own file', (t) => {
  t.deepEqual(config({ [FILE_ANNOTATIONS.secretArn]: `${ARN_DB}, ${ARN_API}` }).files?.secrets, [
    { arn: ARN_DB, region: 'eu-west-1', path: '/tmp/shop/db' },
    { arn: ARN_API, region: 'cn-north-1', path: '/tmp/api-key' },
  ]);
  t.deepEqual(
    config({ [FILE_ANNOTATIONS.secretArn]: `${ARN_DB},${ARN_API}`, [FILE_ANNOTATIONS.secretFilename]: 'db.json, api' }).files?.secrets.map((secret) => secret.path),
    ['/tmp/db.json', '/tmp/api'],
  );
});

test('file mode: malformed annotations are issues', (t) => {
  const cases: [Record<string, string>, string][] = [
    [{ [FILE_ANNOTATIONS.secretArn]: 'shop/db' }, FILE_ANNOTATIONS.secretArn],
    [{ [FILE_ANNOTATIONS.secretArn]: `${ARN_DB},` }, FILE_ANNOTATIONS.secretArn],
    [{ [FILE_ANNOTATIONS.secretArn]: ARN_DB, [FILE_ANNOTATIONS.mountPath]: 'tmp' }, FILE_ANNOTATIONS.mountPath],
    [{ [FILE_ANNOTATIONS.secretArn]: ARN_DB, [FILE_ANNOTATIONS.mountPath]: '/' }, FILE_ANNOTATIONS.mountPath],
    [{ [FILE_ANNOTATIONS.secretArn]: ARN_DB, [FILE_ANNOTATIONS.mountPath]: '/a/../etc' }, FILE_ANNOTATIONS.mountPath],
    [{ [FILE_ANNOTATIONS.secretArn]: ARN_DB, [FILE_ANNOTATIONS.mountPath]: '/piggy' }, FILE_ANNOTATIONS.mountPath],
    [{ [FILE_ANNOTATIONS.secretArn]: ARN_DB, [FILE_ANNOTATIONS.secretFilename]: '../escape' }, FILE_ANNOTATIONS.secretFilename],
    [{ [FILE_ANNOTATIONS.secretArn]: ARN_DB, [FILE_ANNOTATIONS.secretFilename]: '/abs' }, FILE_ANNOTATIONS.secretFilename],
    [{ [FILE_ANNOTATIONS.secretArn]: `${ARN_DB},${ARN_API}`, [FILE_ANNOTATIONS.secretFilename]: 'one' }, FILE_ANNOTATIONS.secretFilename],
    [{ [FILE_ANNOTATIONS.secretArn]: `${ARN_DB},${ARN_API}`, [FILE_ANNOTATIONS.secretFilename]: 'same,same' }, FILE_ANNOTATIONS.secretFilename],
  ];
  for (const [annotations, expected] of cases) {
    t.deepEqual(issuesOf(annotations).map((issue) => issue.annotation), [expected], JSON.stringify(annotations));
  }
});

test('Kubernetes quantities', (t) => {
  const good: [string, number][] = [
    ['50m', 0.05], ['1', 1], ['1.5', 1.5], ['.5', 0.5], ['64Mi', 64 * 2 ** 20], ['1Gi', 2 ** 30], ['1G', 1e9], ['2k', 2000],
    ['1e3', 1000], ['1E-3', 0.001], ['100n', 1e-7], ['5u', 5e-6], ['+2', 2], ['1Ki', 1024],
  ];
  for (const [text, value] of good) {
    const parsed = parseQuantity(text);
    t.true(parsed.ok && Math.abs(parsed.value - value) < 1e-12, text);
  }
  for (const bad of ['', 'abc', '1MB', '1mi', 'Mi', '1.2.3', '1 Mi', '--1', '1e']) t.false(parseQuantity(bad).ok, bad);
});

test('refused options: image-skip-verify-registry "true" and any piggy-dns-resolver, as annotation or controller default', (t) => {
  const skip = parsePodConfig({ [A.imageSkipVerifyRegistry]: 'true' }, {});
  t.like(skip, { ok: false, issues: [{ annotation: A.imageSkipVerifyRegistry }] });
  t.regex(!skip.ok ? skip.issues[0]?.problem ?? '' : '', /always verifies registry TLS.*NODE_EXTRA_CA_CERTS/);
  const dns = parsePodConfig({ [A.dnsResolver]: 'udp' }, {});
  t.regex(!dns.ok ? dns.issues[0]?.problem ?? '' : '', /not supported.*system resolver/);
  const defaults = parseAnnotationDefaults({ IMAGE_SKIP_VERIFY_REGISTRY: 'true', PIGGY_DNS_RESOLVER: 'tcp' });
  t.like(defaults, { ok: false });
  t.deepEqual(!defaults.ok ? defaults.issues.map((issue) => issue.variable).sort() : [], ['IMAGE_SKIP_VERIFY_REGISTRY', 'PIGGY_DNS_RESOLVER']);
  t.true(parseAnnotationDefaults({ IMAGE_SKIP_VERIFY_REGISTRY: 'false' }).ok);
});
