import { createHash } from 'node:crypto';
import test from 'ava';
import { hashSecretData } from '../../src/controller/secret-data.ts';
import type { AWSSecret } from '../../src/controller/awssecret.ts';
import {
  buildDesiredSecret,
  isManagedBy,
  isSecretInSync,
  trustedExistingData,
} from '../../src/controller/desired-secret.ts';
import { planSpecChecks } from '../../src/controller/reconciler.ts';
import { buildAccessPolicy } from '../../src/shared/access-policy.ts';
import { MOTO_ACCOUNT } from '../helpers/aws-account.ts';

const POLICY = buildAccessPolicy(['{namespace}/*'], MOTO_ACCOUNT);

const awsSecret = (spec: AWSSecret['spec'] = {}): AWSSecret => ({
  metadata: { name: 'db', namespace: 'team', uid: 'uid-1', generation: 1 },
  spec: {
    stringDataFrom: { secretsManagerSecretRef: { secretId: 'team/db', versionId: 'v1' } },
    metadata: { labels: { app: 'x' }, annotations: { note: 'y' } },
    ...spec,
  },
});
const data = { password: 'cA==' };
const KEY = Buffer.alloc(32, 7);

test('the desired Secret carries owner, labels, annotations, type and data', (t) => {
  const secret = buildDesiredSecret(awsSecret({ type: 'kubernetes.io/basic-auth' }), data, 'eu-west-1', KEY);
  t.is(secret.metadata?.name, 'db');
  t.is(secret.metadata?.namespace, 'team');
  t.deepEqual(secret.metadata?.labels, { app: 'x', 'app.kubernetes.io/managed-by': 'piggy' });
  t.like(secret.metadata?.annotations, {
    note: 'y',
    'piggysec.com/aws-secret-id': 'team/db',
    'piggysec.com/aws-version-id': 'v1',
    'piggysec.com/aws-ref-fields': 'stringDataFrom',
    'piggysec.com/aws-region': 'eu-west-1',
  });
  t.regex(secret.metadata?.annotations?.['piggysec.com/data-hash'] ?? '', /^hmac-sha256:[0-9a-f]{64}$/);
  t.deepEqual(secret.metadata?.ownerReferences, [{ apiVersion: 'piggysec.com/v1alpha1', kind: 'AWSSecret', name: 'db', uid: 'uid-1', controller: true }]);
  t.is(secret.type, 'kubernetes.io/basic-auth');
  t.deepEqual(secret.data, data);
});

test('piggy labels win over spec labels that try to unset management', (t) => {
  const secret = buildDesiredSecret(awsSecret({ metadata: { labels: { 'app.kubernetes.io/managed-by': 'helm' } } }), data, 'r', KEY);
  t.is(secret.metadata?.labels?.['app.kubernetes.io/managed-by'], 'piggy');
});

test('in sync only when data, type, labels, annotations and owner all match', (t) => {
  const desired = buildDesiredSecret(awsSecret(), data, 'r', KEY);
  t.true(isSecretInSync(structuredClone(desired), desired));
  t.false(isSecretInSync({ ...structuredClone(desired), data: { password: 'eA==' } }, desired));
  t.false(isSecretInSync({ ...structuredClone(desired), type: 'Other' }, desired));
  const extraLabel = structuredClone(desired);
  extraLabel.metadata = { ...extraLabel.metadata, labels: { ...extraLabel.metadata?.labels, added: 'by-hand' } };
  t.false(isSecretInSync(extraLabel, desired));
  const noOwner = structuredClone(desired);
  noOwner.metadata = { ...noOwner.metadata, ownerReferences: [] };
  t.false(isSecretInSync(noOwner, desired));
});

test('existing data is trusted only when source and data hash match', (t) => {
  const desired = buildDesiredSecret(awsSecret(), data, 'r', KEY);
  t.deepEqual(trustedExistingData(desired, awsSecret(), 'r', KEY), data);
  t.is(trustedExistingData(desired, awsSecret(), 'other-region', KEY), undefined);
  const bumped = awsSecret({ stringDataFrom: { secretsManagerSecretRef: { secretId: 'team/db', versionId: 'v2' } } });
  t.is(trustedExistingData(desired, bumped, 'r', KEY), undefined);
  t.is(trustedExistingData({ ...desired, data: { password: 'ZWRpdGVk' } }, awsSecret(), 'r', KEY), undefined, 'a hand edit is not trusted');
  const moved = { ...awsSecret(), spec: { dataFrom: { secretsManagerSecretRef: { secretId: 'team/db', versionId: 'v1' } } } };
  t.is(trustedExistingData(desired, moved, 'r', KEY), undefined, 'the same version moved to dataFrom means other data');
});

test('a hand edit that also rewrites data-hash is not trusted: the editor cannot compute the keyed hash', (t) => {
  const desired = buildDesiredSecret(awsSecret(), data, 'r', KEY);
  const edited = { password: 'ZWRpdGVk' };
  const unkeyed = `sha256:${createHash('sha256').update('Opaque\n').update('password\0ZWRpdGVk\n').digest('hex')}`;
  for (const forged of [unkeyed, hashSecretData(edited, 'Opaque', Buffer.alloc(32, 8))]) {
    const tampered = { ...desired, data: edited, metadata: { ...desired.metadata, annotations: { ...desired.metadata?.annotations, 'piggysec.com/data-hash': forged } } };
    t.is(trustedExistingData(tampered, awsSecret(), 'r', KEY), undefined, forged);
  }
  t.deepEqual(trustedExistingData(desired, awsSecret(), 'r', KEY), data, 'the untouched Secret is still trusted');
});

test('a Secret is ours only with the managed-by label and no foreign owner', (t) => {
  const desired = buildDesiredSecret(awsSecret(), data, 'r', KEY);
  t.true(isManagedBy(desired, awsSecret()));
  t.false(isManagedBy({ metadata: { name: 'db', namespace: 'team' } }, awsSecret()));
  t.false(isManagedBy({ metadata: { name: 'db', labels: { 'app.kubernetes.io/managed-by': 'piggy' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'x', uid: 'u' }] } }, awsSecret()));
});

test('spec checks: region, versionId and the namespace access policy', (t) => {
  t.deepEqual(planSpecChecks(awsSecret(), POLICY, 'us-east-1'), { region: 'us-east-1' });
  t.deepEqual(planSpecChecks(awsSecret({ region: 'eu-west-1' }), POLICY, undefined), { region: 'eu-west-1' });
  const noRegion = planSpecChecks(awsSecret(), buildAccessPolicy(['*'], MOTO_ACCOUNT), undefined);
  t.true(noRegion instanceof Error && /region/.test(noRegion.message));
  const foreign = planSpecChecks(awsSecret({ stringDataFrom: { secretsManagerSecretRef: { secretId: 'other/db', versionId: 'v1' } } }), POLICY, 'r');
  t.true(foreign instanceof Error && (foreign as { code?: string }).code === 'ERR_AWSSECRET_POLICY');
  const noVersion = planSpecChecks(awsSecret({ stringDataFrom: { secretsManagerSecretRef: { secretId: 'team/db', versionId: '' } } }), buildAccessPolicy(['*'], MOTO_ACCOUNT), 'r');
  t.true(noVersion instanceof Error && /versionId/.test(noVersion.message));
});
