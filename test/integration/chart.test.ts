// charts/piggy against the real API server: helm lint, server-side dry runs of several renders
// (CRD included), and a real helm install and uninstall whose grants are checked with can-i.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { stringify } from 'yaml';
import { startWebhookCertificates } from '../../src/kube/webhook-certificates.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { CHART_DIR, renderChart } from '../../scripts/chart-render.ts';
import { run } from '../../scripts/local/procs.ts';
import { helmBinary, parseManifests } from '../helpers/chart.ts';
import { createTestNamespace, kube } from '../helpers/kube.ts';
import { eventually, kubeConfigPath, kubectl, uniqueName } from '../helpers/stack.ts';

const REGION = { aws: { region: 'eu-west-1' } };
const helm = (args: string[]) => run(helmBinary(), [...args, '--kubeconfig', kubeConfigPath()]);

test('helm lint --strict passes for the default and the other modes', async (t) => {
  // helm lint renders `required` as a warning (lint mode); the failing render is in test/unit/chart-render.test.ts.
  for (const extra of [[], ['certificates.mode=cert-manager', 'serviceMonitor.enabled=true'], ['hostNetwork=true', 'webhook.url=https://127.0.0.1:8443/mutate', 'operator.enabled=false']]) {
    const linted = await run(helmBinary(), ['lint', CHART_DIR, '--strict', '--set', ['aws.region=eu-west-1', ...extra].join(',')]);
    t.is(linted.code, 0, linted.stdout + linted.stderr);
    t.regex(linted.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  }
});

/** The values a harness sets to run the chart on a loopback-only cluster (see the chart README). */
const LOOPBACK = {
  aws: { region: 'us-east-1', endpointUrl: 'http://127.0.0.1:5000' },
  hostNetwork: true,
  webhook: { url: 'https://127.0.0.1:8443/mutate' },
  piggyAddress: 'https://127.0.0.1:8443',
  certificates: { extraNames: ['127.0.0.1', '127.0.0.2'] },
  extraEnv: [
    { name: 'KUBERNETES_SERVICE_HOST', value: '127.0.0.1' },
    { name: 'KUBERNETES_SERVICE_PORT', value: '6443' },
  ],
  image: { repository: '127.0.0.1:5001/piggy', digest: `sha256:${'c'.repeat(64)}` },
  piggyEnv: { image: { repository: '127.0.0.1:5001/piggy-env', digest: `sha256:${'d'.repeat(64)}` } },
};

// Kinds whose CRDs the test stack does not have (cert-manager, Prometheus operator): rendered, not sent.
const FOREIGN_GROUPS = ['cert-manager.io/', 'monitoring.coreos.com/'];

const variants: [string, Record<string, unknown>][] = [
  ['only aws.region', REGION],
  ['operator off', { ...REGION, operator: { enabled: false } }],
  ['webhook and proxy off', { ...REGION, webhook: { enabled: false }, proxy: { enabled: false } }],
  ['cert-manager, ServiceMonitor', { ...REGION, certificates: { mode: 'cert-manager', extraNames: ['10.1.2.3'] }, serviceMonitor: { enabled: true } }],
  ['loopback test cluster', LOOPBACK],
  ['every scheduling value', { ...REGION, nodeSelector: { a: 'b' }, tolerations: [{ key: 'k', operator: 'Exists' }], affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname' } }] } }, extraEnv: [{ name: 'X', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }], config: { RECONCILE_CONCURRENCY: 8 } }],
];

for (const [name, values] of variants) {
  test(`kubectl apply --dry-run=server accepts the render (CRD included): ${name}`, async (t) => {
    const namespace = await createTestNamespace(t, 'chart-dry-run');
    const rendered = await renderChart(helmBinary(), { release: uniqueName('rel'), namespace, values, includeCrds: true });
    t.is(rendered.code, 0, rendered.stderr);
    const manifests = parseManifests(rendered.stdout);
    const sent = manifests.filter((m) => !FOREIGN_GROUPS.some((group) => m.apiVersion?.startsWith(group) === true));
    t.true(manifests.some((m) => m.kind === 'CustomResourceDefinition'), 'the CRD is part of the render');
    const input = sent.length === manifests.length ? rendered.stdout : sent.map((m) => stringify(m)).join('---\n');
    const applied = await kubectl(['apply', '--dry-run=server', '-f', '-'], { input });
    t.is(applied.code, 0, applied.stderr);
    t.is(applied.stdout.split('\n').filter((line) => line.endsWith('(server dry run)')).length, sent.length, applied.stdout);
  });
}

test('helm install creates a working set of objects; the grants are exactly what each component needs; uninstall removes them', async (t) => {
  const namespace = await createTestNamespace(t, 'chart-install');
  const release = uniqueName('piggy');
  // No pod is ever sent to this release's webhook (no namespace carries the label), and no replica runs.
  const values = { ...REGION, replicaCount: 0, webhook: { namespaceSelector: { matchLabels: { 'piggysec.com/chart-test': release } } } };
  const args = ['install', release, CHART_DIR, '--namespace', namespace, '--values', '-'];
  const installed = await run(helmBinary(), [...args, '--kubeconfig', kubeConfigPath()], { input: stringify(values) });
  t.teardown(() => helm(['uninstall', release, '--namespace', namespace]).then(() => undefined));
  t.is(installed.code, 0, installed.stderr);
  t.regex(installed.stdout, new RegExp(`rollout status deployment/${release}`), 'NOTES are rendered');

  const get = (what: string, ns = true) => kubectl(['get', what, ...(ns ? ['-n', namespace] : []), '-o', 'name']);
  t.is((await get(`deployment/${release}`)).code, 0);
  t.is((await get(`secret/${release}-webhook-tls`)).code, 1, 'the certificate Secret is the controller’s to create');
  t.is((await get('crd/awssecrets.piggysec.com', false)).code, 0);
  const hook = await kubectl(['get', 'mutatingwebhookconfiguration', release, '-o', 'jsonpath={.webhooks[0].namespaceSelector.matchExpressions[0].values}']);
  t.is(hook.code, 0, hook.stderr);
  t.deepEqual(JSON.parse(hook.stdout), ['kube-system', 'kube-node-lease', 'kube-public', namespace]);

  const as = `system:serviceaccount:${namespace}:${release}`;
  const can = async (verb: string, resource: string, ns: string | undefined, extra: string[] = []) =>
    (await kubectl(['auth', 'can-i', verb, resource, '--as', as, ...(ns === undefined ? ['--all-namespaces'] : ['-n', ns]), ...extra])).stdout.trim();
  const other = await createTestNamespace(t, 'chart-other');
  const expectations: [string, string, string | undefined, string[], string][] = [
    ['watch', 'awssecrets.piggysec.com', undefined, [], 'yes'],
    ['patch', 'awssecrets.piggysec.com', other, ['--subresource=status'], 'yes'],
    ['patch', 'awssecrets.piggysec.com', other, [], 'no'],
    ['update', 'awssecrets.piggysec.com', other, [], 'no'],
    ['delete', 'secrets', other, [], 'yes'],
    ['create', 'tokenreviews.authentication.k8s.io', undefined, [], 'yes'],
    ['get', 'pods', other, [], 'yes'],
    ['list', 'pods', other, [], 'no'],
    ['patch', `mutatingwebhookconfigurations/${release}`, undefined, [], 'yes'],
    ['patch', 'mutatingwebhookconfigurations/someone-else', undefined, [], 'no'],
    ['update', 'leases.coordination.k8s.io', namespace, [], 'yes'],
    ['update', 'leases.coordination.k8s.io', other, [], 'no'],
    ['update', `secrets/${release}-webhook-tls`, namespace, [], 'yes'],
    ['create', 'pods', other, [], 'no'],
    ['delete', 'deployments.apps', other, [], 'no'],
  ];
  for (const [verb, resource, ns, extra, expected] of expectations) {
    t.is(await can(verb, resource, ns, extra), expected, `${verb} ${resource} ${extra.join(' ')} in ${ns ?? 'all namespaces'}`);
  }

  const removed = await helm(['uninstall', release, '--namespace', namespace]);
  t.is(removed.code, 0, removed.stderr);
  t.is((await get(`deployment/${release}`)).code, 1);
  t.is((await kubectl(['get', 'clusterrole', `${release}-operator`])).code, 1);
  t.is((await get('crd/awssecrets.piggysec.com', false)).code, 0, 'helm never deletes a CRD');
});

/** A release no pod ever reaches (no namespace carries the label) and no replica runs. */
async function installQuiet(t: ExecutionContext, namespace: string, release: string, extra: Record<string, unknown> = {}): Promise<void> {
  const values = { ...REGION, replicaCount: 0, webhook: { namespaceSelector: { matchLabels: { 'piggysec.com/chart-test': release } } }, ...extra };
  const installed = await run(helmBinary(), ['install', release, CHART_DIR, '--namespace', namespace, '--values', '-', '--kubeconfig', kubeConfigPath()], { input: stringify(values) });
  t.is(installed.code, 0, installed.stderr);
}

test("the chart's ValidatingAdmissionPolicy: piggysec.com/* annotations of an existing pod cannot be added, changed or removed; others can", async (t) => {
  const namespace = await createTestNamespace(t, 'chart-vap');
  const release = uniqueName('piggy');
  // Bound to this test's namespace only: other tests patch piggy annotations on purpose.
  await kubectl(['label', 'namespace', namespace, `piggysec.com/vap-test=${release}`]);
  await installQuiet(t, namespace, release, { podAnnotationsPolicy: { enabled: true, namespaceSelector: { matchLabels: { 'piggysec.com/vap-test': release } } } });
  t.teardown(() => helm(['uninstall', release, '--namespace', namespace]).then(() => undefined));
  const pod = { metadata: { name: 'app', annotations: { 'piggysec.com/aws-secret-name': `${namespace}/app`, team: 'a' } }, spec: { containers: [{ name: 'app', image: 'busybox' }] } };
  t.is((await kubectl(['create', '-n', namespace, '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', ...pod }) })).code, 0, 'CREATE is not the policy\'s business');
  const patch = async (annotations: Record<string, string | null>, subresource?: string) =>
    kubectl(['patch', 'pod', 'app', '-n', namespace, '--type', 'merge', '-p', JSON.stringify({ metadata: { annotations } }), ...(subresource === undefined ? [] : [`--subresource=${subresource}`])]);
  // The policy is enforced once the API server has loaded it (a few seconds at most).
  const changed = await eventually(async () => {
    const result = await patch({ 'piggysec.com/aws-secret-name': 'other/secret' });
    if (result.code === 0) throw new Error('the patch went through: policy not enforced yet');
    return result;
  });
  t.regex(changed.stderr, /ValidatingAdmissionPolicy.*denied request: piggy: the piggysec\.com\/\* annotations of a pod are fixed at admission \(changed: piggysec\.com\/aws-secret-name\)/);
  t.regex((await patch({ 'piggysec.com/piggy-enforce-integrity': 'false' })).stderr, /changed: piggysec\.com\/piggy-enforce-integrity/, 'adding one');
  t.regex((await patch({ 'piggysec.com/aws-secret-name': null })).stderr, /changed: piggysec\.com\/aws-secret-name/, 'removing one');
  t.regex((await patch({ 'piggysec.com/aws-region': 'eu-west-1' }, 'status')).stderr, /fixed at admission/, 'through the status subresource');
  t.is((await patch({ team: 'b' })).code, 0, 'other annotations stay editable');
  const live = await kube().core.readNamespacedPod({ namespace, name: 'app' });
  t.deepEqual(live.metadata?.annotations, { 'piggysec.com/aws-secret-name': `${namespace}/app`, team: 'b' });
});

test('helm uninstall and reinstall keep the webhook CA: the certificate Secret survives, the reinstalled controller adopts it and republishes the same caBundle', async (t) => {
  const namespace = await createTestNamespace(t, 'chart-ca');
  const release = uniqueName('piggy');
  const secretName = `${release}-webhook-tls`;
  const startCerts = async () => {
    const certs = await startWebhookCertificates({
      kc: kube().kc, namespace, secretName, serviceName: release, webhookConfigurationName: release,
      certDir: await mkdtemp(join(tmpdir(), 'piggy-ca-')), log: createLogger({ level: 'silent' }), checkIntervalMs: 60_000,
    });
    t.teardown(() => certs.stop());
    return certs;
  };
  const published = async () => (await kubectl(['get', 'mutatingwebhookconfiguration', release, '-o', 'jsonpath={.webhooks[0].clientConfig.caBundle}'])).stdout;
  await installQuiet(t, namespace, release);
  t.teardown(() => helm(['uninstall', release, '--namespace', namespace]).then(() => undefined));
  const first = await startCerts();
  const ca = first.caBundle();
  t.regex(ca, /BEGIN CERTIFICATE/);
  await eventually(async () => {
    if (Buffer.from(await published(), 'base64').toString('utf8') !== ca) throw new Error('caBundle not published yet');
  });
  await first.stop();

  const removed = await helm(['uninstall', release, '--namespace', namespace]);
  t.is(removed.code, 0, removed.stderr);
  t.is((await kubectl(['get', 'mutatingwebhookconfiguration', release])).code, 1, 'the release is gone');
  t.is((await kubectl(['get', 'secret', secretName, '-n', namespace, '-o', 'name'])).code, 0, 'the certificate Secret is kept');

  await installQuiet(t, namespace, release);
  t.is(await published(), '', 'helm re-creates the webhook configuration without a caBundle');
  const second = await startCerts();
  t.is(second.caBundle(), ca, 'the same CA, so pods admitted before keep verifying the controller');
  await eventually(async () => {
    if (Buffer.from(await published(), 'base64').toString('utf8') !== ca) throw new Error('caBundle not republished yet');
  });
});
