// The events' send queue: one write in flight, in order, bounded, and a failed write does not stop it.
import test from 'ava';
import { createSendQueue } from '../../src/kube/events.ts';

interface Pending {
  readonly item: number;
  readonly finish: (ok: boolean) => void;
}

function harness(maxQueued?: number, outranks?: (item: number) => boolean) {
  const started: Pending[] = [];
  const dropped: [number, boolean][] = [];
  const droppedItems: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const enqueue = createSendQueue<number>(
    (item) =>
      new Promise<void>((resolve, reject) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        started.push({ item, finish: (ok) => { inFlight--; if (ok) resolve(); else reject(new Error('refused')); } });
      }),
    { maxQueued, outranks, onDropped: (count, drained) => dropped.push([count, drained]), onDrop: (item) => droppedItems.push(item) },
  );
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
  return { enqueue, started, dropped, droppedItems, settle, maxInFlight: () => maxInFlight };
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

test('beyond maxQueued new items are dropped: told at the first drop, and the count once the queue drains', async (t) => {
  const h = harness(2);
  h.enqueue(1); // in flight, not queued
  for (const item of [2, 3, 4, 5, 6]) h.enqueue(item);
  t.deepEqual(h.dropped, [[1, false]], 'the first drop is told at once');
  for (let i = 0; i < 3; i++) {
    h.started[i]?.finish(true);
    await h.settle();
  }
  t.deepEqual(h.started.map((p) => p.item), [1, 2, 3], 'the oldest kept, the newest dropped');
  t.deepEqual(h.dropped, [[1, false], [3, true]]);
  t.deepEqual(h.droppedItems, [4, 5, 6]);
  h.enqueue(7);
  t.is(h.started.at(-1)?.item, 7, 'an idle queue sends at once');
});

test('an item that outranks takes the place of the oldest queued item it outranks', async (t) => {
  // Odd numbers stand for Warnings, even ones for Normal events.
  const h = harness(3, (item) => item % 2 === 1);
  h.enqueue(0); // in flight
  for (const item of [2, 4, 6]) h.enqueue(item);
  h.enqueue(1); // full: takes the place of 2
  h.enqueue(3); // takes the place of 4
  h.enqueue(8); // a Normal one at a full queue is dropped
  h.enqueue(5); // takes the place of 6
  h.enqueue(7); // nothing left that it outranks: dropped
  for (let i = 0; i < 4; i++) {
    h.started[i]?.finish(true);
    await h.settle();
  }
  t.deepEqual(h.started.map((p) => p.item), [0, 1, 3, 5]);
  t.deepEqual(h.dropped, [[1, false], [5, true]]);
  t.deepEqual(h.droppedItems, [2, 4, 8, 6, 7], 'each dropped item, the displaced ones included');
});
