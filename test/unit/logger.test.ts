import { PassThrough } from 'node:stream';
import test from 'ava';
import { createLogger } from '../../src/shared/logger.ts';

const CANARY = 'canary-9f1c2e-do-not-log';

function capture(): { stream: PassThrough; lines: () => Record<string, unknown>[] } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return {
    stream,
    lines: () =>
      Buffer.concat(chunks)
        .toString('utf8')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

test('values, tokens and secret strings are redacted wherever they appear', (t) => {
  const out = capture();
  const log = createLogger({ level: 'info', destination: out.stream });
  log.info({ value: CANARY, secret: { SecretString: CANARY, name: 'prod/db' } }, 'one');
  log.info({ req: { headers: { authorization: `Bearer ${CANARY}`, 'x-token': CANARY } } }, 'two');
  log.info({ secret: { data: { password: CANARY } }, token: CANARY, user: { password: CANARY } }, 'three');
  const text = JSON.stringify(out.lines());
  t.false(text.includes(CANARY));
  t.true(text.includes('prod/db'), 'names stay visible');
  t.is(out.lines().length, 3);
  t.is(out.lines()[0]?.msg, 'one');
});

test('the level filters lines', (t) => {
  const out = capture();
  const log = createLogger({ level: 'warn', destination: out.stream });
  log.info('hidden');
  log.warn('shown');
  t.deepEqual(out.lines().map((line) => line.msg), ['shown']);
  t.is(out.lines()[0]?.level, 'warn');
});
