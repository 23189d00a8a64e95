// charts/piggy rendered with helm template and various values: what each value changes.
import test from 'ava';
import type { V1Deployment } from '@kubernetes/client-node';
import { deploymentOf, envOf, envValues, grantsOf, ofKind, only, render, renderError, webhookOf, type Manifest } from '../helpers/chart.ts';

const REGION = { aws: { region: 'eu-west-1' } };
const NAMESPACE = 'team-secrets';
const withRegion = (values: Record<string, unknown> = {}): Record<string, unknown> => ({ ...REGION, ...values });
const podSpecOf = (manifests: Manifest[]) => deploymentOf(manifests).spec?.template.spec;
const containerOf = (manifests: Manifest[]) => podSpecOf(manifests)?.containers[0];
const names = (manifests: Manifest[]) => manifests.map((m) => `${m.kind ?? ''}/${m.metadata?.name ?? ''}`).sort();

test('aws.region is required: the render fails and says which value to set', async (t) => {
  const message = await renderError({});
  t.regex(message, /aws\.region is required/);
  t.regex(message, /--set aws\.region=/);
});

test('only aws.region set: everything the controller needs, in the release namespace', async (t) => {
  const manifests = await render({ release: 'sec', namespace: NAMESPACE, values: REGION });
  const env = envValues(manifests);
  t.like(env, {
    AWS_REGION: 'eu-west-1',
    PIGGY_ENV_IMAGE: 'ghcr.io/piggysec/piggy-env:0.1.0',
    PIGGY_ADDRESS: `https://sec-piggy.${NAMESPACE}.svc:443`,
    WEBHOOK_CERT_MANAGEMENT: 'auto',
    WEBHOOK_CERT_SECRET: 'sec-piggy-webhook-tls',
    WEBHOOK_SERVICE_NAME: 'sec-piggy',
    WEBHOOK_CONFIGURATION_NAME: 'sec-piggy',
    LEASE_NAMESPACE: NAMESPACE,
    LEASE_NAME: 'sec-piggy-operator',
    OPERATOR_ENABLED: 'true',
    WEBHOOK_ENABLED: 'true',
    PROXY_ENABLED: 'true',
    PROXY_TOKEN_AUDIENCE: 'piggysec.com',
    PROXY_TOKEN_EXPIRATION: '600s',
    ACCESS_POLICY: '{namespace}/*',
    LISTEN_ADDRESS: ':8443',
    METRICS_ADDRESS: ':9090',
    LOG_LEVEL: 'info',
    SHUTDOWN_DRAIN_DELAY: '5s',
  });
  t.false('AWS_ENDPOINT_URL' in env);
  t.false('PROXY_ACCEPT_LEGACY_PODS' in env, 'the legacy path only when asked for');
  t.deepEqual(names(manifests).filter((name) => name.startsWith('ValidatingAdmissionPolicy')), ['ValidatingAdmissionPolicy/sec-piggy-pod-annotations', 'ValidatingAdmissionPolicyBinding/sec-piggy-pod-annotations']);
  t.false('WEBHOOK_CERT_EXTRA_NAMES' in env);
  const downward = envOf(manifests).flatMap((entry) => (entry.valueFrom?.fieldRef ? [[entry.name, entry.valueFrom.fieldRef.fieldPath]] : []));
  t.deepEqual(downward, [['POD_NAME', 'metadata.name'], ['POD_NAMESPACE', 'metadata.namespace']]);
  t.is(containerOf(manifests)?.image, 'ghcr.io/piggysec/piggy:0.1.0');
  t.is(deploymentOf(manifests).spec?.replicas, 2);
  for (const m of manifests) {
    const clusterScoped = m.kind?.startsWith('Cluster') === true || ['MutatingWebhookConfiguration', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'].includes(m.kind ?? '');
    t.is(m.metadata?.namespace, clusterScoped ? undefined : NAMESPACE, `${m.kind ?? ''}/${m.metadata?.name ?? ''}`);
  }
  t.false(names(manifests).some((name) => name.startsWith('Namespace/')), 'no Namespace unless namespace.create');
  const [hook] = webhookOf(manifests).webhooks ?? [];
  t.deepEqual(hook?.clientConfig, { service: { name: 'sec-piggy', namespace: NAMESPACE, port: 443, path: '/mutate' } });
  t.deepEqual(hook?.namespaceSelector, {
    matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'kube-node-lease', 'kube-public', NAMESPACE] }],
  });
  t.like(hook, { failurePolicy: 'Fail', timeoutSeconds: 10 });
  t.is(hook?.matchConditions?.[0]?.name, 'opted-in');
  t.is(webhookOf(manifests).metadata?.annotations, undefined, 'no cert-manager annotation in auto mode');
  t.like(podSpecOf(manifests), { serviceAccountName: 'sec-piggy', terminationGracePeriodSeconds: 45 });
  t.deepEqual(containerOf(manifests)?.lifecycle, { preStop: { sleep: { seconds: 5 } } }, 'the kubelet sleeps before SIGTERM (no shell in the image)');
  t.deepEqual(deploymentOf(manifests).spec?.strategy?.rollingUpdate, { maxUnavailable: 0, maxSurge: 1 });
  t.is(podSpecOf(manifests)?.hostNetwork, undefined);
  t.is(podSpecOf(manifests)?.topologySpreadConstraints?.[0]?.labelSelector?.matchLabels?.['app.kubernetes.io/instance'], 'sec');
  t.deepEqual(ofKind(manifests, 'ServiceMonitor'), [], 'no ServiceMonitor by default');
  t.like(only(manifests, 'PodDisruptionBudget'), { spec: { minAvailable: 1 } });
});

