// The resolver's transport against a small open registry run by this test: digests, platforms,
// status mapping, timeouts and budgets, stale-if-error, metrics.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { Registry } from 'prom-client';
import { createImageResolver, type ImageResolverOptions } from '../../src/webhook/image/resolver.ts';
import type { ImageContext } from '../../src/webhook/image/types.ts';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const sha = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

interface OpenOptions {
  /** Paths (prefix) that never get an answer. */
  hang?: string;
  /** Status to answer for every request. */
  status?: number;
}

/** A registry without auth: manifests by tag and digest, blobs by digest. */
class OpenRegistry {
  readonly seen: { method: string; path: string }[] = [];
  readonly blobs = new Map<string, Buffer>();
  readonly manifests = new Map<string, { type: string; body: Buffer }>();
  readonly options: OpenOptions;
  readonly server = createServer((req, res) => this.#handle(req, res));
  constructor(options: OpenOptions) {
    this.options = options;
  }
  get host(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  addImage(repo: string, tag: string, config: object): string {
    const bytes = Buffer.from(JSON.stringify({ os: 'linux', architecture: 'amd64', config, rootfs: { type: 'layers', diff_ids: [] } }));
    this.blobs.set(sha(bytes), bytes);
    const configDescriptor = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(bytes), size: bytes.length };
    return this.putManifest(repo, tag, OCI_MANIFEST, { schemaVersion: 2, mediaType: OCI_MANIFEST, config: configDescriptor, layers: [] });
  }
  putManifest(repo: string, tag: string, type: string, body: object): string {
    const bytes = Buffer.from(JSON.stringify(body));
    for (const reference of [tag, sha(bytes)]) this.manifests.set(`${repo}:${reference}`, { type, body: bytes });
    return sha(bytes);
  }
  #handle(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    this.seen.push({ method: req.method ?? '', path });
    if (this.options.hang !== undefined && path.startsWith(this.options.hang)) return;
    const match = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(path);
    const found = match === null ? undefined : match[2] === 'blobs' ? { type: 'application/octet-stream', body: this.blobs.get(match[3] ?? '') } : this.manifests.get(`${match[1] ?? ''}:${match[3] ?? ''}`);
    if (this.options.status !== undefined || found?.body === undefined) {
      res.writeHead(this.options.status ?? 404).end();
      return;
    }
    res.writeHead(200, { 'content-type': found.type, 'content-length': found.body.length, 'docker-content-digest': sha(found.body) });
    res.end(req.method === 'HEAD' ? undefined : found.body);
  }
}

async function withRegistry(options: OpenOptions, run: (registry: OpenRegistry) => Promise<void>): Promise<void> {
  const registry = new OpenRegistry(options);
  await new Promise<void>((resolve) => registry.server.listen(0, '127.0.0.1', resolve));
  try {
    await run(registry);
  } finally {
    registry.server.closeAllConnections();
    await new Promise((resolve) => registry.server.close(resolve));
  }
}

// Generous: these tests are about outcomes, and CI machines can be slow. The timeout tests set their own.
const fast: ImageResolverOptions = { requestTimeoutMs: 10_000, resolveTimeoutMs: 20_000 };
const context = (extra: Partial<ImageContext> = {}): ImageContext => ({ namespace: 'team', pullSecrets: [], ...extra });

test('a config blob that does not match its digest is ERR_IMAGE_INVALID', async (t) => {
  await withRegistry({}, async (registry) => {
    registry.addImage('team/app', 'v1', { Cmd: ['real'] });
    for (const digest of registry.blobs.keys()) registry.blobs.set(digest, Buffer.from('{"config":{"Cmd":["evil"]}}'));
    const error = await t.throwsAsync(createImageResolver(fast).resolve(`${registry.host}/team/app:v1`, context()));
    t.is((error as { code?: string }).code, 'ERR_IMAGE_INVALID');
    t.regex(error.message, /image config does not match its digest/);
  });
});


test('an index without the target platform is ERR_IMAGE_PLATFORM listing what it offers', async (t) => {
  await withRegistry({}, async (registry) => {
    const amd = registry.addImage('team/app', 'amd', { Cmd: ['amd'] });
    const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: amd, size: 1, platform: { os: 'linux', architecture: 'amd64' } }] };
    registry.putManifest('team/app', 'multi', OCI_INDEX, index);
    const resolver = createImageResolver(fast);
    const image = `${registry.host}/team/app:multi`;
    const error = await t.throwsAsync(resolver.resolve(image, context({ platform: { os: 'linux', architecture: 'arm64' } })));
    t.is((error as { code?: string }).code, 'ERR_IMAGE_PLATFORM');
    t.is(error.message, `image "${image}": the image index has no linux/arm64 image (it offers linux/amd64)`);
    const resolved = await resolver.resolve(image, context());
    t.deepEqual([resolved.cmd, resolved.digest], [['amd'], amd]);
    t.truthy(resolved.indexDigest);
  });
});


