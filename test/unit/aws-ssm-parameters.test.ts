import test from 'ava';
import { buildParameterMap } from '../../src/aws/ssm-parameters.ts';

test('keys are the last path element (Piggy rule) and values are kept as they are', (t) => {
  const map = buildParameterMap([
    { Name: '/team/app/DB_HOST', Value: 'db.example' },
    { Name: '/team/app/nested/deeper/PORT', Value: '5432' },
    { Name: '/team/app/LIST', Value: 'a,b,c' },
  ]);
  t.deepEqual({ ...map }, { DB_HOST: 'db.example', PORT: '5432', LIST: 'a,b,c' });
  t.true(Object.isFrozen(map));
});

test('colliding keys from nested paths: the later parameter wins', (t) => {
  const map = buildParameterMap([
    { Name: '/team/app/KEY', Value: 'first' },
    { Name: '/team/app/sub/KEY', Value: 'second' },
  ]);
  t.is(map.KEY, 'second');
});

test('odd names stay plain keys and nameless entries are skipped', (t) => {
  const map = buildParameterMap([
    { Name: '/p/__proto__', Value: 'x' },
    { Name: '/p/', Value: 'skipped' },
    { Value: 'no name' },
    { Name: '/p/EMPTY' },
  ]);
  t.deepEqual(Object.keys(map).sort(), ['EMPTY', '__proto__']);
  t.is(Object.getPrototypeOf(map), Object.prototype);
  t.is(map.EMPTY, '');
});
