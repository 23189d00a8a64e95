// A stand-in for EKS's pod identity webhook (IRSA), to register with startPatchingWebhook next to piggy's.
import type { Pod } from '../../src/webhook/pod.ts';

const WEB_IDENTITY_DIR = '/var/run/secrets/eks.amazonaws.com/serviceaccount';

/**
 * What EKS's pod identity webhook adds to every container (init containers included) of a pod that
 * names a service account with a role: the role, the web-identity token file and its projected
 * volume — plus `aws` (the emulator's endpoint and region). RFC 6902 operations for
 * startPatchingWebhook; none for a pod without a service account, or when already there (reinvocation).
 */
export function podIdentityPatch(pod: Pod, roleArn: string, aws: Readonly<Record<string, string>>): unknown[] {
  if (pod.spec?.serviceAccountName === undefined) return [];
  const operations: unknown[] = [];
  if (!(pod.spec.volumes ?? []).some((volume) => volume.name === 'aws-iam-token')) {
    const volume = { name: 'aws-iam-token', projected: { sources: [{ serviceAccountToken: { audience: 'sts.amazonaws.com', expirationSeconds: 86400, path: 'token' } }] } };
    operations.push(pod.spec.volumes === undefined ? { op: 'add', path: '/spec/volumes', value: [volume] } : { op: 'add', path: '/spec/volumes/-', value: volume });
  }
  for (const kind of ['initContainers', 'containers'] as const) {
    (pod.spec[kind] ?? []).forEach((container, index) => {
      if ((container.env ?? []).some((item) => item.name === 'AWS_ROLE_ARN')) return;
      const env = [
        { name: 'AWS_ROLE_ARN', value: roleArn },
        { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: `${WEB_IDENTITY_DIR}/token` },
        ...Object.entries(aws).filter(([name]) => name === 'AWS_REGION' || name === 'AWS_ENDPOINT_URL').map(([name, value]) => ({ name, value })),
      ];
      const base = `/spec/${kind}/${index}`;
      if (container.env === undefined) operations.push({ op: 'add', path: `${base}/env`, value: env });
      else for (const item of env) operations.push({ op: 'add', path: `${base}/env/-`, value: item });
      const mount = { name: 'aws-iam-token', mountPath: WEB_IDENTITY_DIR, readOnly: true };
      operations.push(container.volumeMounts === undefined ? { op: 'add', path: `${base}/volumeMounts`, value: [mount] } : { op: 'add', path: `${base}/volumeMounts/-`, value: mount });
    });
  }
  return operations;
}
