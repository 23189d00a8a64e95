import type { ECRClient } from '@aws-sdk/client-ecr';
import test from 'ava';
import { createEcrCredentials, parseEcrHost } from '../../src/webhook/image/ecr.ts';

test('ECR hosts are recognized with their account and region; other hosts are not', (t) => {
  t.deepEqual(parseEcrHost('123456789012.dkr.ecr.eu-west-1.amazonaws.com'), { accountId: '123456789012', region: 'eu-west-1' });
  t.deepEqual(parseEcrHost('123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com'), { accountId: '123456789012', region: 'us-gov-west-1' });
  t.deepEqual(parseEcrHost('123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn'), { accountId: '123456789012', region: 'cn-north-1' });
  t.deepEqual(parseEcrHost('123456789012.dkr-ecr.us-east-1.on.aws'), { accountId: '123456789012', region: 'us-east-1' });
  for (const host of ['public.ecr.aws', '12345.dkr.ecr.us-east-1.amazonaws.com', 'evil.com/123456789012.dkr.ecr.us-east-1.amazonaws.com', '123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.com']) {
    t.is(parseEcrHost(host), undefined, host);
  }
});

interface FakeEcr {
  calls: string[];
  client: (region: string) => Pick<ECRClient, 'send'>;
}

function fakeEcr(answer: (region: string) => unknown): FakeEcr {
  const calls: string[] = [];
  return {
    calls,
    client: (region) => ({
      send: (async () => {
        calls.push(region);
        await Promise.resolve();
        return answer(region);
      }) as ECRClient['send'],
    }),
  };
}

const token = (user: string, password: string, expiresAt: Date): unknown => ({
  authorizationData: [{ authorizationToken: Buffer.from(`${user}:${password}`).toString('base64'), expiresAt, proxyEndpoint: 'https://x' }],
});

test('a token per region is fetched once, shared by concurrent callers, and refreshed before it expires', async (t) => {
  let time = 0;
  const ecr = fakeEcr(() => token('AWS', `pw-${time}`, new Date(time + 12 * 3_600_000)));
  const credentials = createEcrCredentials({ ecr: ecr.client, now: () => time });
  const host = { accountId: '123456789012', region: 'eu-west-1' };
  const signal = new AbortController().signal;
  const all = await Promise.all(Array.from({ length: 20 }, () => credentials.credential(host, signal)));
  t.is(ecr.calls.length, 1);
  t.true(all.every((credential) => JSON.stringify(credential) === JSON.stringify({ kind: 'basic', username: 'AWS', password: 'pw-0' })));
  time = 12 * 3_600_000 - 5 * 60_000 - 1;
  await credentials.credential(host, signal);
  t.is(ecr.calls.length, 1, 'still valid until 5 minutes before expiry');
  time += 1;
  t.deepEqual(await credentials.credential(host, signal), { kind: 'basic', username: 'AWS', password: `pw-${time}` });
  t.is(ecr.calls.length, 2);
  await credentials.credential({ accountId: '123456789012', region: 'us-east-1' }, signal);
  t.deepEqual(ecr.calls, ['eu-west-1', 'eu-west-1', 'us-east-1']);
});

test('access errors are ERR_IMAGE_UNAUTHORIZED, others ERR_IMAGE_UNREACHABLE; nothing is cached', async (t) => {
  const fail = (name: string, status: number) => () => {
    throw Object.assign(new Error('AWS said no'), { name, $metadata: { httpStatusCode: status } });
  };
  const host = { accountId: '123456789012', region: 'eu-west-1' };
  const signal = new AbortController().signal;
  const denied = fakeEcr(fail('AccessDeniedException', 400));
  const deniedError = await t.throwsAsync(createEcrCredentials({ ecr: denied.client, now: () => 0 }).credential(host, signal));
  t.is((deniedError as { code?: string }).code, 'ERR_IMAGE_UNAUTHORIZED');
  t.regex(deniedError.message, /cannot get an ECR token in eu-west-1 \(AccessDeniedException\)/);
  const down = fakeEcr(fail('ServerException', 500));
  const credentials = createEcrCredentials({ ecr: down.client, now: () => 0 });
  const downError = await t.throwsAsync(credentials.credential(host, signal));
  t.is((downError as { code?: string }).code, 'ERR_IMAGE_UNREACHABLE');
  await t.throwsAsync(credentials.credential(host, signal));
  t.is(down.calls.length, 2);
  const empty = fakeEcr(() => ({ authorizationData: [] }));
  const emptyError = await t.throwsAsync(createEcrCredentials({ ecr: empty.client, now: () => 0 }).credential(host, signal));
  t.is((emptyError as { code?: string }).code, 'ERR_IMAGE_INVALID');
});