test('image.digest wins over the tag, for the controller and the launcher', async (t) => {
  const digest = `sha256:${'a'.repeat(64)}`;
  const envDigest = `sha256:${'b'.repeat(64)}`;
  const manifests = await render({
    values: withRegion({ image: { repository: 'registry.example/piggy', tag: '9.9.9', digest, pullPolicy: 'Always' }, piggyEnv: { image: { tag: '1.2.3', digest: envDigest } } }),
  });
  t.is(containerOf(manifests)?.image, `registry.example/piggy@${digest}`);
  t.is(containerOf(manifests)?.imagePullPolicy, 'Always');
  t.is(envValues(manifests).PIGGY_ENV_IMAGE, `registry.example/piggy-env@${envDigest}`, 'the launcher defaults to <repository>-env');
  const tagged = await render({ values: withRegion({ image: { tag: '9.9.9' }, piggyEnv: { image: { repository: 'other.example/launcher', tag: '1.2.3' } } }) });
  t.is(containerOf(tagged)?.image, 'ghcr.io/piggysec/piggy:9.9.9');
  t.is(envValues(tagged).PIGGY_ENV_IMAGE, 'other.example/launcher:1.2.3');
});

test('webhook.url replaces the Service in clientConfig; failurePolicy, timeout and selector extras', async (t) => {
  const manifests = await render({
    values: withRegion({
      webhook: {
        url: 'https://127.0.0.1:8443/mutate',
        failurePolicy: 'Ignore',
        timeoutSeconds: 5,
        namespaceSelector: { matchLabels: { team: 'a' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['web'] }] },
        objectSelector: { matchLabels: { 'piggysec.com/inject': 'true' } },
      },
    }),
  });
  const [hook] = webhookOf(manifests).webhooks ?? [];
  t.deepEqual(hook?.clientConfig, { url: 'https://127.0.0.1:8443/mutate' });
  t.like(hook, { failurePolicy: 'Ignore', timeoutSeconds: 5, objectSelector: { matchLabels: { 'piggysec.com/inject': 'true' } } });
  t.deepEqual(hook?.namespaceSelector, {
    matchLabels: { team: 'a' },
    matchExpressions: [
      { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'kube-node-lease', 'kube-public', 'piggy-test'] },
      { key: 'tier', operator: 'In', values: ['web'] },
    ],
  });
});

test('operator.enabled=false drops the operator RBAC and the Lease settings', async (t) => {
  const manifests = await render({ values: withRegion({ operator: { enabled: false } }) });
  const env = envValues(manifests);
  t.is(env.OPERATOR_ENABLED, 'false');
  t.false('LEASE_NAMESPACE' in env);
  t.false(names(manifests).some((name) => name.includes('operator') || name.includes('leader-election')), names(manifests).join(', '));
  t.false(grantsOf(manifests).some((grant) => grant.includes('awssecrets') || grant.includes('leases') || grant.includes('apps ')));
  t.true(grantsOf(manifests).includes('ClusterRole authentication.k8s.io tokenreviews create'), 'the proxy keeps its grants');
});

