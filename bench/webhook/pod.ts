// The AdmissionReviews the benchmark sends: a realistic pod as the API server hands it to a mutating
// webhook — made by a Deployment (generateName, owner reference, pod-template-hash), already
// defaulted, with the projected service-account token volume and the default tolerations that
// built-in admission adds before webhooks run. One app container reads three `piggy:` values
// among ordinary env; a sidecar and an init container read none.
import { randomUUID } from 'node:crypto';

export type Scenario = 'needs-nothing' | 'command' | 'image';

const DEFAULTED = {
  terminationMessagePath: '/dev/termination-log',
  terminationMessagePolicy: 'File',
  imagePullPolicy: 'IfNotPresent',
};

function appContainer(image: string, withCommand: boolean, piggy: boolean): Record<string, unknown> {
  const env = [
    { name: 'APP_ENV', value: 'production' },
    { name: 'LOG_LEVEL', value: 'info' },
    { name: 'PORT', value: '8080' },
    { name: 'DB_HOST', value: 'postgres.shop.svc.cluster.local' },
    { name: 'DB_USER', value: 'shop' },
    { name: 'DB_PASSWORD', value: piggy ? 'piggy:db-password' : 'from-a-secret' },
    { name: 'STRIPE_KEY', value: piggy ? 'piggy:stripe-key' : 'unset' },
    { name: 'SESSION_SECRET', value: piggy ? 'piggy:session-secret' : 'unset' },
    { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
    { name: 'POD_IP', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.podIP' } } },
    { name: 'GOMAXPROCS', valueFrom: { resourceFieldRef: { divisor: '1', resource: 'limits.cpu' } } },
    { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://otel-collector.observability:4317' },
  ];
  return {
    name: 'app',
    image,
    ...(withCommand ? { command: ['/usr/local/bin/app'], args: ['serve', '--port=$(PORT)', '--log-level=$(LOG_LEVEL)'] } : {}),
    env,
    ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }, { name: 'metrics', containerPort: 9090, protocol: 'TCP' }],
    resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '1', memory: '512Mi' } },
    livenessProbe: { httpGet: { path: '/healthz', port: 'http', scheme: 'HTTP' }, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 },
    readinessProbe: { httpGet: { path: '/readyz', port: 'http', scheme: 'HTTP' }, periodSeconds: 5, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 },
    volumeMounts: [
      { name: 'config', mountPath: '/etc/app', readOnly: true },
      { name: 'kube-api-access-x7k2p', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
    ],
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: true },
    ...DEFAULTED,
  };
}

/** A defaulted Deployment pod; `scenario` decides whether it needs piggy and whether it sets a command. */
export function buildRealisticPod(namespace: string, image: string, scenario: Scenario): Record<string, unknown> {
  const annotations: Record<string, string> = {
    'prometheus.io/scrape': 'true',
    'prometheus.io/port': '9090',
    'kubectl.kubernetes.io/restartedAt': '2026-01-01T00:00:00Z',
    ...(scenario === 'needs-nothing' ? {} : { 'piggysec.com/aws-secret-name': `${namespace}/shop-api` }),
  };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'shop-api-7d9f8b6c5-',
      namespace,
      labels: { app: 'shop-api', 'app.kubernetes.io/name': 'shop-api', 'app.kubernetes.io/version': '3.14.1', 'pod-template-hash': '7d9f8b6c5' },
      annotations,
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'shop-api-7d9f8b6c5', uid: randomUUID(), controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      initContainers: [{ name: 'wait-for-db', image: 'busybox:1.36', command: ['sh', '-c', 'until nc -z postgres.shop 5432; do sleep 1; done'], resources: {}, ...DEFAULTED }],
      containers: [
        appContainer(image, scenario !== 'image', scenario !== 'needs-nothing'),
        { name: 'envoy', image: 'envoyproxy/envoy:v1.30.1', args: ['-c', '/etc/envoy/envoy.yaml'], ports: [{ containerPort: 15001, protocol: 'TCP' }], resources: { requests: { cpu: '50m', memory: '64Mi' } }, ...DEFAULTED },
      ],
      volumes: [
        { name: 'config', configMap: { name: 'shop-api', defaultMode: 420 } },
        {
          name: 'kube-api-access-x7k2p',
          projected: {
            defaultMode: 420,
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
            ],
          },
        },
      ],
      serviceAccountName: 'default',
      serviceAccount: 'default',
      securityContext: { runAsNonRoot: true, runAsUser: 10001, fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      schedulerName: 'default-scheduler',
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
      priority: 0,
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
    },
  };
}

/** The AdmissionReview the API server would send for creating `pod`. */
export function buildReview(pod: Record<string, unknown>, namespace: string): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: randomUUID(),
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace,
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', uid: randomUUID(), groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'] },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1' },
    },
  };
}
