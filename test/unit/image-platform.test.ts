import test from 'ava';
import { parseChallenge } from '../../src/webhook/image/challenge.ts';
import { computeDigest, verifyDigest } from '../../src/webhook/image/digest.ts';
import { MEDIA_TYPES, parseImageConfig, parseManifest, type Descriptor } from '../../src/webhook/image/manifest.ts';
import { describePlatforms, parsePlatform, selectPlatformManifest } from '../../src/webhook/image/platform.ts';
import type { Platform } from '../../src/webhook/image/types.ts';

const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const entry = (n: number, os: string, architecture: string, variant?: string): Descriptor => ({
  mediaType: MEDIA_TYPES.ociManifest,
  digest: digest(n),
  size: 1,
  platform: variant === undefined ? { os, architecture } : { os, architecture, variant },
});

const index: Descriptor[] = [
  entry(1, 'linux', 'amd64'),
  entry(2, 'linux', 'arm64', 'v8'),
  entry(3, 'linux', 'arm', 'v6'),
  entry(4, 'linux', 'arm', 'v7'),
  entry(5, 'windows', 'amd64'),
  entry(6, 'unknown', 'unknown'),
];

const pick = (manifests: readonly Descriptor[], platform: Platform): string | undefined => selectPlatformManifest(manifests, platform)?.digest;

test('the target platform is picked, with containerd normalization', (t) => {
  t.is(pick(index, { os: 'linux', architecture: 'amd64' }), digest(1));
  t.is(pick(index, { os: 'linux', architecture: 'x86_64' }), digest(1));
  t.is(pick(index, { os: 'linux', architecture: 'arm64' }), digest(2));
  t.is(pick(index, { os: 'linux', architecture: 'aarch64' }), digest(2));
  t.is(pick(index, { os: 'linux', architecture: 'arm64', variant: 'v8' }), digest(2));
  t.is(pick(index, { os: 'linux', architecture: 'arm' }), digest(4));
  t.is(pick(index, { os: 'linux', architecture: 'arm', variant: 'v7' }), digest(4));
  t.is(pick(index, { os: 'linux', architecture: 'arm', variant: 'v6' }), digest(3));
  t.is(pick(index, { os: 'windows', architecture: 'amd64' }), digest(5));
  t.is(pick(index, { os: 'linux', architecture: 's390x' }), undefined);
});

test('an arm/v7 node runs the closest older arm variant; an arm/v5 node does not run v6', (t) => {
  const old = [entry(3, 'linux', 'arm', 'v6'), entry(7, 'linux', 'arm', 'v5')];
  t.is(pick(old, { os: 'linux', architecture: 'arm', variant: 'v7' }), digest(3));
  t.is(pick(old, { os: 'linux', architecture: 'arm', variant: 'v5' }), digest(7));
  t.is(pick([entry(3, 'linux', 'arm', 'v6')], { os: 'linux', architecture: 'arm', variant: 'v5' }), undefined);
});

test('amd64 micro-architecture levels: a v3 node takes v3, then v2, then the baseline; a baseline node never takes v3', (t) => {
  const levels = [entry(1, 'linux', 'amd64'), entry(8, 'linux', 'amd64', 'v3')];
  t.is(pick(levels, { os: 'linux', architecture: 'amd64', variant: 'v3' }), digest(8));
  t.is(pick(levels, { os: 'linux', architecture: 'amd64', variant: 'v2' }), digest(1));
  t.is(pick([entry(8, 'linux', 'amd64', 'v3')], { os: 'linux', architecture: 'amd64' }), undefined);
});

test('an arm64 entry without a variant matches arm64/v8', (t) => {
  t.is(pick([entry(2, 'linux', 'arm64')], { os: 'linux', architecture: 'arm64', variant: 'v8' }), digest(2));
});

test('describePlatforms lists what an index offers, skipping attestations', (t) => {
  t.is(describePlatforms(index), 'linux/amd64, linux/arm64, linux/arm/v6, linux/arm/v7, windows/amd64');
  t.is(describePlatforms([]), 'no platform images');
});

test('parsePlatform reads os/arch[/variant]', (t) => {
  t.deepEqual(parsePlatform('linux/arm64'), { ok: true, value: { os: 'linux', architecture: 'arm64' } });
  t.deepEqual(parsePlatform('linux/arm/v7'), { ok: true, value: { os: 'linux', architecture: 'arm', variant: 'v7' } });
  for (const bad of ['linux', 'linux/', '/amd64', 'a/b/c/d', 'linux/arm/']) t.false(parsePlatform(bad).ok, bad);
});

const bytes = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value));

