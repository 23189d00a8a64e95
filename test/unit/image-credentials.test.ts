import test from 'ava';
import { parseDockerConfig, planCredentials, type Credential } from '../../src/webhook/image/credentials.ts';
import { parseImageReference, type ImageReference } from '../../src/webhook/image/reference.ts';
import type { DockerConfigJson } from '../../src/webhook/image/types.ts';

function ref(image: string): ImageReference {
  const result = parseImageReference(image);
  if (!result.ok) throw new Error(result.error);
  return result.reference;
}

const b64 = (text: string): string => Buffer.from(text).toString('base64');
const basic = (username: string, password: string): Credential => ({ kind: 'basic', username, password });
const config = (auths: DockerConfigJson['auths']): DockerConfigJson => ({ auths });

test('Docker Hub keys in every spelling match Docker Hub images', (t) => {
  for (const key of ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'https://registry-1.docker.io/v2/', 'http://docker.io']) {
    const plan = planCredentials(ref('busybox'), [config({ [key]: { auth: b64('hub:pw') } })]);
    t.deepEqual(plan, [basic('hub', 'pw')], key);
    t.deepEqual(planCredentials(ref('team/app:1'), [config({ [key]: { auth: b64('hub:pw') } })]), [basic('hub', 'pw')], key);
  }
});

test('a host key matches that host and port only', (t) => {
  const secrets = [config({ 'registry.example.com': { username: 'u', password: 'p' }, 'localhost:5000': { auth: b64('l:q') } })];
  t.deepEqual(planCredentials(ref('registry.example.com/team/app'), secrets), [basic('u', 'p')]);
  t.deepEqual(planCredentials(ref('registry.example.com:5000/team/app'), secrets), []);
  t.deepEqual(planCredentials(ref('localhost:5000/x'), secrets), [basic('l', 'q')]);
  t.deepEqual(planCredentials(ref('localhost:5001/x'), secrets), []);
  t.deepEqual(planCredentials(ref('busybox'), secrets), []);
  t.deepEqual(planCredentials(ref('other.example.com/app'), secrets), []);
});

test('URL keys lose scheme, /v1/ and /v2/; path keys match repository prefixes, most specific first', (t) => {
  const secrets = [
    config({
      'https://registry.example.com/v2/': { auth: b64('host:1') },
      'registry.example.com/team': { auth: b64('team:2') },
      'registry.example.com/team/app': { auth: b64('app:3') },
    }),
  ];
  t.deepEqual(planCredentials(ref('registry.example.com/team/app:v1'), secrets), [basic('app', '3'), basic('team', '2'), basic('host', '1')]);
  t.deepEqual(planCredentials(ref('registry.example.com/team/other'), secrets), [basic('team', '2'), basic('host', '1')]);
  t.deepEqual(planCredentials(ref('registry.example.com/teams/x'), secrets), [basic('host', '1')]);
});

test('glob keys match one host label per star, after exact keys', (t) => {
  const secrets = [config({ '*.example.com': { auth: b64('glob:1') }, 'a.example.com': { auth: b64('exact:2') } })];
  t.deepEqual(planCredentials(ref('a.example.com/app'), secrets), [basic('exact', '2'), basic('glob', '1')]);
  t.deepEqual(planCredentials(ref('b.example.com/app'), secrets), [basic('glob', '1')]);
  t.deepEqual(planCredentials(ref('x.b.example.com/app'), secrets), []);
});

test('credentials from several secrets keep their order, duplicates dropped', (t) => {
  const podSecret = config({ 'reg.io': { auth: b64('pod:1') } });
  const saSecret = config({ 'reg.io': { auth: b64('sa:2') } });
  const same = config({ 'https://reg.io': { username: 'pod', password: '1' } });
  t.deepEqual(planCredentials(ref('reg.io/app'), [podSecret, saSecret, same]), [basic('pod', '1'), basic('sa', '2')]);
});

test('auth wins over username/password; passwords may contain colons; broken entries are skipped', (t) => {
  const secrets = [
    config({
      'a.io': { auth: b64('user:pa:ss'), username: 'ignored', password: 'ignored' },
      'b.io': { auth: b64('no-colon') },
      'c.io': {},
      'd.io': { identitytoken: 'refresh-me', username: '00000000-0000-0000-0000-000000000000' },
      'e.io': { registrytoken: 'ready' },
    }),
  ];
  t.deepEqual(planCredentials(ref('a.io/app'), secrets), [basic('user', 'pa:ss')]);
  t.deepEqual(planCredentials(ref('b.io/app'), secrets), []);
  t.deepEqual(planCredentials(ref('c.io/app'), secrets), []);
  t.deepEqual(planCredentials(ref('d.io/app'), secrets), [
    { kind: 'refresh', username: '00000000-0000-0000-0000-000000000000', refreshToken: 'refresh-me' },
  ]);
  t.deepEqual(planCredentials(ref('e.io/app'), secrets), [{ kind: 'bearer', token: 'ready' }]);
});

test('at most 8 credentials are tried', (t) => {
  const secrets = Array.from({ length: 12 }, (_, i) => config({ 'reg.io': { auth: b64(`u${i}:p`) } }));
  t.is(planCredentials(ref('reg.io/app'), secrets).length, 8);
});

test('a malformed config (no auths, not an object) contributes nothing', (t) => {
  const odd = [{} as DockerConfigJson, { auths: null } as unknown as DockerConfigJson, config({ 'reg.io': 'x' as never })];
  t.deepEqual(planCredentials(ref('reg.io/app'), odd), []);
});

test('parseDockerConfig reads .dockerconfigjson and legacy .dockercfg, and refuses anything else', (t) => {
  t.deepEqual(parseDockerConfig('{"auths":{"reg.io":{"auth":"eDp5"}}}'), { auths: { 'reg.io': { auth: 'eDp5' } } });
  t.deepEqual(parseDockerConfig('{"reg.io":{"auth":"eDp5"}}'), { auths: { 'reg.io': { auth: 'eDp5' } } });
  t.is(parseDockerConfig('not json'), undefined);
  t.is(parseDockerConfig('[]'), undefined);
  t.is(parseDockerConfig('{"auths":[]}'), undefined);
});
