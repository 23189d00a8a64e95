import test from 'ava';
import { buildPinnedImage, formatReference, parseImageReference, type ImageReference } from '../../src/webhook/image/reference.ts';

const SHA = `sha256:${'a'.repeat(64)}`;

function parse(input: string): ImageReference {
  const result = parseImageReference(input);
  if (!result.ok) throw new Error(`${input}: ${result.error}`);
  return result.reference;
}

const normalized: [string, string][] = [
  ['busybox', 'docker.io/library/busybox:latest'],
  ['busybox:1.36', 'docker.io/library/busybox:1.36'],
  ['library/busybox', 'docker.io/library/busybox:latest'],
  ['kongz/piggy-env:1.0', 'docker.io/kongz/piggy-env:1.0'],
  ['docker.io/busybox', 'docker.io/library/busybox:latest'],
  ['index.docker.io/busybox', 'docker.io/library/busybox:latest'],
  ['registry-1.docker.io/team/app', 'docker.io/team/app:latest'],
  ['ghcr.io/kongz/piggy', 'ghcr.io/kongz/piggy:latest'],
  ['localhost/app', 'localhost/app:latest'],
  ['localhost:5000/x', 'localhost:5000/x:latest'],
  ['127.0.0.1:5000/team/app:v1', '127.0.0.1:5000/team/app:v1'],
  ['[::1]:5000/app:v1', '[::1]:5000/app:v1'],
  ['Registry.Example.com/app', 'registry.example.com/app:latest'],
  ['registry.example.com:443/a/b/c:tag_1.0-rc', 'registry.example.com:443/a/b/c:tag_1.0-rc'],
  [`busybox@${SHA}`, `docker.io/library/busybox@${SHA}`],
  [`busybox:1.36@${SHA}`, `docker.io/library/busybox@${SHA}`],
  [`host:5000/app:v1@${SHA}`, `host:5000/app@${SHA}`],
  ['a__b/c-d.e_f', 'docker.io/a__b/c-d.e_f:latest'],
];

for (const [input, expected] of normalized) {
  test(`"${input}" normalizes to ${expected}`, (t) => {
    t.is(formatReference(parse(input)), expected);
  });
}

test('a tag and a digest together keep both; the digest is what is fetched', (t) => {
  const reference = parse(`busybox:1.36@${SHA}`);
  t.is(reference.tag, '1.36');
  t.is(reference.digest, SHA);
});

test('a digest-only reference has no implied tag', (t) => {
  const reference = parse(`busybox@${SHA}`);
  t.is(reference.tag, undefined);
  t.is(reference.writtenTag, undefined);
});

test('"localhost:5000" alone is the Docker Hub image localhost with tag 5000, as in docker', (t) => {
  t.is(formatReference(parse('localhost:5000')), 'docker.io/library/localhost:5000');
});

const invalid: [string, RegExp][] = [
  ['', /empty/],
  [' busybox', /whitespace/],
  ['busy box', /whitespace/],
  ['https://registry.example.com/app', /not a URL/],
  ['Busybox', /lower-case/],
  ['docker.io/Team/app', /lower-case/],
  ['busybox:', /tag "" is invalid/],
  ['busybox:-x', /tag "-x" is invalid/],
  [`busybox:${'t'.repeat(129)}`, /tag/],
  ['busybox@sha256:abc', /64 lower-case hex/],
  [`busybox@sha256:${'A'.repeat(64)}`, /64 lower-case hex/],
  [`busybox@md5:${'a'.repeat(32)}`, /not supported/],
  ['busybox@', /digest "" is invalid/],
  ['registry.example.com/', /no repository/],
  ['team//app', /empty path component/],
  ['-team/app', /path component "-team"/],
  ['team/app_', /path component "app_"/],
  ['bad_host.example.com/app', /registry host "bad_host.example.com" is invalid/],
  ['a'.repeat(256), /longer than 255/],
];

for (const [input, message] of invalid) {
  test(`"${input.slice(0, 40)}" is rejected`, (t) => {
    const result = parseImageReference(input);
    if (result.ok) return t.fail(`accepted as ${formatReference(result.reference)}`);
    t.regex(result.error, message);
  });
}

test('pinning keeps the name and tag as written and appends the digest', (t) => {
  t.is(buildPinnedImage('busybox:1.36', SHA), `busybox:1.36@${SHA}`);
  t.is(buildPinnedImage('busybox', SHA), `busybox@${SHA}`);
  t.is(buildPinnedImage('localhost:5000/x:v1', SHA), `localhost:5000/x:v1@${SHA}`);
  const other = `sha256:${'b'.repeat(64)}`;
  t.is(buildPinnedImage(`busybox:1.36@${SHA}`, other), `busybox:1.36@${other}`);
  t.is(buildPinnedImage('Not Valid', SHA), 'Not Valid');
});
