// The image resolver against the stack's real registries (plain HTTP on 127.0.0.1: the open one and
// the htpasswd one).
import { createServer } from 'node:net';
import { PassThrough } from 'node:stream';
import test from 'ava';
import { createLogger } from '../../src/shared/logger.ts';
import { buildPinnedImage } from '../../src/webhook/image/reference.ts';
import { createImageResolver, type ImageResolverDeps, type ImageResolverOptions } from '../../src/webhook/image/resolver.ts';
import type { DockerConfigJson, ImageContext } from '../../src/webhook/image/types.ts';
import { OCI_INDEX, pushBlob, pushImage, pushManifest, type Descriptor } from '../helpers/registry.ts';
import { registryAuth, registryHost, uniqueName } from '../helpers/stack.ts';

const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
const CANARY = `canary-${uniqueName('pw')}`;

const context = (pullSecrets: DockerConfigJson[] = [], extra: Partial<ImageContext> = {}): ImageContext => ({ namespace: 'default', pullSecrets, ...extra });
const codeOf = (error: unknown): unknown => (error as { code?: unknown }).code;

/** A fetch that counts requests by kind and method, and the peak number in flight. */
function countingFetch(): { fetch: typeof fetch; count: (pattern: RegExp, method?: string) => number; peak: () => number } {
  const seen: { method: string; url: string }[] = [];
  let inFlight = 0;
  let peak = 0;
  const counting: typeof fetch = async (input, init) => {
    seen.push({ method: init?.method ?? 'GET', url: input instanceof Request ? input.url : input.toString() });
    inFlight += 1;
    peak = Math.max(peak, inFlight);
    try {
      return await fetch(input, init);
    } finally {
      inFlight -= 1;
    }
  };
  return {
    fetch: counting,
    count: (pattern, method) => seen.filter((entry) => pattern.test(entry.url) && (method === undefined || entry.method === method)).length,
    peak: () => peak,
  };
}

function resolver(options: ImageResolverOptions = {}, deps: ImageResolverDeps = {}): ReturnType<typeof createImageResolver> {
  return createImageResolver({ requestTimeoutMs: 10_000, resolveTimeoutMs: 20_000, ...options }, deps);
}

async function pushDockerImage(host: string, repo: string, tag: string, entrypoint: string[], architecture: string): Promise<Descriptor> {
  const config = Buffer.from(JSON.stringify({ architecture, os: 'linux', config: { Entrypoint: entrypoint }, rootfs: { type: 'layers', diff_ids: [] } }));
  const configDigest = await pushBlob(host, repo, config);
  const manifest = { schemaVersion: 2, mediaType: DOCKER_MANIFEST, config: { mediaType: DOCKER_CONFIG, digest: configDigest, size: config.length }, layers: [] };
  const descriptor = await pushManifest(host, repo, tag, DOCKER_MANIFEST, manifest);
  return { ...descriptor, platform: { os: 'linux', architecture } };
}

test('a single-arch image yields its Entrypoint, Cmd, Env and manifest digest', async (t) => {
  const host = registryHost();
  const repo = `${uniqueName('single')}/app`;
  const pushed = await pushImage(host, repo, 'v1', { entrypoint: ['/bin/app', '--serve'], cmd: ['--port', '8080'], env: ['PATH=/bin'] });
  const shared = resolver();
  const coldStart = performance.now();
  const image = await shared.resolve(`${host}/${repo}:v1`, context());
  const cold = performance.now() - coldStart;
  t.deepEqual(image, { entrypoint: ['/bin/app', '--serve'], cmd: ['--port', '8080'], env: ['PATH=/bin'], digest: pushed.digest });
  const warmStart = performance.now();
  t.deepEqual(await shared.resolve(`${host}/${repo}:v1`, context()), image);
  t.log(`single image: cold ${cold.toFixed(2)} ms, cached ${(performance.now() - warmStart).toFixed(3)} ms`);
});

test('an OCI index resolves to the linux/amd64 image by default and to linux/arm64 when asked', async (t) => {
  const host = registryHost();
  const repo = `${uniqueName('multi')}/app`;
  const amd64 = await pushImage(host, repo, 'amd64', { entrypoint: ['/amd64/app'] });
  const arm64 = await pushImage(host, repo, 'arm64', { entrypoint: ['/arm64/app'], architecture: 'arm64' });
  const index = await pushManifest(host, repo, 'v1', OCI_INDEX, { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [amd64, arm64] });
  const shared = resolver();
  const amd = await shared.resolve(`${host}/${repo}:v1`, context());
  t.deepEqual([amd.entrypoint, amd.digest, amd.indexDigest], [['/amd64/app'], amd64.digest, index.digest]);
  const arm = await shared.resolve(`${host}/${repo}:v1`, context([], { platform: { os: 'linux', architecture: 'arm64' } }));
  t.deepEqual([arm.entrypoint, arm.digest, arm.indexDigest], [['/arm64/app'], arm64.digest, index.digest]);
  const configured = await resolver({ platform: { os: 'linux', architecture: 'aarch64' } }).resolve(`${host}/${repo}:v1`, context());
  t.deepEqual(configured.entrypoint, ['/arm64/app']);
});

