// The mutation's output against the real API server: mutated pods pass validation and the
// *restricted* Pod Security Standard (enforced by the API server's PodSecurity admission), references
// are detected through real ConfigMaps and Secrets, and the stored (defaulted) pod re-admits with no
// patch. Registering the webhook itself is covered by the end-to-end webhook tests.
import test from 'ava';
import type { V1Pod } from '@kubernetes/client-node';
import { parsePiggyUids } from '../../src/shared/injection-contract.ts';
import type { Container, Pod } from '../../src/webhook/pod.ts';
import { buildKubeRefLookup } from '../../src/webhook/ref-lookup.ts';
import { handleAdmission } from '../../src/webhook/review.ts';
import { buildDeps, buildReview, fakeImages, loadPod, mutatedPod, patchOf } from '../fixtures/admission/build.ts';
import { kube, waitForDefaultServiceAccount } from '../helpers/kube.ts';
import { kubectl, uniqueName } from '../helpers/stack.ts';

const RESTRICTED = { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' };

/** A fresh namespace that enforces the restricted profile. */
async function restrictedNamespace(): Promise<string> {
  const namespace = uniqueName('webhook');
  await kube().core.createNamespace({ body: { metadata: { name: namespace, labels: RESTRICTED } } });
  await waitForDefaultServiceAccount(namespace);
  // The fixtures' service accounts (ServiceAccount admission refuses a pod naming a missing one).
  for (const name of ['demo', 'api']) await kube().core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  return namespace;
}

/** App containers made restricted-compliant, so only what piggy injects is on trial. */
function compliant(pod: Pod, namespace: string): Pod {
  const copy = structuredClone(pod);
  copy.metadata = { ...copy.metadata, namespace };
  const spec = copy.spec ?? { containers: [] };
  spec.securityContext = { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' }, ...spec.securityContext };
  for (const item of [...(spec.initContainers ?? []), ...spec.containers]) {
    item.securityContext = { ...item.securityContext, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };
  }
  return copy;
}

/** Creates the pod and returns it as the API server stores and serves it (plain JSON, defaulted). */
async function create(namespace: string, pod: Pod): Promise<Pod> {
  const created = await kube().core.createNamespacedPod({ namespace, body: pod as V1Pod });
  const fetched = await kubectl(['get', 'pod', '--namespace', namespace, created.metadata?.name ?? '', '--output', 'json']);
  if (fetched.code !== 0) throw new Error(`kubectl get pod failed: ${fetched.stderr}`);
  return JSON.parse(fetched.stdout) as Pod;
}

const byName = (list: readonly Container[] | undefined, name: string) => list?.find((item) => item.name === name);

test('a mutated pod is valid and passes the restricted Pod Security Standard; Piggy-style injection does not', async (t) => {
  const namespace = await restrictedNamespace();
  const pod = compliant(loadPod('pod-env-literal'), namespace);
  const deps = buildDeps();
  const review = await handleAdmission(buildReview(pod, { namespace }), deps);
  const stored = await create(namespace, mutatedPod(pod, review));
  t.deepEqual(byName(stored.spec?.initContainers, 'install-piggy-env')?.securityContext?.capabilities, { drop: ['ALL'] });
  t.deepEqual(byName(stored.spec?.containers, 'app')?.command, ['/piggy/piggy-env']);
  t.truthy(parsePiggyUids(stored.metadata?.annotations?.['piggysec.com/piggy-uid']));
  // What KongZ/piggy injects (allowPrivilegeEscalation only) is refused under restricted.
  const piggyStyle = structuredClone(mutatedPod(pod, review));
  piggyStyle.metadata = { ...piggyStyle.metadata, name: 'piggy-style' };
  const install = byName(piggyStyle.spec?.initContainers, 'install-piggy-env');
  if (install) install.securityContext = { allowPrivilegeEscalation: false };
  const error = await t.throwsAsync(create(namespace, piggyStyle));
  t.regex(error.message, /violates PodSecurity.*restricted.*install-piggy-env/s);
});

test('the stored, defaulted pod re-admits with no patch (reinvocation and resubmission)', async (t) => {
  const namespace = await restrictedNamespace();
  const deps = buildDeps({ resolveImage: fakeImages({ 'registry.example.com/shop/worker:7': { entrypoint: ['/worker', '$(NOT_EXPANDED)'], cmd: ['--serve'] } }) });
  for (const fixture of ['pod-env-literal', 'pod-image-entrypoint']) {
    const pod = compliant(loadPod(fixture), namespace);
    const first = await handleAdmission(buildReview(pod, { namespace }), deps);
    const stored = await create(namespace, mutatedPod(pod, first));
    const again = await handleAdmission(buildReview(stored, { namespace }), deps);
    t.deepEqual(again.response, { uid: 'uid-1', allowed: true }, `${fixture}: ${JSON.stringify(patchOf(again))}`);
  }
});

test('valueFrom and envFrom references are detected through real ConfigMaps and Secrets', async (t) => {
  const namespace = await restrictedNamespace();
  const { core, kc } = kube();
  await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'app-config' }, data: { 'api-key': 'piggy:api-key', 'log-level': 'debug' } } });
  await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'app-env' }, data: { TOKEN: 'piggy:token' } } });
  await core.createNamespacedSecret({ namespace, body: { metadata: { name: 'app-secret' }, stringData: { 'db-password': 'piggy:db-password', other: 'plain' } } });
  await core.createNamespacedSecret({ namespace, body: { metadata: { name: 'plain-secret' }, stringData: { USER: 'piggy' } } });
  const pod = compliant(loadPod('pod-value-from'), namespace);
  const review = await handleAdmission(buildReview(pod, { namespace }), buildDeps({ lookupRef: buildKubeRefLookup(kc) }));
  t.true(review.response.allowed);
  const stored = await create(namespace, mutatedPod(pod, review));
  const wrapped = stored.spec?.containers.filter((item) => item.command?.[0] === '/piggy/piggy-env').map((item) => item.name);
  t.deepEqual(wrapped, ['config-map-key', 'secret-key', 'env-from', 'env-from-secret']);
});

test('file mode pods are valid under restricted', async (t) => {
  const namespace = await restrictedNamespace();
  const pod = compliant(loadPod('pod-file-mode'), namespace);
  const review = await handleAdmission(buildReview(pod, { namespace }), buildDeps());
  const stored = await create(namespace, mutatedPod(pod, review));
  t.like(byName(stored.spec?.initContainers, 'piggy-secret-files'), { args: ['write-files'] });
  t.deepEqual(stored.spec?.volumes?.find((volume) => volume.name === 'piggy-secret-files')?.emptyDir, { medium: 'Memory', sizeLimit: '1Mi' });
});