test('manifests and indexes of both OCI and Docker media types parse', (t) => {
  const config = { mediaType: 'application/vnd.docker.container.image.v1+json', digest: digest(9), size: 10 };
  t.deepEqual(parseManifest(bytes({ schemaVersion: 2, mediaType: MEDIA_TYPES.dockerManifest, config, layers: [] }), null), { kind: 'image', config });
  t.deepEqual(parseManifest(bytes({ schemaVersion: 2, config, layers: [] }), MEDIA_TYPES.ociManifest), { kind: 'image', config });
  const list = parseManifest(bytes({ schemaVersion: 2, mediaType: MEDIA_TYPES.dockerList, manifests: [entry(1, 'linux', 'amd64')] }), null);
  t.deepEqual(list, { kind: 'index', manifests: [entry(1, 'linux', 'amd64')] });
  const oci = parseManifest(bytes({ schemaVersion: 2, manifests: [entry(2, 'linux', 'arm64', 'v8')] }), `${MEDIA_TYPES.ociIndex}; charset=utf-8`);
  t.is(oci.kind, 'index');
});

test('malformed manifests are ERR_IMAGE_INVALID with a reason', (t) => {
  const cases: [Uint8Array, RegExp][] = [
    [Buffer.from('nope'), /not valid JSON/],
    [bytes([1]), /not a JSON object/],
    [bytes({ schemaVersion: 1, name: 'x', fsLayers: [] }), /schema 1/],
    [bytes({ mediaType: MEDIA_TYPES.ociIndex }), /no manifests list/],
    [bytes({ mediaType: MEDIA_TYPES.ociManifest, config: { digest: 'nope' } }), /valid digest/],
    [bytes({ mediaType: 'application/vnd.example+json' }), /not an image manifest or index/],
  ];
  for (const [body, message] of cases) {
    const error = t.throws(() => parseManifest(body, null));
    t.is((error as { code?: string }).code, 'ERR_IMAGE_INVALID');
    t.regex(error.message, message);
  }
});

test('the image config yields Entrypoint, Cmd, Env, User and WorkingDir; nulls become empty', (t) => {
  const full = parseImageConfig(
    bytes({ config: { Entrypoint: ['/bin/app'], Cmd: ['--port', '80'], Env: ['PATH=/bin'], User: '1000:1000', WorkingDir: '/srv' } }),
  );
  t.deepEqual(full, { entrypoint: ['/bin/app'], cmd: ['--port', '80'], env: ['PATH=/bin'], user: '1000:1000', workingDir: '/srv' });
  const empty = parseImageConfig(bytes({ config: { Entrypoint: null, Cmd: null, User: '' } }));
  t.deepEqual(empty, { entrypoint: [], cmd: [], env: undefined, user: undefined, workingDir: undefined });
  t.deepEqual(parseImageConfig(bytes({ architecture: 'amd64' })).entrypoint, []);
  t.throws(() => parseImageConfig(bytes({ config: { Cmd: 'sh -c x' } })), { message: /Cmd is not a list of strings/ });
  t.throws(() => parseImageConfig(bytes({ config: [] })), { message: /malformed "config"/ });
});

test('WWW-Authenticate challenges parse, quoted or not, with other schemes around', (t) => {
  t.deepEqual(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'), {
    scheme: 'bearer',
    params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' },
  });
  t.deepEqual(parseChallenge('Basic realm="Registry Realm"'), { scheme: 'basic', params: { realm: 'Registry Realm' } });
  t.deepEqual(parseChallenge('basic realm=x'), { scheme: 'basic', params: { realm: 'x' } });
  t.deepEqual(parseChallenge('Negotiate abc==, Bearer realm="r\\"q"'), { scheme: 'bearer', params: { realm: 'r"q' } });
  t.deepEqual(parseChallenge('Foo a=b, Bearer realm=r'), { scheme: 'bearer', params: { realm: 'r' } });
  t.is(parseChallenge('Negotiate'), undefined);
  t.is(parseChallenge(null), undefined);
  t.is(parseChallenge('Bearer realm="unterminated'), undefined);
});

test('digests are checked against what was asked for and what the registry announced', (t) => {
  const body = Buffer.from('{"a":1}');
  const actual = computeDigest(body);
  t.is(verifyDigest(body, undefined, null, 'manifest'), actual);
  t.is(verifyDigest(body, actual, actual, 'manifest'), actual);
  t.throws(() => verifyDigest(body, digest(1), null, 'manifest'), { message: /does not match its digest/ });
  t.throws(() => verifyDigest(body, undefined, digest(1), 'manifest'), { message: /announced/ });
  const sha512 = computeDigest(body, 'sha512');
  t.is(verifyDigest(body, undefined, sha512, 'manifest'), sha512);
  t.throws(() => verifyDigest(body, undefined, 'sha512:x', 'manifest'), { message: /announced/ });
});
