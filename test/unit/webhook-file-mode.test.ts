// File mode (secrets.k8s.aws/*): an init container writes each secret to tmpfs, readable by the app only.
import test from 'ava';
import { parseFileSpecs } from '../../src/shared/injection-contract.ts';
import type { Container, Pod } from '../../src/webhook/pod.ts';
import { handleAdmission } from '../../src/webhook/review.ts';
import { ENV_IMAGE, buildDeps, buildReview, loadPod, mutatedPod } from '../fixtures/admission/build.ts';

const ARN_DB = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop/db-AbCdEf';
const ARN_API = 'arn:aws:secretsmanager:us-east-2:123456789012:secret:api-key-Zz09Yy';

const init = (pod: Pod, name: string): Container | undefined => pod.spec?.initContainers?.find((item) => item.name === name);
const envValue = (item: Container | undefined, name: string) => item?.env?.find((entry) => entry.name === name)?.value;

test('one ARN, one user: the writer runs as that user, files 0400, tmpfs mounted read-only everywhere', async (t) => {
  const pod = loadPod('pod-file-mode');
  const review = await handleAdmission(buildReview(pod), buildDeps());
  t.true(review.response.allowed);
  const out = mutatedPod(pod, review);
  t.deepEqual(out.spec?.volumes, [{ name: 'piggy-secret-files', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } }]);
  for (const item of out.spec?.containers ?? []) {
    t.deepEqual(item.volumeMounts, [{ name: 'piggy-secret-files', mountPath: '/tmp', readOnly: true }], item.name);
    t.deepEqual(item.command, pod.spec?.containers.find((original) => original.name === item.name)?.command, 'commands are not wrapped in file mode');
  }
  const writer = init(out, 'piggy-secret-files');
  t.like(writer, { image: ENV_IMAGE, imagePullPolicy: 'IfNotPresent', args: ['write-files'], volumeMounts: [{ name: 'piggy-secret-files', mountPath: '/tmp' }] });
  t.deepEqual(writer?.securityContext, {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    runAsUser: 1000,
    seccompProfile: { type: 'RuntimeDefault' },
  });
  t.is(envValue(writer, 'PIGGY_FILE_MODE'), '0400');
  t.deepEqual(parseFileSpecs(envValue(writer, 'PIGGY_FILES')), [{ secretId: ARN_DB, region: 'eu-west-1', path: '/tmp/secret' }]);
  t.is(out.spec?.initContainers?.length, 1, 'no launcher install without piggy: env');
  t.is(out.metadata?.annotations?.['piggysec.com/piggy-uid'], undefined);
});

test('with fsGroup: files 0440, the writer runs as a non-root default when the pod sets no user', async (t) => {
  const pod = loadPod('pod-file-mode');
  pod.spec = { ...pod.spec, containers: (pod.spec?.containers ?? []).map((item) => ({ ...item, securityContext: {} })), securityContext: { fsGroup: 3000 } };
  const out = mutatedPod(pod, await handleAdmission(buildReview(pod), buildDeps()));
  const writer = init(out, 'piggy-secret-files');
  t.is(envValue(writer, 'PIGGY_FILE_MODE'), '0440');
  t.is(writer?.securityContext?.runAsUser, 65532);
});

test('several ARNs: one file each, region from each ARN, a bigger tmpfs; piggy annotations tune the writer', async (t) => {
  const pod = loadPod('pod-file-mode');
  pod.metadata = {
    ...pod.metadata,
    annotations: {
      'secrets.k8s.aws/secret-arn': `${ARN_DB},${ARN_API}`,
      'secrets.k8s.aws/mount-path': '/run/secrets',
      'piggysec.com/debug': 'true',
      'piggysec.com/piggy-number-of-retry': '3',
      'piggysec.com/piggy-initial-delay': '1s',
    },
  };
  const out = mutatedPod(pod, await handleAdmission(buildReview(pod), buildDeps()));
  const writer = init(out, 'piggy-secret-files');
  t.deepEqual(parseFileSpecs(envValue(writer, 'PIGGY_FILES')), [
    { secretId: ARN_DB, region: 'eu-west-1', path: '/run/secrets/shop/db' },
    { secretId: ARN_API, region: 'us-east-2', path: '/run/secrets/api-key' },
  ]);
  t.like(out.spec?.volumes?.[0], { emptyDir: { medium: 'Memory', sizeLimit: '2Mi' } });
  t.is(envValue(writer, 'PIGGY_DEBUG'), 'true');
  t.is(envValue(writer, 'PIGGY_NUMBER_OF_RETRY'), '3');
  t.is(envValue(writer, 'PIGGY_INITIAL_DELAY'), '1s');
});

