import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { isMap, isSeq, parseAllDocuments, type Document } from 'yaml';

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
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  rules?: Rule[];
  roleRef?: { apiGroup?: string; kind?: string; name?: string };
  subjects?: { kind?: string; name?: string; namespace?: string }[];
}
interface Loaded {
  readonly file: string;
  readonly doc: Document;
  readonly manifest: Manifest;
}

function parseManifests(file: string, text: string): Loaded[] {
  return parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message ?? ''}`);
    const manifest = doc.toJS() as Manifest | null;
    return manifest === null ? [] : [{ file, doc, manifest }];
  });
}

function loadDeploy(): Loaded[] {
  const files = readdirSync(DEPLOY_DIR).filter((name) => /\.ya?ml$/.test(name)).sort();
  return files.flatMap((name) => parseManifests(name, readFileSync(join(DEPLOY_DIR, name), 'utf8')));
}

/** Every problem of the RBAC rules in some manifests: wildcards, verbs outside the allowed list, missing comments. */
function findRbacProblems(loaded: readonly Loaded[]): string[] {
  const problems: string[] = [];
  for (const { file, doc, manifest } of loaded) {
    if (manifest.kind !== 'Role' && manifest.kind !== 'ClusterRole') continue;
    const where = `${file} ${manifest.kind}/${manifest.metadata?.name ?? '?'}`;
    const rulesNode = doc.get('rules', true);
    (manifest.rules ?? []).forEach((rule, index) => {
      for (const field of ['apiGroups', 'resources', 'verbs', 'resourceNames', 'nonResourceURLs'] as const) {
        for (const entry of rule[field] ?? []) {
          if (entry.includes('*')) problems.push(`${where} rule ${index}: ${field} contains a wildcard (${entry})`);
        }
      }
      for (const verb of rule.verbs ?? []) {
        if (!ALLOWED_VERBS.has(verb)) problems.push(`${where} rule ${index}: verb ${verb} is not allowed`);
      }
      if (rule.apiGroups === undefined || rule.resources === undefined || rule.verbs === undefined) {
        problems.push(`${where} rule ${index}: apiGroups, resources and verbs must all be explicit`);
      }
      if (rule.nonResourceURLs !== undefined) problems.push(`${where} rule ${index}: nonResourceURLs are not needed`);
      const item = isSeq(rulesNode) ? rulesNode.items[index] : undefined;
      // The yaml parser attaches the comment above the first item to the sequence itself.
      const comment = (isMap(item) ? item.commentBefore : undefined) ?? (index === 0 && isSeq(rulesNode) ? rulesNode.commentBefore : undefined);
      if (comment === undefined || comment === null || comment.trim() === '') {
        problems.push(`${where} rule ${index}: no comment saying why the rule exists`);
      }
    });
  }
  return problems;
}

/** "group resource verb" lines of every grant, sorted. */
function grants(loaded: readonly Loaded[]): string[] {
  return loaded
    .filter(({ manifest }) => manifest.kind === 'Role' || manifest.kind === 'ClusterRole')
    .flatMap(({ manifest }) =>
      (manifest.rules ?? []).flatMap((rule) =>
        (rule.apiGroups ?? []).flatMap((group) =>
          (rule.resources ?? []).flatMap((resource) =>
            (rule.verbs ?? []).map((verb) => `${manifest.kind ?? ''} ${group === '' ? 'core' : group} ${resource} ${verb}`),
          ),
        ),
      ),
    )
    .sort();
}

test('deploy/ RBAC has no wildcard, only allowed verbs, and a comment on every rule', (t) => {
  const loaded = loadDeploy();
  t.true(loaded.some(({ manifest }) => manifest.kind === 'ClusterRole'), 'a ClusterRole is there to check');
  t.deepEqual(findRbacProblems(loaded), []);
});

test('the checker catches wildcards, extra verbs and uncommented rules', (t) => {
  const bad = parseManifests(
    'bad.yaml',
    [
      'kind: ClusterRole',
      'metadata: {name: bad}',
      'rules:',
      '  # why',
      "  - apiGroups: ['*']",
      '    resources: [secrets]',
      '    verbs: [get]',
      '  - apiGroups: [""]',
      '    resources: [pods/*]',
      '    verbs: [escalate, "*"]',
    ].join('\n'),
  );
  const problems = findRbacProblems(bad);
  t.true(problems.some((p) => p.includes('apiGroups contains a wildcard')));
  t.true(problems.some((p) => p.includes('resources contains a wildcard (pods/*)')));
  t.true(problems.some((p) => p.includes('verb escalate is not allowed')));
  t.true(problems.some((p) => p.includes('verbs contains a wildcard')));
  t.true(problems.some((p) => p.includes('rule 1: no comment')));
  t.false(problems.some((p) => p.includes('rule 0: no comment')));
});

test('the operator is granted exactly the documented permissions', (t) => {
  const expected = [
    ...['get', 'list', 'watch'].map((v) => `ClusterRole piggysec.com awssecrets ${v}`),
    'ClusterRole piggysec.com awssecrets/status patch',
    ...['get', 'list', 'watch', 'create', 'update', 'delete'].map((v) => `ClusterRole core secrets ${v}`),
    'ClusterRole core events create',
    ...['deployments', 'statefulsets', 'daemonsets'].flatMap((r) =>
      ['get', 'list', 'patch'].map((v) => `ClusterRole apps ${r} ${v}`),
    ),
    ...['get', 'create', 'update'].map((v) => `Role coordination.k8s.io leases ${v}`),
    ...['get', 'create'].map((v) => `Role core secrets ${v}`),
  ].sort();
  t.deepEqual(grants(loadDeploy().filter(({ file }) => file === 'rbac-operator.yaml')), expected);
});

test('bindings point at the roles and the service account of deploy/', (t) => {
  const manifests = loadDeploy().map(({ manifest }) => manifest);
  const namespace = manifests.find((m) => m.kind === 'Namespace')?.metadata?.name;
  const account = manifests.find((m) => m.kind === 'ServiceAccount');
  t.is(namespace, 'piggy-system');
  t.is(account?.metadata?.namespace, namespace);
  const roles = new Set(manifests.filter((m) => m.kind === 'Role' || m.kind === 'ClusterRole').map((m) => `${m.kind ?? ''}/${m.metadata?.name ?? ''}`));
  const bindings = manifests.filter((m) => m.kind === 'RoleBinding' || m.kind === 'ClusterRoleBinding');
  t.true(bindings.length >= 2);
  for (const binding of bindings) {
    t.true(roles.has(`${binding.roleRef?.kind ?? ''}/${binding.roleRef?.name ?? ''}`), `${binding.metadata?.name ?? ''} names a role of deploy/`);
    t.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: account?.metadata?.name, namespace }]);
    if (binding.kind === 'RoleBinding') t.is(binding.metadata?.namespace, namespace);
  }
  const role = manifests.find((m) => m.kind === 'Role');
  t.is(role?.metadata?.namespace, namespace, 'the leader-election Role is namespaced to the controller');
});
