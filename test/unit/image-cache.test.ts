import test from 'ava';
import { LoadingCache } from '../../src/webhook/image/cache.ts';
import { Limiter } from '../../src/webhook/image/limiter.ts';

function clock(start = 1_000): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => (time += ms) };
}

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: Error) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

test('concurrent loads of one key run the loader once and share its value', async (t) => {
  const cache = new LoadingCache<string>(10, clock().now);
  const gate = deferred<string>();
  let calls = 0;
  const loads = Array.from({ length: 100 }, () =>
    cache.load('k', () => {
      calls += 1;
      return gate.promise;
    }, () => 60_000),
  );
  gate.resolve('v');
  const results = await Promise.all(loads);
  t.is(calls, 1);
  t.true(results.every((result) => result.value === 'v'));
  t.is(results.filter((result) => result.outcome === 'miss').length, 1);
  t.is(results.filter((result) => result.outcome === 'coalesced').length, 99);
  t.is((await cache.load('k', () => Promise.resolve('other'), () => 1)).outcome, 'hit');
});

test('a failed load is shared by its waiters but not cached', async (t) => {
  const cache = new LoadingCache<string>(10, clock().now);
  const gate = deferred<string>();
  const first = cache.load('k', () => gate.promise, () => 1000);
  const second = cache.load('k', () => Promise.resolve('unused'), () => 1000);
  gate.reject(new Error('boom'));
  await t.throwsAsync(first, { message: 'boom' });
  await t.throwsAsync(second, { message: 'boom' });
  const retry = await cache.load('k', () => Promise.resolve('ok'), () => 1000);
  t.deepEqual(retry, { value: 'ok', outcome: 'miss' });
});

test('an expired entry is reloaded, and the loader sees the stale value', async (t) => {
  const time = clock();
  const cache = new LoadingCache<number>(10, time.now);
  await cache.load('k', () => Promise.resolve(1), () => 5_000);
  time.advance(4_999);
  t.is(cache.get('k'), 1);
  time.advance(1);
  t.is(cache.get('k'), undefined);
  let seen: number | undefined;
  const reloaded = await cache.load('k', (stale) => {
    seen = stale;
    return Promise.resolve(2);
  }, () => 5_000);
  t.is(seen, 1);
  t.deepEqual(reloaded, { value: 2, outcome: 'miss' });
});

test('the cache holds at most maxEntries, evicting the least recently used', async (t) => {
  const cache = new LoadingCache<number>(3, clock().now);
  for (const key of ['a', 'b', 'c']) cache.set(key, 1, 60_000);
  t.is(cache.get('a'), 1);
  cache.set('d', 1, 60_000);
  t.is(cache.size, 3);
  t.is(cache.get('b'), undefined);
  t.is(cache.get('a'), 1);
  t.is(cache.get('c'), 1);
  t.is(cache.get('d'), 1);
  await cache.load('e', () => Promise.resolve(1), () => 60_000);
  t.is(cache.size, 3);
  t.is(cache.get('a'), undefined);
});

test('the limiter runs at most max tasks at once, in FIFO order', async (t) => {
  const limiter = new Limiter(2);
  const gates = Array.from({ length: 5 }, () => deferred<undefined>());
  const started: number[] = [];
  let peak = 0;
  const runs = gates.map((gate, i) =>
    limiter.run(async () => {
      started.push(i);
      peak = Math.max(peak, limiter.active);
      await gate.promise;
    }),
  );
  await Promise.resolve();
  t.deepEqual(started, [0, 1]);
  t.is(limiter.waiting, 3);
  for (const gate of gates) gate.resolve(undefined);
  await Promise.all(runs);
  t.deepEqual(started, [0, 1, 2, 3, 4]);
  t.is(peak, 2);
  t.is(limiter.active, 0);
});

test('an abort while waiting for the limiter rejects and frees the place in the queue', async (t) => {
  const limiter = new Limiter(1);
  const gate = deferred<undefined>();
  const running = limiter.run(() => gate.promise);
  const controller = new AbortController();
  let ran = false;
  const waiting = limiter.run(() => {
    ran = true;
    return Promise.resolve();
  }, controller.signal);
  controller.abort(new Error('gave up'));
  await t.throwsAsync(waiting, { message: 'gave up' });
  t.is(limiter.waiting, 0);
  gate.resolve(undefined);
  await running;
  t.false(ran);
  t.is(limiter.active, 0);
  await t.throwsAsync(limiter.run(() => Promise.resolve(), AbortSignal.abort(new Error('already'))), { message: 'already' });
});
