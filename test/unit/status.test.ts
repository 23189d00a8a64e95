import test from 'ava';
import type { AWSSecret } from '../../src/controller/awssecret.ts';
import { isStatusEqual, setCondition } from '../../src/controller/conditions.ts';
import { buildFailedStatus, buildSyncedStatus, buildUpdateCheckStatus } from '../../src/controller/status.ts';
import { parseCronOrOff } from '../../src/config/schedule.ts';
import { jitterFor, planNextCheck } from '../../src/controller/update-schedule.ts';
import { AppError } from '../../src/shared/errors.ts';

const t0 = new Date('2026-11-23T10:00:00Z');
const t1 = new Date('2026-11-23T10:05:00Z');
const base: AWSSecret = {
  metadata: { name: 'db', namespace: 'team', uid: 'u', generation: 3 },
  spec: { stringDataFrom: { secretsManagerSecretRef: { secretId: 'team/db', versionId: 'v1' } } },
};

test('a condition keeps lastTransitionTime until its status changes', (t) => {
  const first = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'A', message: 'a' }, 1, t0);
  const same = setCondition(first, { type: 'Ready', status: 'False', reason: 'B', message: 'b' }, 2, t1);
  t.is(same[0]?.lastTransitionTime, t0.toISOString());
  t.is(same[0]?.reason, 'B');
  const flipped = setCondition(same, { type: 'Ready', status: 'True', reason: 'C', message: 'c' }, 2, t1);
  t.is(flipped[0]?.lastTransitionTime, t1.toISOString());
});

test('synced, then failed: the last good version stays, Ready flips with the reason', (t) => {
  const synced = buildSyncedStatus(base, { versionIds: 'v1', wroteSecret: true }, t0);
  t.like(synced, { observedGeneration: 3, secretName: 'db', versionId: 'v1', syncedAt: t0.toISOString() });
  t.like(synced.conditions?.[0], { type: 'Ready', status: 'True', reason: 'Synced' });
  const failed = buildFailedStatus({ ...base, status: synced }, new AppError('ERR_AWS_THROTTLED', 'throttled', { kind: 'transient' }), t1);
  t.like(failed, { versionId: 'v1', syncedAt: t0.toISOString() });
  t.like(failed.conditions?.[0], { type: 'Ready', status: 'False', reason: 'Throttled', message: 'throttled' });
});

test('an unchanged resync does not move syncedAt, so status is not rewritten', (t) => {
  const synced = buildSyncedStatus(base, { versionIds: 'v1', wroteSecret: true }, t0);
  const again = buildSyncedStatus({ ...base, status: synced }, { versionIds: 'v1', wroteSecret: false }, t1);
  t.true(isStatusEqual(synced, again));
});

test('update check sets latestVersionId and UpdateAvailable', (t) => {
  const available = buildUpdateCheckStatus(base, { latestVersionIds: 'v2' }, 'v1', t0);
  t.is(available.latestVersionId, 'v2');
  t.like(available.conditions?.find((c) => c.type === 'UpdateAvailable'), { status: 'True', reason: 'NewVersionAvailable' });
  const current = buildUpdateCheckStatus(base, { latestVersionIds: 'v1' }, 'v1', t0);
  t.like(current.conditions?.find((c) => c.type === 'UpdateAvailable'), { status: 'False', reason: 'UpToDate' });
  const failed = buildUpdateCheckStatus(base, { latestVersionIds: undefined, error: new AppError('ERR_AWS_UNAVAILABLE', 'down') }, 'v1', t0);
  t.like(failed.conditions?.find((c) => c.type === 'UpdateAvailable'), { status: 'Unknown', reason: 'CheckFailed' });
});

test('a bump to the last known latestVersionId clears UpdateAvailable at once; a bump to another version does not', (t) => {
  const checked = buildUpdateCheckStatus({ ...base, status: buildSyncedStatus(base, { versionIds: 'v1', wroteSecret: true }, t0) }, { latestVersionIds: 'v2' }, 'v1', t1);
  const bumped = buildSyncedStatus({ ...base, status: checked }, { versionIds: 'v2', wroteSecret: true }, t1);
  t.like(bumped.conditions?.find((c) => c.type === 'UpdateAvailable'), { status: 'False', reason: 'UpToDate' });
  t.is(bumped.latestVersionId, 'v2');
  const elsewhere = buildSyncedStatus({ ...base, status: checked }, { versionIds: 'v3', wroteSecret: true }, t1);
  t.like(elsewhere.conditions?.find((c) => c.type === 'UpdateAvailable'), { status: 'True', reason: 'NewVersionAvailable' });
});

test('status equality ignores condition order', (t) => {
  const a = { conditions: [{ type: 'A', status: 'True' as const, reason: 'r', message: 'm', lastTransitionTime: 'x' }, { type: 'B', status: 'True' as const, reason: 'r', message: 'm', lastTransitionTime: 'x' }] };
  const b = { conditions: [...a.conditions].reverse() };
  t.true(isStatusEqual(a, b));
  t.false(isStatusEqual(a, { ...a, versionId: 'v' }));
});

test('cron schedules: next occurrence plus a stable per-source jitter', (t) => {
  t.deepEqual(parseCronOrOff('0 * * * *'), { ok: true, value: '0 * * * *' });
  t.deepEqual(parseCronOrOff('off'), { ok: true, value: undefined });
  t.false(parseCronOrOff('every hour').ok);
  const next = planNextCheck('0 * * * *', 'r/team/db', 0, t0);
  t.is(next.toISOString(), '2026-11-23T11:00:00.000Z');
  const jittered = planNextCheck('0 * * * *', 'r/team/db', 300_000, t0).getTime() - next.getTime();
  t.true(jittered >= 0 && jittered < 300_000);
  t.is(jitterFor('r/team/db', 300_000), jitterFor('r/team/db', 300_000), 'stable');
  t.not(jitterFor('r/team/db', 300_000), jitterFor('r/team/other', 300_000));
});
