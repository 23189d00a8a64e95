// The events' send queue: one write in flight, in order, bounded, and a failed write does not stop it.
import test from 'ava';
import { createSendQueue } from '../../src/kube/events.ts';

interface Pending {
  readonly item: number;
  readonly finish: (ok: boolean) => void;
}

function harness(maxQueued?: number) {
  const started: Pending[] = [];
  const dropped: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const enqueue = createSendQueue<number>(
    (item) =>
      new Promise<void>((resolve, reject) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        started.push({ item, finish: (ok) => { inFlight--; if (ok) resolve(); else reject(new Error('refused')); } });
      }),
    (count) => dropped.push(count),
    maxQueued,
  );
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
  return { enqueue, started, dropped, settle, maxInFlight: () => maxInFlight };
}

test('items are sent one at a time, in the order they came', async (t) => {
  const h = harness();
  for (let i = 0; i < 5; i++) h.enqueue(i);
  t.deepEqual(h.started.map((p) => p.item), [0], 'only the first is in flight');
  for (let i = 0; i < 5; i++) {
    h.started[i]?.finish(true);
    await h.settle();
  }
  t.deepEqual(h.started.map((p) => p.item), [0, 1, 2, 3, 4]);
  t.is(h.maxInFlight(), 1);
  t.deepEqual(h.dropped, []);
});

test('a failed send does not stop the queue', async (t) => {
  const h = harness();
  h.enqueue(1);
  h.enqueue(2);
  h.started[0]?.finish(false);
  await h.settle();
  t.deepEqual(h.started.map((p) => p.item), [1, 2]);
});

test('beyond maxQueued new items are dropped, and the count is reported once the queue drains', async (t) => {
  const h = harness(2);
  h.enqueue(1); // in flight, not queued
  for (const item of [2, 3, 4, 5, 6]) h.enqueue(item);
  t.deepEqual(h.dropped, [], 'reported only when drained');
  for (let i = 0; i < 3; i++) {
    h.started[i]?.finish(true);
    await h.settle();
  }
  t.deepEqual(h.started.map((p) => p.item), [1, 2, 3], 'the oldest kept, the newest dropped');
  t.deepEqual(h.dropped, [3]);
  h.enqueue(7);
  t.is(h.started.at(-1)?.item, 7, 'an idle queue sends at once');
});
