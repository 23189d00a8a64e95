import test from 'ava';
import { LAUNCHER_ENV_NAMES } from '../../src/shared/injection-contract.ts';
import { buildAppEnv, planReferences } from '../../src/env/references.ts';
import { CONTROL_ENV_NAMES, LAUNCHER_EXTRA_ENV } from '../../src/env/settings.ts';

test('references: whole piggy: values, a trailing newline tolerated, keys deduplicated and sorted', (t) => {
  const plan = planReferences({
    DB_PASSWORD: 'piggy:prod-db-pw',
    ALIAS: 'piggy:prod-db-pw',
    FROM_SECRET_VOLUME: 'piggy:TEST_ENV\n',
    API_KEY: 'piggy:api',
    PLAIN: 'hello',
    INSIDE: 'x piggy:api',
    UPPER: 'PIGGY:api',
  });
  t.deepEqual(Object.fromEntries(plan.byVariable), { DB_PASSWORD: 'prod-db-pw', ALIAS: 'prod-db-pw', FROM_SECRET_VOLUME: 'TEST_ENV', API_KEY: 'api' });
  t.deepEqual(plan.keys, ['TEST_ENV', 'api', 'prod-db-pw']);
  t.deepEqual(plan.malformed, []);
});

test('references: `piggy:` with no key is malformed and never fetched', (t) => {
  const plan = planReferences({ A: 'piggy:', B: 'piggy:\nx', C: 'piggy:ok' });
  t.deepEqual(plan.malformed, ['A', 'B']);
  t.deepEqual(plan.keys, ['ok']);
});

test('references: control variables are neither references nor passed to the app', (t) => {
  const env = { PIGGY_ADDRESS: 'piggy:x', PIGGY_UID: 'abc', PIGGY_TOKEN_FILE: '/t', PIGGY_AWS_SECRET_VERSION: 'v', PATH: '/bin', APP: 'piggy:k' };
  const plan = planReferences(env);
  t.deepEqual(plan.keys, ['k']);
  const app = buildAppEnv(env, plan, { k: 'v1' });
  t.deepEqual(app.env, { PATH: '/bin', APP: 'v1' });
  for (const name of LAUNCHER_ENV_NAMES) t.true(CONTROL_ENV_NAMES.has(name), name);
  for (const name of Object.values(LAUNCHER_EXTRA_ENV)) t.true(CONTROL_ENV_NAMES.has(name), name);
});

test('app env: the variable keeps its own name (aliasing) and gets the value of its key', (t) => {
  const env = { DB_PASSWORD: 'piggy:prod-db-pw', SAME: 'piggy:prod-db-pw', HOME: '/root' };
  const app = buildAppEnv(env, planReferences(env), { 'prod-db-pw': 's3cr3t', unused: 'x' });
  t.deepEqual(app.env, { DB_PASSWORD: 's3cr3t', SAME: 's3cr3t', HOME: '/root' });
  t.deepEqual(app.unresolved, []);
  t.is(app.resolved, 2);
});

test('app env: an unresolved reference keeps its literal value and is named (never a value)', (t) => {
  const env = { A: 'piggy:missing', B: 'piggy:there', C: 'piggy:', D: 'plain' };
  const app = buildAppEnv(env, planReferences(env), { there: 'v' });
  t.deepEqual(app.env, { A: 'piggy:missing', B: 'v', C: 'piggy:', D: 'plain' });
  t.deepEqual(app.unresolved, ['A', 'C']);
});

test('app env: an empty secret value is a value; inherited object keys are not', (t) => {
  const env = { A: 'piggy:empty', B: 'piggy:toString', C: 'piggy:__proto__' };
  const app = buildAppEnv(env, planReferences(env), { empty: '' });
  t.is(app.env.A, '');
  t.deepEqual(app.unresolved, ['B', 'C']);
});