test('webhook.enabled=false drops the configuration and the webhook-only grants; proxy.enabled=false the proxy grants', async (t) => {
  const noWebhook = await render({ values: withRegion({ webhook: { enabled: false } }) });
  t.is(envValues(noWebhook).WEBHOOK_ENABLED, 'false');
  t.deepEqual(ofKind(noWebhook, 'MutatingWebhookConfiguration'), []);
  t.false(grantsOf(noWebhook).some((grant) => grant.includes('configmaps') || grant.includes('serviceaccounts')));
  t.true(grantsOf(noWebhook).includes('ClusterRole core pods get'));
  const noProxy = await render({ values: withRegion({ proxy: { enabled: false } }) });
  t.is(envValues(noProxy).PROXY_ENABLED, 'false');
  t.false(grantsOf(noProxy).some((grant) => grant.includes('pods') || grant.includes('tokenreviews')));
  t.true(grantsOf(noProxy).includes('ClusterRole core configmaps get'));
  const operatorOnly = await render({ values: withRegion({ webhook: { enabled: false }, proxy: { enabled: false }, certificates: { mode: 'cert-manager' } }) });
  t.deepEqual(ofKind(operatorOnly, 'ClusterRole').map((m) => m.metadata?.name), ['piggy-operator'], 'no empty ClusterRole');
});

test('certificates.mode=cert-manager: Issuers, Certificates, files mode, the CA injector annotation', async (t) => {
  const manifests = await render({ values: withRegion({ certificates: { mode: 'cert-manager', extraNames: ['piggy.example.com', '10.0.0.7', 'fd00::7'] } }) });
  t.deepEqual(ofKind(manifests, 'Issuer').map((m) => m.metadata?.name).sort(), ['piggy-ca', 'piggy-selfsigned']);
  const certificates = ofKind(manifests, 'Certificate');
  t.deepEqual(certificates.map((m) => m.metadata?.name).sort(), ['piggy-ca', 'piggy-webhook']);
  const serving = certificates.find((m) => m.metadata?.name === 'piggy-webhook') as { spec?: Record<string, unknown> } | undefined;
  t.like(serving?.spec, { secretName: 'piggy-webhook-tls-cm', issuerRef: { name: 'piggy-ca', kind: 'Issuer' }, ipAddresses: ['10.0.0.7', 'fd00::7'] });
  t.deepEqual(serving?.spec?.dnsNames, ['piggy', 'piggy.piggy-test', 'piggy.piggy-test.svc', 'piggy.piggy-test.svc.cluster.local', 'piggy.example.com']);
  t.is(webhookOf(manifests).metadata?.annotations?.['cert-manager.io/inject-ca-from'], 'piggy-test/piggy-webhook');
  const env = envValues(manifests);
  t.like(env, { WEBHOOK_CERT_MANAGEMENT: 'files', TLS_CERT_FILE: '/var/run/piggy/tls/tls.crt', TLS_PRIVATE_KEY_FILE: '/var/run/piggy/tls/tls.key', WEBHOOK_CA_BUNDLE_FILE: '/var/run/piggy/tls/ca.crt' });
  t.false('WEBHOOK_CERT_SECRET' in env);
  t.is(podSpecOf(manifests)?.volumes?.find((v) => v.name === 'tls')?.secret?.secretName, 'piggy-webhook-tls-cm');
  t.false(names(manifests).includes('Role/piggy-webhook-certificates'));
  t.false(grantsOf(manifests).some((grant) => grant.includes('mutatingwebhookconfigurations')));
  const ownIssuer = await render({ values: withRegion({ certificates: { mode: 'cert-manager', certManager: { issuerRef: { name: 'corp-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' } } } }) });
  t.deepEqual(ofKind(ownIssuer, 'Issuer'), []);
  t.like(only(ownIssuer, 'Certificate'), { spec: { issuerRef: { name: 'corp-ca', kind: 'ClusterIssuer' } } });
  t.regex(await renderError({ values: withRegion({ certificates: { mode: 'manual' } }) }), /certificates\.mode must be auto or cert-manager/);
});

test('certificates.extraNames in auto mode: WEBHOOK_CERT_EXTRA_NAMES, comma-separated', async (t) => {
  const manifests = await render({ values: withRegion({ certificates: { extraNames: ['127.0.0.1', 'piggy.local'] } }) });
  t.is(envValues(manifests).WEBHOOK_CERT_EXTRA_NAMES, '127.0.0.1,piggy.local');
});

