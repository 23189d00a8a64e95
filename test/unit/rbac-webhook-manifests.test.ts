// deploy/rbac-webhook.yaml is least privilege (no wildcard, explicit and commented rules, exactly the
// documented grants), and deploy/webhook.yaml, controller.yaml and the RBAC agree with each other.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import type { V1Deployment, V1MutatingWebhookConfiguration, V1Service } from '@kubernetes/client-node';
import { isMap, isSeq, parseAllDocuments, type Document } from 'yaml';
import { MUTATE_PATH } from '../../src/webhook/router.ts';

const DEPLOY_DIR = join(import.meta.dirname, '..', '..', 'deploy');
const ALLOWED_VERBS = new Set(['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']);

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}
interface Manifest {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  rules?: Rule[];
  roleRef?: { kind?: string; name?: string };
  subjects?: unknown[];
}
interface Loaded {
  readonly doc: Document;
  readonly manifest: Manifest;
}

function load(file: string): Loaded[] {
  return parseAllDocuments(readFileSync(join(DEPLOY_DIR, file), 'utf8')).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message ?? ''}`);
    const manifest = doc.toJS() as Manifest | null;
    return manifest === null ? [] : [{ doc, manifest }];
  });
}

function problemsOf(loaded: readonly Loaded[]): string[] {
  const problems: string[] = [];
  for (const { doc, manifest } of loaded) {
    if (manifest.kind !== 'Role' && manifest.kind !== 'ClusterRole') continue;
    const where = `${manifest.kind ?? '?'}/${manifest.metadata?.name ?? '?'}`;
    const rulesNode = doc.get('rules', true);
    (manifest.rules ?? []).forEach((rule, index) => {
      for (const field of ['apiGroups', 'resources', 'verbs', 'resourceNames', 'nonResourceURLs'] as const) {
        for (const entry of rule[field] ?? []) if (entry.includes('*')) problems.push(`${where} rule ${index}: ${field} contains a wildcard (${entry})`);
      }
      for (const verb of rule.verbs ?? []) if (!ALLOWED_VERBS.has(verb)) problems.push(`${where} rule ${index}: verb ${verb} is not allowed`);
      if (rule.apiGroups === undefined || rule.resources === undefined || rule.verbs === undefined) problems.push(`${where} rule ${index}: not explicit`);
      if (rule.nonResourceURLs !== undefined) problems.push(`${where} rule ${index}: nonResourceURLs`);
      const item = isSeq(rulesNode) ? rulesNode.items[index] : undefined;
      const comment = (isMap(item) ? item.commentBefore : undefined) ?? (index === 0 && isSeq(rulesNode) ? rulesNode.commentBefore : undefined);
      if (comment === undefined || comment === null || comment.trim() === '') problems.push(`${where} rule ${index}: no comment saying why`);
    });
  }
  return problems;
}

function grants(loaded: readonly Loaded[]): string[] {
  return loaded
    .filter(({ manifest }) => manifest.kind === 'Role' || manifest.kind === 'ClusterRole')
    .flatMap(({ manifest }) =>
      (manifest.rules ?? []).flatMap((rule) =>
        (rule.apiGroups ?? []).flatMap((group) =>
          (rule.resources ?? []).flatMap((resource) =>
            (rule.verbs ?? []).map((verb) => `${manifest.kind ?? '?'} ${group === '' ? 'core' : group} ${resource} ${verb}${rule.resourceNames ? ` [${rule.resourceNames.join(',')}]` : ''}`),
          ),
        ),
      ),
    )
    .sort();
}

const rbac = load('rbac-webhook.yaml');
const webhookConfiguration = load('webhook.yaml').find(({ manifest }) => manifest.kind === 'MutatingWebhookConfiguration')?.manifest as V1MutatingWebhookConfiguration;
const controller = load('controller.yaml').map((item) => item.manifest);
const deployment = controller.find((m) => m.kind === 'Deployment') as V1Deployment;
const service = controller.find((m) => m.kind === 'Service') as V1Service;
const podSpec = deployment.spec?.template.spec;
const container = podSpec?.containers[0];
const envOf = (name: string): string | undefined => container?.env?.find((item) => item.name === name)?.value;

test('rbac-webhook.yaml: no wildcard, only allowed verbs, a comment on every rule', (t) => {
  t.true(rbac.some(({ manifest }) => manifest.kind === 'ClusterRole'));
  t.deepEqual(problemsOf(rbac), []);
});

test('the checker catches wildcards, extra verbs and uncommented rules', (t) => {
  const bad = parseAllDocuments(['kind: Role', 'metadata: {name: bad}', 'rules:', "  - apiGroups: ['*']", '    resources: [secrets]', '    verbs: [escalate]'].join('\n')).map((doc) => ({ doc, manifest: doc.toJS() as Manifest }));
  const problems = problemsOf(bad);
  t.true(problems.some((p) => p.includes('wildcard')));
  t.true(problems.some((p) => p.includes('verb escalate')));
  t.true(problems.some((p) => p.includes('no comment')));
});

test('the webhook side is granted exactly the documented permissions', (t) => {
  const secretName = envOf('WEBHOOK_CERT_SECRET') ?? '?';
  const configurationName = webhookConfiguration.metadata?.name ?? '?';
  t.deepEqual(
    grants(rbac),
    [
      'ClusterRole core configmaps get',
      'ClusterRole core secrets get',
      'ClusterRole core serviceaccounts get',
      'ClusterRole core pods get',
      'ClusterRole authentication.k8s.io tokenreviews create',
      `ClusterRole admissionregistration.k8s.io mutatingwebhookconfigurations get [${configurationName}]`,
      `ClusterRole admissionregistration.k8s.io mutatingwebhookconfigurations patch [${configurationName}]`,
      `Role core secrets get [${secretName}]`,
      `Role core secrets watch [${secretName}]`,
      `Role core secrets update [${secretName}]`,
      'Role core secrets create',
    ].sort(),
  );
});

test('bindings name the roles of the file and the controller service account', (t) => {
  const manifests = rbac.map(({ manifest }) => manifest);
  const roles = new Set(manifests.filter((m) => m.kind === 'Role' || m.kind === 'ClusterRole').map((m) => `${m.kind ?? ''}/${m.metadata?.name ?? ''}`));
  const bindings = manifests.filter((m) => m.kind === 'RoleBinding' || m.kind === 'ClusterRoleBinding');
  t.is(bindings.length, 2);
  for (const binding of bindings) {
    t.true(roles.has(`${binding.roleRef?.kind ?? ''}/${binding.roleRef?.name ?? ''}`));
    t.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: podSpec?.serviceAccountName, namespace: deployment.metadata?.namespace }]);
  }
  t.is(manifests.find((m) => m.kind === 'Role')?.metadata?.namespace, deployment.metadata?.namespace, 'the certificate Secret Role lives in the controller namespace');
});

test('webhook.yaml: fail closed, CREATE only, scoped by namespace and CEL, pointed at the Service', (t) => {
  const webhooks = webhookConfiguration.webhooks ?? [];
  t.is(webhookConfiguration.apiVersion, 'admissionregistration.k8s.io/v1');
  t.is(webhooks.length, 1);
  const [webhook] = webhooks;
  if (webhook === undefined) return;
  t.like(webhook, { name: 'pods.piggysec.com', failurePolicy: 'Fail', sideEffects: 'None', timeoutSeconds: 10, reinvocationPolicy: 'IfNeeded', admissionReviewVersions: ['v1'] });
  t.deepEqual(webhook.rules, [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }]);
  t.is(webhook.clientConfig.caBundle, undefined, 'the caBundle is managed, never in the manifest');
  const https = service.spec?.ports?.find((port) => port.name === 'https');
  t.deepEqual(webhook.clientConfig.service, { name: service.metadata?.name, namespace: service.metadata?.namespace, port: https?.port, path: MUTATE_PATH });
  t.deepEqual(webhook.namespaceSelector?.matchExpressions, [
    { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'kube-node-lease', 'kube-public', deployment.metadata?.namespace] },
  ]);
  const expression = webhook.matchConditions?.[0]?.expression ?? '';
  for (const trigger of ['piggysec.com/aws-secret-name', 'piggysec.com/aws-ssm-parameter-path', 'piggysec.com/piggy-address', 'piggysec.com/standalone', 'secrets.k8s.aws/secret-arn', "startsWith('piggy:')", 'initContainers']) {
    t.true(expression.includes(trigger), `matchConditions mention ${trigger}`);
  }
  t.is(envOf('WEBHOOK_CONFIGURATION_NAME'), webhookConfiguration.metadata?.name);
  t.is(envOf('WEBHOOK_SERVICE_NAME'), service.metadata?.name);
});

test('controller.yaml: two restricted replicas, HTTPS probes, the cert dir in memory, the Service ports', (t) => {
  t.is(deployment.spec?.replicas, 2);
  t.like(podSpec?.securityContext, { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
  t.deepEqual(container?.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
  t.like(container?.readinessProbe, { httpGet: { path: '/readyz', port: 'https', scheme: 'HTTPS' } });
  t.like(container?.livenessProbe, { httpGet: { path: '/healthz', port: 'https', scheme: 'HTTPS' } });
  t.deepEqual(container?.ports, [
    { name: 'https', containerPort: 8443, protocol: 'TCP' },
    { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
  ]);
  t.is(envOf('WEBHOOK_CERT_MANAGEMENT'), 'auto');
  const certDir = envOf('WEBHOOK_CERT_DIR') ?? '?';
  t.is(envOf('TLS_CERT_FILE'), `${certDir}/tls.crt`);
  t.is(envOf('TLS_PRIVATE_KEY_FILE'), `${certDir}/tls.key`);
  const mount = container?.volumeMounts?.find((item) => item.mountPath === certDir);
  const volume = podSpec?.volumes?.find((item) => item.name === mount?.name);
  t.is(volume?.emptyDir?.medium, 'Memory');
  const downward = (container?.env ?? []).flatMap((item) => (item.valueFrom?.fieldRef ? [[item.name, item.valueFrom.fieldRef.fieldPath]] : []));
  t.deepEqual(downward, [['POD_NAME', 'metadata.name'], ['POD_NAMESPACE', 'metadata.namespace']]);
  t.deepEqual(
    service.spec?.ports?.map((port) => [port.name, port.port, port.targetPort]),
    [['https', 443, 'https'], ['metrics', 9090, 'metrics']],
  );
  t.deepEqual(service.spec?.selector, deployment.spec?.selector.matchLabels);
});
