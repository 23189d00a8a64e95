import test from 'ava';
import { WorkQueue, type Outcome, type QueueTimers } from '../../src/controller/work-queue.ts';

/** Timers that fire only when the test advances time; `pending` counts what is scheduled. */
function fakeTimers(): QueueTimers & { advance(ms: number): void; readonly pending: number } {
  let now = 0;
  let timers: { at: number; run: () => void }[] = [];
  return {
    now: () => now,
    schedule(run, delayMs) {
      const timer = { at: now + delayMs, run };
      timers.push(timer);
      return () => {
        timers = timers.filter((other) => other !== timer);
      };
    },
    advance(ms) {
      now += ms;
      const due = timers.filter((timer) => timer.at <= now).sort((a, b) => a.at - b.at);
      timers = timers.filter((timer) => timer.at > now);
      for (const timer of due) timer.run();
    },
    get pending() {
      return timers.length;
    },
  };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test('duplicates collapse while waiting, and one key never runs twice at once', async (t) => {
  const runs: string[] = [];
  let active = 0;
  let maxActivePerKey = 0;
  const gate = deferred();
  const queue = new WorkQueue({
    concurrency: 4,
    baseDelayMs: 10,
    maxDelayMs: 100,
    process: async (key) => {
      active += 1;
      maxActivePerKey = Math.max(maxActivePerKey, active);
      runs.push(key);
      await gate.promise;
      active -= 1;
      return { kind: 'done' };
    },
  });
  queue.add('a');
  queue.add('a');
  queue.add('a');
  await new Promise((resolve) => setImmediate(resolve));
  queue.add('a'); // arrives while "a" runs: it runs once more afterwards
  queue.add('a');
  gate.resolve();
  await queue.onIdle();
  await queue.onIdle();
  t.deepEqual(runs, ['a', 'a']);
  t.is(maxActivePerKey, 1);
});

test('transient failures back off exponentially with jitter, capped; success resets', async (t) => {
  const queue = new WorkQueue({ concurrency: 1, baseDelayMs: 100, maxDelayMs: 1_000, random: () => 1, process: () => Promise.resolve({ kind: 'done' }) });
  t.deepEqual([1, 2, 3, 4, 5, 6].map((n) => queue.backoffDelay(n)), [100, 200, 400, 800, 1_000, 1_000]);
  const low = new WorkQueue({ concurrency: 1, baseDelayMs: 100, maxDelayMs: 1_000, random: () => 0, process: () => Promise.resolve({ kind: 'done' }) });
  t.is(low.backoffDelay(1), 50, 'jitter halves at most');

  const outcomes: Outcome[] = [{ kind: 'retry' }, { kind: 'retry' }, { kind: 'done' }];
  const seen: number[] = [];
  const retrying = new WorkQueue({
    concurrency: 1,
    baseDelayMs: 5,
    maxDelayMs: 20,
    process: (key) => {
      seen.push(retrying.failuresOf(key));
      return Promise.resolve(outcomes.shift() ?? { kind: 'done' });
    },
  });
  retrying.add('k');
  while (seen.length < 3) await new Promise((resolve) => setTimeout(resolve, 5));
  await retrying.onIdle();
  t.deepEqual(seen, [0, 1, 2]);
  t.is(retrying.failuresOf('k'), 0);
  await retrying.stop();
});

test('terminal failures are not retried; a thrown error counts as transient', async (t) => {
  let calls = 0;
  const timers = fakeTimers();
  const queue = new WorkQueue({
    concurrency: 1,
    baseDelayMs: 5,
    maxDelayMs: 5,
    timers,
    process: () => {
      calls += 1;
      return Promise.resolve({ kind: 'terminal' });
    },
  });
  queue.add('k');
  await queue.onIdle();
  t.is(timers.pending, 0, 'no retry is scheduled');
  timers.advance(60_000);
  await queue.onIdle();
  t.is(calls, 1);

  let thrown = 0;
  const throwing = new WorkQueue({
    concurrency: 1,
    baseDelayMs: 5,
    maxDelayMs: 5,
    process: () => {
      thrown += 1;
      return thrown < 3 ? Promise.reject(new Error('boom')) : Promise.resolve({ kind: 'done' });
    },
  });
  throwing.add('k');
  while (thrown < 3) await new Promise((resolve) => setTimeout(resolve, 5));
  t.is(thrown, 3);
  await throwing.stop();
});

test('addAfter keeps the earliest delay and stop() cancels timers', async (t) => {
  const runs: number[] = [];
  const timers = fakeTimers();
  const queue = new WorkQueue({
    concurrency: 1,
    baseDelayMs: 5,
    maxDelayMs: 5,
    timers,
    process: () => {
      runs.push(timers.now());
      return Promise.resolve({ kind: 'done' });
    },
  });
  queue.addAfter('k', 500);
  queue.addAfter('k', 20);
  queue.addAfter('k', 300);
  t.is(timers.pending, 1, 'one timer per key: the earliest');
  timers.advance(19);
  await queue.onIdle();
  t.deepEqual(runs, [], 'not before its delay');
  timers.advance(1);
  await queue.onIdle();
  t.deepEqual(runs, [20]);
  timers.advance(1_000);
  await queue.onIdle();
  t.deepEqual(runs, [20], 'the later delays were dropped');
  queue.addAfter('later', 50);
  await queue.stop();
  t.is(timers.pending, 0, 'stop() cancelled the timer');
  timers.advance(1_000);
  await queue.onIdle();
  t.deepEqual(runs, [20]);
});

test('concurrency is global across keys', async (t) => {
  let active = 0;
  let peak = 0;
  const queue = new WorkQueue({
    concurrency: 3,
    baseDelayMs: 5,
    maxDelayMs: 5,
    process: async () => {
      active += 1;
      peak = Math.max(peak, active);
      await new Promise((resolve) => setTimeout(resolve, 10));
      active -= 1;
      return { kind: 'done' };
    },
  });
  for (let i = 0; i < 20; i += 1) queue.add(`k${i}`);
  t.is(queue.depth, 17, "three start at once, the rest wait");
  await queue.onIdle();
  t.is(peak, 3);
  t.is(queue.depth, 0);
});