test('statuses map to codes: 404 not found, 503 unreachable (transient), 400 invalid', async (t) => {
  for (const [status, code, kind] of [
    [404, 'ERR_IMAGE_NOT_FOUND', 'terminal'],
    [503, 'ERR_IMAGE_UNREACHABLE', 'transient'],
    [429, 'ERR_IMAGE_UNREACHABLE', 'transient'],
    [400, 'ERR_IMAGE_INVALID', 'terminal'],
  ] as const) {
    await withRegistry({ status }, async (registry) => {
      const error = await t.throwsAsync(createImageResolver(fast).resolve(`${registry.host}/team/app:v1`, context()));
      t.is((error as { code?: string }).code, code, String(status));
      t.is((error as { kind?: string }).kind, kind, String(status));
      t.regex(error.message, new RegExp(`registry ${registry.host}`));
    });
  }
});


test('a registry that never answers is ERR_IMAGE_UNREACHABLE after the request timeout', async (t) => {
  await withRegistry({ hang: '/v2/' }, async (registry) => {
    const started = performance.now();
    const error = await t.throwsAsync(
      createImageResolver({ requestTimeoutMs: 300, resolveTimeoutMs: 20_000 }).resolve(`${registry.host}/team/app:v1`, context()),
    );
    const elapsed = performance.now() - started;
    t.is((error as { code?: string }).code, 'ERR_IMAGE_UNREACHABLE');
    t.regex(error.message, new RegExp(`${registry.host} did not answer within 300 ms`));
    t.true(elapsed >= 290 && elapsed < 5_000, `took ${elapsed} ms`);
  });
});


test('the resolve budget bounds the whole resolve, and the caller can give up earlier', async (t) => {
  await withRegistry({ hang: '/v2/' }, async (registry) => {
    const started = performance.now();
    const budget = await t.throwsAsync(
      createImageResolver({ requestTimeoutMs: 60_000, resolveTimeoutMs: 400 }).resolve(`${registry.host}/team/app:v1`, context()),
    );
    t.true(performance.now() - started < 10_000);
    t.is((budget as { code?: string }).code, 'ERR_IMAGE_UNREACHABLE');
    t.regex(budget.message, /within the 400 ms allowed to read the image/);
    const patient = createImageResolver({ requestTimeoutMs: 60_000, resolveTimeoutMs: 60_000 });
    const caller = await t.throwsAsync(patient.resolve(`${registry.host}/team/app:v2`, context({ signal: AbortSignal.timeout(50) })));
    t.regex(caller.message, /the admission gave up waiting for the registry/);
  });
});


test('while the registry is down an expired tag is served from the cache; a missing tag is not', async (t) => {
  await withRegistry({}, async (registry) => {
    registry.addImage('team/app', 'v1', { Cmd: ['cached'] });
    let now = 0;
    const resolver = createImageResolver({ ...fast, tagTtlMs: 1_000 }, { now: () => now });
    const image = `${registry.host}/team/app:v1`;
    t.deepEqual((await resolver.resolve(image, context())).cmd, ['cached']);
    registry.options.status = 503;
    now += 1_000;
    t.deepEqual((await resolver.resolve(image, context())).cmd, ['cached']);
    t.is(registry.seen.filter((entry) => entry.method === 'HEAD').length, 1);
    t.deepEqual((await resolver.resolve(image, context())).cmd, ['cached'], 'not re-asked before the retry interval');
    t.is(registry.seen.filter((entry) => entry.method === 'HEAD').length, 1);
    registry.options.status = 404;
    now += 1_000;
    const gone = await t.throwsAsync(resolver.resolve(image, context()));
    t.is((gone as { code?: string }).code, 'ERR_IMAGE_NOT_FOUND');
  });
});


test('a bad reference is ERR_IMAGE_REFERENCE without any request', async (t) => {
  let calls = 0;
  const resolver = createImageResolver(fast, { fetch: (...args) => ((calls += 1), fetch(...args)) });
  const error = await t.throwsAsync(resolver.resolve('Team/App:v1', context()));
  t.is((error as { code?: string }).code, 'ERR_IMAGE_REFERENCE');
  t.is(error.message, 'image "Team/App:v1": not a valid image reference: the repository name must be lower-case');
  t.is(calls, 0);
});


test('metrics count cache lookups, registry requests and resolves', async (t) => {
  await withRegistry({}, async (registry) => {
    registry.addImage('team/app', 'v1', { Cmd: ['x'] });
    const metrics = new Registry();
    const resolver = createImageResolver(fast, { metricsRegistry: metrics });
    await resolver.resolve(`${registry.host}/team/app:v1`, context());
    await resolver.resolve(`${registry.host}/team/app:v1`, context());
    const text = await metrics.metrics();
    t.regex(text, /piggy_image_cache_lookups_total\{cache="tag",outcome="miss"\} 1/);
    t.regex(text, /piggy_image_cache_lookups_total\{cache="tag",outcome="hit"\} 1/);
    t.regex(text, /piggy_image_registry_requests_total\{kind="manifest",code="200"\} 1/);
    t.regex(text, /piggy_image_registry_requests_total\{kind="blob",code="200"\} 1/);
    t.regex(text, /piggy_image_resolve_duration_seconds_count\{outcome="ok"\} 2/);
  });
});
