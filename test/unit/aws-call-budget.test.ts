import test from 'ava';
import {
  buildBudgetLimits,
  createCallBudget,
  planRefill,
  planSuccess,
  planThrottle,
  planWaitMs,
  type BudgetState,
} from '../../src/aws/call-budget.ts';
import type { Clock } from '../../src/aws/clock.ts';

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A clock that only moves when the test says so; sleepers wake in time order. */
function fakeClock(): Clock & { advance(ms: number): Promise<void> } {
  let now = 1_000_000;
  let sleepers: { at: number; resolve: () => void }[] = [];
  return {
    now: () => now,
    sleep(ms) {
      return new Promise((resolve) => sleepers.push({ at: now + ms, resolve }));
    },
    async advance(ms) {
      const target = now + ms;
      for (;;) {
        await flush();
        const due = sleepers.filter((s) => s.at <= target).sort((a, b) => a.at - b.at)[0];
        if (due === undefined) break;
        sleepers = sleepers.filter((s) => s !== due);
        now = Math.max(now, due.at);
        due.resolve();
      }
      now = target;
      await flush();
    },
  };
}

/** Starts n acquisitions and reports how many have been granted so far. */
function acquireMany(budget: { acquire(signal?: AbortSignal): Promise<void> }, n: number, signal?: AbortSignal) {
  let granted = 0;
  const order: number[] = [];
  const all = Array.from({ length: n }, (_, i) =>
    budget.acquire(signal).then(() => {
      granted += 1;
      order.push(i);
    }),
  );
  return { all, granted: () => granted, order };
}

test('the burst goes at once, then tokens come at the configured rate', async (t) => {
  const clock = fakeClock();
  const budget = createCallBudget({ ratePerSecond: 10, burst: 5, clock });
  const run = acquireMany(budget, 12);
  await clock.advance(0);
  t.is(run.granted(), 5, 'the burst');
  await clock.advance(99);
  t.is(run.granted(), 5, 'not yet a tenth of a second');
  await clock.advance(1);
  t.is(run.granted(), 6);
  await clock.advance(600);
  t.is(run.granted(), 12);
  await Promise.all(run.all);
  t.deepEqual(run.order, [...Array(12).keys()], 'first come, first served');
});

test('an idle bucket refills only up to the burst', async (t) => {
  const clock = fakeClock();
  const budget = createCallBudget({ ratePerSecond: 10, burst: 3, clock });
  await clock.advance(60_000);
  const run = acquireMany(budget, 5);
  await clock.advance(0);
  t.is(run.granted(), 3);
  await clock.advance(200);
  t.is(run.granted(), 5);
});

test('an aborted wait rejects at once and gives its place away', async (t) => {
  const clock = fakeClock();
  const budget = createCallBudget({ ratePerSecond: 1, burst: 1, clock });
  await budget.acquire();
  const controller = new AbortController();
  const waiting = budget.acquire(controller.signal);
  const next = acquireMany(budget, 1);
  controller.abort(new Error('stopping'));
  await t.throwsAsync(waiting, { message: 'stopping' });
  t.is(budget.snapshot().waiting, 1);
  await clock.advance(1000);
  t.is(next.granted(), 1);
  await t.throwsAsync(budget.acquire(controller.signal), { message: 'stopping' }, 'an aborted signal is refused up front');
});

test('throttling halves the rate, empties the bucket, and repeats only after the cooldown', async (t) => {
  const clock = fakeClock();
  const budget = createCallBudget({ ratePerSecond: 20, burst: 10, minRatePerSecond: 2, decreaseCooldownMs: 1000, clock });
  budget.recordThrottle();
  t.is(budget.rate(), 10);
  t.is(budget.snapshot().tokens, 0, 'no saved-up burst right after a throttle');
  budget.recordThrottle();
  t.is(budget.rate(), 10, 'throttles of calls already in flight do not count twice');
  await clock.advance(1000);
  budget.recordThrottle();
  t.is(budget.rate(), 5);
  for (let i = 0; i < 5; i += 1) {
    await clock.advance(1000);
    budget.recordThrottle();
  }
  t.is(budget.rate(), 2, 'never below the floor');
});

test('after a throttle calls go at the lowered rate', async (t) => {
  const clock = fakeClock();
  const budget = createCallBudget({ ratePerSecond: 10, burst: 10, clock });
  budget.recordThrottle();
  const run = acquireMany(budget, 5);
  await clock.advance(0);
  t.is(run.granted(), 0);
  await clock.advance(200);
  t.is(run.granted(), 1, 'one call per 1/5 s at rate 5');
  await clock.advance(800);
  t.is(run.granted(), 5);
});

test('successes raise the rate additively back to the configured rate', (t) => {
  const clock = fakeClock();
  const budget = createCallBudget({ ratePerSecond: 20, burst: 10, increasePerSuccess: 1, clock });
  budget.recordThrottle();
  t.is(budget.rate(), 10);
  budget.recordSuccess();
  budget.recordSuccess();
  t.is(budget.rate(), 12);
  for (let i = 0; i < 50; i += 1) budget.recordSuccess();
  t.is(budget.rate(), 20, 'capped at the configured rate');
});

test('default limits', (t) => {
  const limits = buildBudgetLimits({ ratePerSecond: 20, burst: 40 });
  t.deepEqual(limits, { maxRate: 20, minRate: 1, burst: 40, decreaseFactor: 0.5, increasePerSuccess: 0.2, decreaseCooldownMs: 1000 });
  t.throws(() => buildBudgetLimits({ ratePerSecond: 0, burst: 1 }), { instanceOf: RangeError });
  t.throws(() => buildBudgetLimits({ ratePerSecond: 1, burst: 1, decreaseFactor: 1 }), { instanceOf: RangeError });
});

test('the pure steps: refill caps at a capacity that shrinks with the rate', (t) => {
  const limits = buildBudgetLimits({ ratePerSecond: 10, burst: 10, minRatePerSecond: 1 });
  const full: BudgetState = { tokens: 0, rate: 10, refilledAt: 0, decreasedAt: undefined };
  t.is(planRefill(full, limits, 500).tokens, 5);
  t.is(planRefill(full, limits, 5000).tokens, 10);
  const halved = planThrottle(full, limits, 0);
  t.is(halved.rate, 5);
  t.is(planRefill(halved, limits, 60_000).tokens, 5, 'capacity at half rate is half the burst');
  t.is(planWaitMs({ ...halved, tokens: 0 }), 200);
  t.is(planWaitMs({ ...halved, tokens: 1 }), 0);
  t.is(planSuccess(halved, limits).rate, 5.1);
});