test('serviceMonitor and podDisruptionBudget follow their values', async (t) => {
  const manifests = await render({ values: withRegion({ serviceMonitor: { enabled: true, interval: '15s', labels: { release: 'prom' } }, podDisruptionBudget: { minAvailable: 2 } }) });
  const monitor = only(manifests, 'ServiceMonitor') as Manifest & { spec?: { endpoints?: unknown[]; selector?: unknown } };
  t.is(monitor.apiVersion, 'monitoring.coreos.com/v1');
  t.is(monitor.metadata?.labels?.release, 'prom');
  t.deepEqual(monitor.spec?.endpoints, [{ port: 'metrics', path: '/metrics', scheme: 'http', interval: '15s' }]);
  t.deepEqual(monitor.spec?.selector, { matchLabels: deploymentOf(manifests).spec?.selector.matchLabels });
  t.like(only(manifests, 'PodDisruptionBudget'), { spec: { minAvailable: 2 } });
  t.deepEqual(ofKind(await render({ values: withRegion({ podDisruptionBudget: { enabled: false } }) }), 'PodDisruptionBudget'), []);
});

test('extraEnv and config are appended; a variable the chart sets is refused', async (t) => {
  const manifests = await render({
    values: withRegion({
      extraEnv: [{ name: 'KUBERNETES_SERVICE_HOST', value: '127.0.0.1' }, { name: 'FROM_SECRET', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }],
      config: { RECONCILE_CONCURRENCY: 64, UPDATE_CHECK_SCHEDULE: 'off' },
      aws: { region: 'eu-west-1', endpointUrl: 'http://127.0.0.1:5000' },
      accessPolicy: '*',
      logLevel: 'debug',
    }),
  });
  const env = envOf(manifests);
  t.like(envValues(manifests), { KUBERNETES_SERVICE_HOST: '127.0.0.1', RECONCILE_CONCURRENCY: '64', UPDATE_CHECK_SCHEDULE: 'off', AWS_ENDPOINT_URL: 'http://127.0.0.1:5000', ACCESS_POLICY: '*', LOG_LEVEL: 'debug' });
  t.deepEqual(env.find((entry) => entry.name === 'FROM_SECRET')?.valueFrom, { secretKeyRef: { name: 's', key: 'k' } });
  t.is(new Set(env.map((entry) => entry.name)).size, env.length, 'no duplicate names');
  t.regex(await renderError({ values: withRegion({ config: { AWS_REGION: 'us-west-2' } }) }), /config\.AWS_REGION: the chart sets AWS_REGION itself/);
  t.regex(await renderError({ values: withRegion({ extraEnv: [{ name: 'PIGGY_ADDRESS', value: 'x' }] }) }), /extraEnv: PIGGY_ADDRESS is already set/);
});

test('shutdown values: preStop sleep, drain delay, grace period and rollingUpdate', async (t) => {
  const manifests = await render({ values: withRegion({ shutdown: { preStopSleepSeconds: 0, drainDelay: '10s' }, terminationGracePeriodSeconds: 60, rollingUpdate: { maxUnavailable: 1, maxSurge: 1 } }) });
  t.is(containerOf(manifests)?.lifecycle, undefined, 'no hook at 0 seconds');
  t.like(envValues(manifests), { SHUTDOWN_DRAIN_DELAY: '10s' });
  t.like(podSpecOf(manifests), { terminationGracePeriodSeconds: 60 });
  t.deepEqual(deploymentOf(manifests).spec?.strategy?.rollingUpdate, { maxUnavailable: 1, maxSurge: 1 });
});