test('Docker v2 manifest lists and manifests resolve like OCI ones', async (t) => {
  const host = registryHost();
  const repo = `${uniqueName('docker')}/app`;
  const amd64 = await pushDockerImage(host, repo, 'amd64', ['/docker/amd64'], 'amd64');
  const arm64 = await pushDockerImage(host, repo, 'arm64', ['/docker/arm64'], 'arm64');
  await pushManifest(host, repo, 'v1', DOCKER_LIST, { schemaVersion: 2, mediaType: DOCKER_LIST, manifests: [amd64, arm64] });
  const shared = resolver();
  t.deepEqual((await shared.resolve(`${host}/${repo}:v1`, context())).entrypoint, ['/docker/amd64']);
  t.deepEqual((await shared.resolve(`${host}/${repo}:v1`, context([], { platform: { os: 'linux', architecture: 'arm64' } }))).entrypoint, ['/docker/arm64']);
  t.deepEqual((await shared.resolve(`${host}/${repo}:arm64`, context())).entrypoint, ['/docker/arm64'], 'a single manifest is taken as is');
});

test('the htpasswd registry: the right pull secret reads, none and a wrong one are ERR_IMAGE_UNAUTHORIZED', async (t) => {
  const auth = registryAuth();
  if (auth === undefined) return t.fail('the test stack started no authenticated registry');
  const repo = `${uniqueName('private')}/app`;
  await pushImage(auth.host, repo, 'v1', { entrypoint: ['/private/app'] }, auth);
  const image = `${auth.host}/${repo}:v1`;
  const right: DockerConfigJson = { auths: { [`http://${auth.host}`]: { auth: Buffer.from(`${auth.username}:${auth.password}`).toString('base64') } } };
  const wrong: DockerConfigJson = { auths: { [auth.host]: { username: auth.username, password: CANARY } } };
  const unrelated: DockerConfigJson = { auths: { 'registry.example.com': { username: 'x', password: CANARY } } };
  const lines = new PassThrough();
  let logged = '';
  lines.on('data', (chunk: Buffer) => (logged += chunk.toString()));
  const shared = resolver({}, { logger: createLogger({ level: 'trace', destination: lines }) });

  t.deepEqual((await shared.resolve(image, context([unrelated, right]))).entrypoint, ['/private/app']);
  const none = await t.throwsAsync(shared.resolve(image, context([unrelated])));
  t.is(codeOf(none), 'ERR_IMAGE_UNAUTHORIZED');
  t.is(none.message, `image "${image}": registry ${auth.host} answered 401 for the manifest for tag v1: no pull secret has credentials for this registry`);
  const refused = await t.throwsAsync(shared.resolve(image, context([wrong])));
  t.is(codeOf(refused), 'ERR_IMAGE_UNAUTHORIZED');
  t.regex(refused.message, /1 matching credential from the pull secrets was refused$/);
  // A wrong credential first, the right one second: the second is used.
  t.deepEqual((await resolver().resolve(image, context([wrong, right]))).entrypoint, ['/private/app']);

  for (const error of [none, refused]) {
    const visible = JSON.stringify({ message: error.message, details: (error as { details?: unknown }).details, stack: error.stack });
    t.false(visible.includes(CANARY), 'the canary password is not in the error');
    t.false(visible.includes(auth.password), 'the real password is not in the error');
  }
  t.true(logged.includes('image resolved'), 'the logger was used');
  t.false(logged.includes(CANARY), 'the canary password is not in the logs');
  t.false(logged.includes(auth.password), 'the real password is not in the logs');
});