test('file mode and env injection together: install first, then the writer', async (t) => {
  const pod = loadPod('pod-env-literal');
  Object.assign(pod.metadata?.annotations ?? {}, { 'secrets.k8s.aws/secret-arn': ARN_DB });
  pod.spec = { ...pod.spec, containers: pod.spec?.containers ?? [], securityContext: { fsGroup: 2000, runAsUser: 1000 } };
  const out = mutatedPod(pod, await handleAdmission(buildReview(pod), buildDeps()));
  t.deepEqual(out.spec?.initContainers?.map((item) => item.name), ['install-piggy-env', 'piggy-secret-files']);
  t.deepEqual(out.spec?.volumes?.map((volume) => volume.name), ['piggy-env', 'piggy-token', 'piggy-secret-files']);
  t.deepEqual(out.spec?.containers[0]?.volumeMounts?.map((mount) => mount.name), ['piggy-env', 'piggy-token', 'piggy-secret-files']);
});

test('files that cannot be private to one user (the sidecar injector\'s walkthrough pod) are admitted 0444 with a warning naming why and the fix', async (t) => {
  const cases: [(pod: Pod) => void, RegExp][] = [
    [(pod) => { pod.spec = { containers: (pod.spec?.containers ?? []).map((item) => ({ ...item, securityContext: {} })) }; }, /\(no runAsUser\)/],
    [(pod) => { const sidecar = pod.spec?.containers[1]; if (sidecar) sidecar.securityContext = { runAsUser: 2000 }; }, /\(different users\)/],
    [(pod) => { pod.spec = { containers: (pod.spec?.containers ?? []).map((item) => ({ ...item, securityContext: { runAsUser: 0 } })) }; }, /\(root\)/],
  ];
  for (const [change, message] of cases) {
    const pod = loadPod('pod-file-mode');
    change(pod);
    const review = await handleAdmission(buildReview(pod), buildDeps());
    t.like(review.response, { allowed: true });
    const warning = review.response.warnings?.find((w) => w.includes('file mode')) ?? '';
    t.regex(warning, message);
    t.regex(warning, /files 0444, readable by all containers of this pod/);
    t.regex(warning, /set fsGroup or one runAsUser$/);
    const writer = mutatedPod(pod, review).spec?.initContainers?.find((item) => item.name === 'piggy-secret-files');
    t.is(writer?.env?.find((e) => e.name === 'PIGGY_FILE_MODE')?.value, '0444');
    t.is(writer?.securityContext?.runAsNonRoot, true, 'the writer never runs as root');
  }
});

test('a mount path already used by the app is denied, naming container and volume', async (t) => {
  const pod = loadPod('pod-file-mode');
  const app = pod.spec?.containers[0];
  if (app) app.volumeMounts = [{ name: 'scratch', mountPath: '/tmp/' }];
  const review = await handleAdmission(buildReview(pod), buildDeps());
  t.false(review.response.allowed);
  t.regex(review.response.status?.message ?? '', /container "app" already mounts volume "scratch" at \/tmp/);
});

test('file mode without a piggy-env image is denied', async (t) => {
  const review = await handleAdmission(buildReview(loadPod('pod-file-mode')), buildDeps({ defaults: {} }));
  t.false(review.response.allowed);
  t.regex(review.response.status?.message ?? '', /piggy-env-image is not set/);
});

test('a malformed ARN is denied naming the annotation', async (t) => {
  const pod = loadPod('pod-file-mode');
  pod.metadata = { ...pod.metadata, annotations: { 'secrets.k8s.aws/secret-arn': 'shop/db' } };
  const review = await handleAdmission(buildReview(pod), buildDeps());
  t.regex(review.response.status?.message ?? '', /annotation secrets\.k8s\.aws\/secret-arn: expected full Secrets Manager ARNs/);
});
