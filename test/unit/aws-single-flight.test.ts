import test from 'ava';
import { SingleFlight } from '../../src/aws/single-flight.ts';

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: Error) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

test('concurrent calls with one key share one call', async (t) => {
  const flights = new SingleFlight<string, string>();
  const gate = deferred<string>();
  let calls = 0;
  const fn = () => {
    calls += 1;
    return gate.promise;
  };
  const all = Array.from({ length: 1000 }, () => flights.run('k', fn));
  t.true(flights.has('k'));
  await Promise.resolve();
  gate.resolve('value');
  const results = await Promise.all(all);
  t.is(calls, 1);
  t.true(results.every((r) => r === 'value'));
  t.false(flights.has('k'), 'nothing is kept after it settles');
  t.is(flights.size, 0);
});

test('different keys do not share', async (t) => {
  const flights = new SingleFlight<string, string>();
  let calls = 0;
  const fn = (value: string) => async () => {
    calls += 1;
    await Promise.resolve();
    return value;
  };
  t.deepEqual(await Promise.all([flights.run('a', fn('A')), flights.run('b', fn('B')), flights.run('a', fn('X'))]), ['A', 'B', 'A']);
  t.is(calls, 2);
});

test('a failure is shared by the waiting callers but not cached', async (t) => {
  const flights = new SingleFlight<string, string>();
  const gate = deferred<string>();
  let calls = 0;
  const first = flights.run('k', () => {
    calls += 1;
    return gate.promise;
  });
  const second = flights.run('k', () => Promise.resolve('never'));
  gate.reject(new Error('boom'));
  await t.throwsAsync(first, { message: 'boom' });
  await t.throwsAsync(second, { message: 'boom' });
  t.is(await flights.run('k', () => {
    calls += 1;
    return Promise.resolve('ok');
  }), 'ok');
  t.is(calls, 2);
});

test('a synchronous throw rejects and leaves no flight behind', async (t) => {
  const flights = new SingleFlight<string, string>();
  await t.throwsAsync(flights.run('k', () => {
    throw new Error('sync');
  }), { message: 'sync' });
  t.false(flights.has('k'));
  t.is(await flights.run('k', () => Promise.resolve('fine')), 'fine');
});