test('100 concurrent resolves of one tag cost one manifest and one config fetch', async (t) => {
  const host = registryHost();
  const repo = `${uniqueName('hot')}/app`;
  await pushImage(host, repo, 'v1', { entrypoint: ['/hot'] });
  const counter = countingFetch();
  const shared = resolver({}, { fetch: counter.fetch });
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: 100 }, () => shared.resolve(`${host}/${repo}:v1`, context())));
  const cold = performance.now() - started;
  t.true(results.every((image) => image.entrypoint[0] === '/hot'));
  t.is(counter.count(/\/manifests\//), 1);
  t.is(counter.count(/\/blobs\//), 1);
  const warmStart = performance.now();
  const rounds = 1_000;
  for (let i = 0; i < rounds; i += 1) await shared.resolve(`${host}/${repo}:v1`, context());
  const warm = (performance.now() - warmStart) / rounds;
  t.is(counter.count(/\/manifests\//), 1, 'cached resolves send nothing');
  t.log(`100 concurrent cold resolves: ${cold.toFixed(1)} ms; cached resolve: ${(warm * 1000).toFixed(1)} µs each`);
});

test('100 distinct images resolve concurrently, at most maxConcurrentRequests requests at a time', async (t) => {
  const host = registryHost();
  const base = uniqueName('many');
  await Promise.all(Array.from({ length: 100 }, (_, i) => pushImage(host, `${base}/app${i}`, 'v1', { entrypoint: [`/app${i}`] })));
  const counter = countingFetch();
  const shared = resolver({ maxConcurrentRequests: 16 }, { fetch: counter.fetch });
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) => shared.resolve(`${host}/${base}/app${i}:v1`, context())));
  const elapsed = performance.now() - started;
  t.deepEqual(results.map((image) => image.entrypoint[0]), Array.from({ length: 100 }, (_, i) => `/app${i}`));
  t.is(counter.count(/\/manifests\//), 100);
  t.true(counter.peak() <= 16, `peak ${counter.peak()}`);
  t.true(counter.peak() > 1, 'distinct images do run concurrently');
  t.log(`100 distinct cold images: ${elapsed.toFixed(0)} ms, peak ${counter.peak()} requests in flight`);
});

test('a re-pushed tag is read again after the TTL (a HEAD), never before', async (t) => {
  const host = registryHost();
  const repo = `${uniqueName('retag')}/app`;
  await pushImage(host, repo, 'v1', { entrypoint: ['/first'] });
  let now = 1_000_000;
  const counter = countingFetch();
  const shared = resolver({ tagTtlMs: 50 }, { fetch: counter.fetch, now: () => now });
  t.deepEqual((await shared.resolve(`${host}/${repo}:v1`, context())).entrypoint, ['/first']);
  await pushImage(host, repo, 'v1', { entrypoint: ['/second'] });
  t.deepEqual((await shared.resolve(`${host}/${repo}:v1`, context())).entrypoint, ['/first'], 'within the TTL the tag is not re-read');
  now += 50;
  t.deepEqual((await shared.resolve(`${host}/${repo}:v1`, context())).entrypoint, ['/second']);
  t.is(counter.count(/\/manifests\/v1$/, 'HEAD'), 1, 'revalidation is a HEAD');
  now += 50;
  const before = counter.count(/\/blobs\//);
  t.deepEqual((await shared.resolve(`${host}/${repo}:v1`, context())).entrypoint, ['/second']);
  t.is(counter.count(/\/blobs\//), before, 'an unchanged digest is not fetched again');
});

test('a digest reference and the pinned image resolve to the same config', async (t) => {
  const host = registryHost();
  const repo = `${uniqueName('pin')}/app`;
  await pushImage(host, repo, 'v1', { entrypoint: ['/pinned'] });
  const shared = resolver();
  const byTag = await shared.resolve(`${host}/${repo}:v1`, context());
  const pinned = buildPinnedImage(`${host}/${repo}:v1`, byTag.indexDigest ?? byTag.digest);
  t.is(pinned, `${host}/${repo}:v1@${byTag.digest}`);
  t.deepEqual(await shared.resolve(pinned, context()), byTag);
  t.deepEqual(await shared.resolve(`${host}/${repo}@${byTag.digest}`, context()), byTag);
  const missing = await t.throwsAsync(shared.resolve(`${host}/${repo}:nope`, context()));
  t.is(codeOf(missing), 'ERR_IMAGE_NOT_FOUND');
  t.regex(missing.message, /has no manifest for tag nope \(404\)$/);
});

test('a registry that is down is ERR_IMAGE_UNREACHABLE, fast and well inside the timeout', async (t) => {
  const port = await new Promise<number>((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
  const image = `127.0.0.1:${port}/team/app:v1`;
  const started = performance.now();
  const error = await t.throwsAsync(createImageResolver().resolve(image, context()));
  const elapsed = performance.now() - started;
  t.is(codeOf(error), 'ERR_IMAGE_UNREACHABLE');
  t.is((error as { kind?: unknown }).kind, 'transient');
  t.is(error.message, `image "${image}": cannot reach 127.0.0.1:${port}: the connection failed (ECONNREFUSED)`);
  t.true(elapsed < 5_000, `took ${elapsed} ms`);
  t.log(`registry down: denied after ${elapsed.toFixed(1)} ms`);
});
