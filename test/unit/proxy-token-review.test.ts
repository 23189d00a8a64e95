// The TokenReview cache (successful reviews only, keyed by the token's hash, bounded by the TTL and
// the token's own exp, single flight per token) and the proxy's concurrency limiter.
import test from 'ava';
import { buildCachedReviewer, buildTokenKey, readTokenExpiry, type TokenReviewResult } from '../../src/kube/token-review.ts';
import { createLimiter } from '../../src/proxy/limiter.ts';
import { boundReview } from '../helpers/proxy.ts';

function jwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256' })}.${part(claims)}.sig`;
}

function counting(answer: (token: string) => TokenReviewResult) {
  const calls: string[] = [];
  return {
    calls,
    review: async (token: string) => {
      calls.push(token);
      await Promise.resolve();
      return answer(token);
    },
  };
}

test('readTokenExpiry reads exp in milliseconds; anything else is undefined', (t) => {
  t.is(readTokenExpiry(jwt({ exp: 1_700_000_000 })), 1_700_000_000_000);
  t.is(readTokenExpiry(jwt({})), undefined);
  t.is(readTokenExpiry('opaque-token'), undefined);
  t.is(readTokenExpiry('a.%%%.c'), undefined);
  t.is(buildTokenKey('abc').length, 64);
  t.not(buildTokenKey('abc'), 'abc');
});

test('a successful review is reused until the TTL, then asked again', async (t) => {
  let now = 1_000_000;
  const api = counting(() => boundReview('shop', 'cart', 'cart-0', 'u'));
  const review = buildCachedReviewer(api.review, { ttlMs: 10_000, now: () => now });
  const token = jwt({ exp: 2_000_000 });
  t.false((await review(token)).cached);
  t.true((await review(token)).cached);
  now += 9_999;
  t.true((await review(token)).cached);
  now += 2;
  t.false((await review(token)).cached);
  t.is(api.calls.length, 2);
});

test('the token\'s exp shortens an entry; an expired token is never cached', async (t) => {
  let now = 1_000_000_000;
  const api = counting(() => boundReview('shop', 'cart', 'cart-0', 'u'));
  const review = buildCachedReviewer(api.review, { ttlMs: 60_000, now: () => now });
  const soon = jwt({ exp: (now + 5_000) / 1000 });
  await review(soon);
  now += 5_000;
  t.false((await review(soon)).cached, 'expired with the token');
  const past = jwt({ exp: (now - 1_000) / 1000 });
  await review(past);
  await review(past);
  t.is(api.calls.filter((token) => token === past).length, 2);
});

test('failed reviews are never cached', async (t) => {
  const api = counting(() => ({ authenticated: false, audiences: [], cached: false }));
  const review = buildCachedReviewer(api.review, { ttlMs: 60_000 });
  await review('bad');
  await review('bad');
  t.is(api.calls.length, 2);
});

test('concurrent reviews of one token share one call; the cache is bounded', async (t) => {
  const api = counting(() => boundReview('shop', 'cart', 'cart-0', 'u'));
  const review = buildCachedReviewer(api.review, { ttlMs: 60_000, maxEntries: 2 });
  const results = await Promise.all(Array.from({ length: 20 }, () => review('same')));
  t.is(api.calls.length, 1);
  t.is(results.filter((result) => !result.cached).length, 1);
  await review('second');
  await review('third'); // evicts 'same', the oldest
  await review('same');
  t.is(api.calls.filter((token) => token === 'same').length, 2);
  await review('third');
  t.is(api.calls.filter((token) => token === 'third').length, 1);
});

test('a failed review call is not cached and not shared after it settles', async (t) => {
  let fail = true;
  const review = buildCachedReviewer(
    async () => {
      await Promise.resolve();
      if (fail) throw new Error('api down');
      return boundReview('shop', 'cart', 'cart-0', 'u');
    },
    { ttlMs: 60_000 },
  );
  await t.throwsAsync(review('tok'), { message: 'api down' });
  fail = false;
  t.true((await review('tok')).authenticated);
});

test('the limiter admits maxInFlight, queues maxQueued in order, refuses the rest', async (t) => {
  const limiter = createLimiter({ maxInFlight: 2, maxQueued: 1, maxWaitMs: 60_000 });
  const a = await limiter.acquire();
  const b = await limiter.acquire();
  const queued = limiter.acquire();
  t.is(await limiter.acquire(), undefined, 'queue full');
  t.is(limiter.inFlight(), 2);
  t.is(limiter.queued(), 1);
  a?.();
  a?.(); // a second release is a no-op
  const c = await queued;
  t.truthy(c);
  t.is(limiter.inFlight(), 2);
  t.is(limiter.queued(), 0);
  b?.();
  c?.();
  t.is(limiter.inFlight(), 0);
});

test('a queued waiter gives up after maxWaitMs and leaves the queue', async (t) => {
  const limiter = createLimiter({ maxInFlight: 1, maxQueued: 5, maxWaitMs: 20 });
  const held = await limiter.acquire();
  t.is(await limiter.acquire(), undefined);
  t.is(limiter.queued(), 0);
  held?.();
  t.is(limiter.inFlight(), 0);
});