test('hostNetwork: ClusterFirstWithHostNet and the listeners on the pod IP; listen values', async (t) => {
  const manifests = await render({ values: withRegion({ hostNetwork: true, listen: { httpsPort: 18443, metricsPort: 19090 } }) });
  t.like(podSpecOf(manifests), { hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' });
  const env = envOf(manifests);
  const at = (name: string) => env.findIndex((entry) => entry.name === name);
  t.deepEqual(env[at('POD_IP')]?.valueFrom, { fieldRef: { fieldPath: 'status.podIP' } });
  t.true(at('POD_IP') < at('LISTEN_ADDRESS'), 'POD_IP is defined before $(POD_IP) uses it');
  t.like(envValues(manifests), { LISTEN_ADDRESS: '$(POD_IP):18443', METRICS_ADDRESS: '$(POD_IP):19090' });
  t.deepEqual(containerOf(manifests)?.ports?.map((port) => port.containerPort), [18443, 19090]);
  t.deepEqual(deploymentOf(manifests).spec?.strategy?.rollingUpdate, { maxUnavailable: 1, maxSurge: 0 }, 'no surge replica that could not bind the port');
  const fixed = await render({ values: withRegion({ hostNetwork: true, listen: { address: '127.0.0.1' } }) });
  t.like(envValues(fixed), { LISTEN_ADDRESS: '127.0.0.1:8443', METRICS_ADDRESS: '127.0.0.1:9090' });
  t.false(envOf(fixed).some((entry) => entry.name === 'POD_IP'));
});

test('service account, leader election, scheduling and pod metadata values', async (t) => {
  const manifests = await render({
    values: withRegion({
      serviceAccount: { create: false, name: 'existing' },
      leaderElection: { namespace: 'leases', name: 'my-lease' },
      replicaCount: 3,
      imagePullSecrets: [{ name: 'pull' }],
      nodeSelector: { pool: 'system' },
      tolerations: [{ key: 'dedicated', operator: 'Exists' }],
      affinity: { nodeAffinity: {} },
      podAnnotations: { 'example.com/a': 'b' },
      podLabels: { team: 'sec', 'app.kubernetes.io/component': 'other' },
      resources: { requests: { cpu: '1' } },
      piggyEnv: { resources: { requests: { cpu: '10m' }, limits: { memory: '1Gi', cpu: null } } },
      terminationGracePeriodSeconds: 60,
    }),
  });
  t.deepEqual(ofKind(manifests, 'ServiceAccount'), []);
  for (const binding of [...ofKind(manifests, 'RoleBinding'), ...ofKind(manifests, 'ClusterRoleBinding')]) {
    t.deepEqual((binding as { subjects?: unknown }).subjects, [{ kind: 'ServiceAccount', name: 'existing', namespace: 'piggy-test' }]);
  }
  t.is(ofKind(manifests, 'Role').find((m) => m.metadata?.name === 'piggy-leader-election')?.metadata?.namespace, 'leases');
  t.like(envValues(manifests), { LEASE_NAMESPACE: 'leases', LEASE_NAME: 'my-lease', PIGGY_ENV_RESOURCE_CPU_REQUEST: '10m', PIGGY_ENV_RESOURCE_MEMORY_LIMIT: '1Gi' });
  t.false('PIGGY_ENV_RESOURCE_CPU_LIMIT' in envValues(manifests), 'a launcher resource set to null is left to the controller default');
  const deployment: V1Deployment = deploymentOf(manifests);
  const pod = deployment.spec?.template;
  t.is(deployment.spec?.replicas, 3);
  t.like(pod?.spec, { serviceAccountName: 'existing', imagePullSecrets: [{ name: 'pull' }], nodeSelector: { pool: 'system' }, terminationGracePeriodSeconds: 60 });
  t.deepEqual(pod?.spec?.tolerations, [{ key: 'dedicated', operator: 'Exists' }]);
  t.is(pod?.metadata?.annotations?.['example.com/a'], 'b');
  t.is(pod?.metadata?.labels?.team, 'sec');
  t.is(pod?.metadata?.labels?.['app.kubernetes.io/component'], 'controller', 'podLabels cannot break the selector');
  t.deepEqual(pod?.spec?.containers[0]?.resources, { requests: { cpu: '1', memory: '128Mi' }, limits: { memory: '512Mi' } }, 'merged with the defaults, as helm does');
});

test('every variant: no wildcard in any rule, every binding names a rendered role', async (t) => {
  const variants = [{}, { operator: { enabled: false } }, { webhook: { enabled: false } }, { certificates: { mode: 'cert-manager' } }, { proxy: { enabled: false }, webhook: { enabled: false } }];
  for (const values of variants) {
    const manifests = await render({ values: withRegion(values) });
    t.false(grantsOf(manifests).some((grant) => grant.includes('*')), JSON.stringify(values));
    const roles = new Set(names(manifests));
    for (const binding of manifests.filter((m) => m.kind === 'RoleBinding' || m.kind === 'ClusterRoleBinding')) {
      const ref = (binding as { roleRef?: { kind?: string; name?: string } }).roleRef;
      t.true(roles.has(`${ref?.kind ?? ''}/${ref?.name ?? ''}`), `${JSON.stringify(values)}: ${binding.metadata?.name ?? ''}`);
    }
  }
});
