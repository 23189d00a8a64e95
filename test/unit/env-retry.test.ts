import test from 'ava';
import { AppError } from '../../src/shared/errors.ts';
import { BACKOFF_CAP_MS, planBackoffDelay, runWithRetries } from '../../src/env/retry.ts';

test('backoff: doubles from 500 ms, capped at 10 s, jitter between half and all of it', (t) => {
  t.is(planBackoffDelay(1, 0), 250);
  t.is(planBackoffDelay(1, 1), 500);
  t.is(planBackoffDelay(2, 0), 500);
  t.is(planBackoffDelay(3, 1), 2000);
  t.is(planBackoffDelay(10, 1), BACKOFF_CAP_MS);
  t.is(planBackoffDelay(30, 0), BACKOFF_CAP_MS / 2);
  const spread = new Set([0, 0.25, 0.5, 0.75, 1].map((random) => planBackoffDelay(4, random)));
  t.is(spread.size, 5);
});

const transient = () => new AppError('ERR_TEST', 'down', { kind: 'transient' });

test('retries: transient failures are retried up to the total number of attempts, with no sleep after the last', async (t) => {
  const sleeps: number[] = [];
  let calls = 0;
  await t.throwsAsync(
    runWithRetries(
      3,
      async () => {
        calls += 1;
        throw transient();
      },
      { sleep: async (ms) => void sleeps.push(ms), random: () => 1 },
    ),
    { message: 'down' },
  );
  t.is(calls, 3);
  t.deepEqual(sleeps, [500, 1000]);
});

test('retries: success on a later attempt returns its value', async (t) => {
  const seen: number[] = [];
  const value = await runWithRetries(
    4,
    async (attempt) => {
      seen.push(attempt);
      if (attempt < 3) throw transient();
      return 'ok';
    },
    { sleep: async () => undefined, random: () => 0, onRetry: (attempt) => seen.push(attempt * 10) },
  );
  t.is(value, 'ok');
  t.deepEqual(seen, [1, 10, 2, 20, 3]);
});

test('retries: a terminal failure ends at once', async (t) => {
  let calls = 0;
  await t.throwsAsync(
    runWithRetries(
      5,
      async () => {
        calls += 1;
        throw new AppError('ERR_TEST', 'refused');
      },
      { sleep: async () => t.fail('no sleep for a terminal failure'), random: () => 0 },
    ),
  );
  t.is(calls, 1);
});

test('retries: one attempt when asked for zero or fewer', async (t) => {
  let calls = 0;
  await t.throwsAsync(
    runWithRetries(
      0,
      async () => {
        calls += 1;
        throw transient();
      },
      { sleep: async () => undefined, random: () => 0 },
    ),
  );
  t.is(calls, 1);
});
