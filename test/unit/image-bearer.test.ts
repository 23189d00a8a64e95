// The resolver against a small registry + token server run by this test (Bearer auth cannot be
// exercised with the stack's htpasswd registry): token flow, credential fallback, token reuse and
// renewal, OAuth2 refresh tokens, redirects that must not carry credentials, realm checks.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { createImageResolver, type ImageResolverOptions } from '../../src/webhook/image/resolver.ts';
import type { DockerConfigJson, ImageContext } from '../../src/webhook/image/types.ts';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const CANARY = `canary-${randomBytes(6).toString('hex')}`;

const sha = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

interface Seen {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | undefined;
}

interface FakeOptions {
  /** 'bearer' (default): a token from /token; 'open': no auth at all. */
  auth?: 'bearer' | 'open';
  /** Repositories readable with an anonymous token. */
  publicRepos?: string[];
  tokenLifeS?: number;
  /** Sends blob downloads to this base URL (another origin). */
  blobRedirect?: string;
}

class FakeRegistry {
  readonly seen: Seen[] = [];
  readonly blobs = new Map<string, Buffer>();
  readonly manifests = new Map<string, { type: string; body: Buffer }>();
  readonly revoked = new Set<string>();
  readonly tokens = new Map<string, string>();
  options: FakeOptions;
  server: Server;
  constructor(options: FakeOptions = {}) {
    this.options = options;
    this.server = createServer((req, res) => void this.#handle(req, res));
  }
  get host(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this;
  }
  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
  count(prefix: string): number {
    return this.seen.filter((entry) => entry.path.startsWith(prefix)).length;
  }
  addImage(repo: string, tag: string, config: object, platform = { os: 'linux', architecture: 'amd64' }): string {
    const configBytes = Buffer.from(JSON.stringify({ ...platform, config, rootfs: { type: 'layers', diff_ids: [] } }));
    this.blobs.set(sha(configBytes), configBytes);
    const manifest = { schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(configBytes), size: configBytes.length }, layers: [] };
    return this.putManifest(repo, tag, OCI_MANIFEST, manifest);
  }
  putManifest(repo: string, tag: string, type: string, body: object): string {
    const bytes = Buffer.from(JSON.stringify(body));
    this.manifests.set(`${repo}:${tag}`, { type, body: bytes });
    this.manifests.set(`${repo}:${sha(bytes)}`, { type, body: bytes });
    return sha(bytes);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${this.host}`);
    this.seen.push({ method: req.method ?? '', path: url.pathname, authorization: req.headers.authorization });
    let body = '';
    for await (const chunk of req) body += String(chunk);
    if (url.pathname === '/token') return this.#token(req, url, body, res);
    const match = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (match === null) return end(res, 404);
    const [, repo = '', kind, reference = ''] = match;
    if (this.options.auth !== 'open') {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const granted = token === undefined || this.revoked.has(token) ? undefined : this.tokens.get(token);
      if (granted !== `repository:${repo}:pull`) {
        res.setHeader('www-authenticate', `Bearer realm="http://${this.host}/token",service="fake",scope="repository:${repo}:pull"`);
        return end(res, 401);
      }
    }
    if (kind === 'blobs') {
      if (this.options.blobRedirect !== undefined && !url.searchParams.has('direct')) {
        res.setHeader('location', `${this.options.blobRedirect}/v2/${repo}/blobs/${reference}?direct=1`);
        return end(res, 307);
      }
      const blob = this.blobs.get(reference);
      return blob === undefined ? end(res, 404) : end(res, 200, blob, 'application/octet-stream');
    }
    const manifest = this.manifests.get(`${repo}:${reference}`);
    if (manifest === undefined) return end(res, 404);
    res.setHeader('docker-content-digest', sha(manifest.body));
    return end(res, 200, req.method === 'HEAD' ? undefined : manifest.body, manifest.type);
  }

  #token(req: IncomingMessage, url: URL, body: string, res: ServerResponse): void {
    const form = new URLSearchParams(body);
    const scope = url.searchParams.get('scope') ?? form.get('scope') ?? '';
    const repo = /^repository:(.+):pull$/.exec(scope)?.[1] ?? '';
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const decoded = basic === undefined ? undefined : Buffer.from(basic, 'base64').toString();
    const allowed =
      decoded === `alice:${CANARY}` ||
      (req.method === 'POST' && form.get('grant_type') === 'refresh_token' && form.get('refresh_token') === CANARY) ||
      (decoded === undefined && req.method === 'GET' && (this.options.publicRepos ?? []).includes(repo));
    if (!allowed) return end(res, 401);
    const token = randomBytes(8).toString('hex');
    this.tokens.set(token, scope);
    const reply = req.method === 'POST' ? { access_token: token, expires_in: this.options.tokenLifeS ?? 300 } : { token, expires_in: this.options.tokenLifeS ?? 300 };
    end(res, 200, Buffer.from(JSON.stringify(reply)), 'application/json');
  }
}

function end(res: ServerResponse, status: number, body?: Buffer, type?: string): void {
  if (type !== undefined) res.setHeader('content-type', type);
  if (body !== undefined) res.setHeader('content-length', body.length);
  res.statusCode = status;
  res.end(body);
}

const alice = (host: string, password = CANARY): DockerConfigJson => ({ auths: { [host]: { username: 'alice', password } } });
const context = (pullSecrets: DockerConfigJson[] = [], extra: Partial<ImageContext> = {}): ImageContext => ({ namespace: 'team', pullSecrets, ...extra });
// Generous: these tests are about outcomes, and CI machines can be slow. The timeout tests set their own.
const fast: ImageResolverOptions = { requestTimeoutMs: 10_000, resolveTimeoutMs: 20_000 };

async function withRegistry(options: FakeOptions, run: (registry: FakeRegistry) => Promise<void>): Promise<void> {
  const registry = await new FakeRegistry(options).start();
  try {
    await run(registry);
  } finally {
    await registry.stop();
  }
}

test('Bearer: a token is fetched with the pull secret, then reused for the next image of the repository', async (t) => {
  await withRegistry({}, async (registry) => {
    registry.addImage('team/app', 'v1', { Entrypoint: ['/app'], Cmd: ['serve'] });
    registry.addImage('team/app', 'v2', { Entrypoint: ['/app2'] });
    const resolver = createImageResolver(fast);
    const image = await resolver.resolve(`${registry.host}/team/app:v1`, context([alice(registry.host)]));
    t.deepEqual([image.entrypoint, image.cmd], [['/app'], ['serve']]);
    t.is(registry.count('/token'), 1);
    const tokenRequest = registry.seen.find((entry) => entry.path === '/token');
    t.is(tokenRequest?.authorization, `Basic ${Buffer.from(`alice:${CANARY}`).toString('base64')}`);
    const before = registry.seen.length;
    t.deepEqual((await resolver.resolve(`${registry.host}/team/app:v2`, context([alice(registry.host)]))).entrypoint, ['/app2']);
    const after = registry.seen.slice(before);
    t.is(registry.count('/token'), 1, 'the cached token is reused');
    t.true(after.every((entry) => entry.authorization?.startsWith('Bearer ') === true), 'the known challenge is answered up front');
  });
});

test('Bearer: a public repository resolves with an anonymous token', async (t) => {
  await withRegistry({ publicRepos: ['library/busybox'] }, async (registry) => {
    registry.addImage('library/busybox', 'latest', { Cmd: ['sh'] });
    const resolver = createImageResolver(fast);
    t.deepEqual((await resolver.resolve(`${registry.host}/library/busybox`, context())).cmd, ['sh']);
    t.is(registry.seen.find((entry) => entry.path === '/token')?.authorization, undefined);
  });
});

test('Bearer: refused credentials are ERR_IMAGE_UNAUTHORIZED naming the host, never the password', async (t) => {
  await withRegistry({}, async (registry) => {
    registry.addImage('team/app', 'v1', { Cmd: ['x'] });
    const resolver = createImageResolver(fast);
    const image = `${registry.host}/team/app:v1`;
    const wrong = await t.throwsAsync(resolver.resolve(image, context([alice(registry.host, `wrong-${CANARY}`)])));
    t.is((wrong as { code?: string }).code, 'ERR_IMAGE_UNAUTHORIZED');
    t.regex(wrong.message, new RegExp(`^image "${image}": registry ${registry.host} answered 401 .*1 matching credential from the pull secrets was refused`));
    t.regex(wrong.message, new RegExp(`\\(the token server ${registry.host} refused the credentials \\(401\\)\\)$`));
    const none = await t.throwsAsync(resolver.resolve(image, context()));
    t.regex(none.message, /no pull secret has credentials for this registry/);
    for (const error of [wrong, none]) {
      t.false(JSON.stringify({ message: error.message, details: (error as { details?: unknown }).details }).includes(CANARY));
    }
  });
});

test('Bearer: when one credential is refused the next matching one is tried', async (t) => {
  await withRegistry({}, async (registry) => {
    registry.addImage('team/app', 'v1', { Cmd: ['ok'] });
    const resolver = createImageResolver(fast);
    const secrets = [alice(registry.host, 'stale'), alice(registry.host)];
    t.deepEqual((await resolver.resolve(`${registry.host}/team/app:v1`, context(secrets))).cmd, ['ok']);
    t.is(registry.count('/token'), 2);
  });
});

test('Bearer: an identitytoken is exchanged as an OAuth2 refresh token', async (t) => {
  await withRegistry({}, async (registry) => {
    registry.addImage('team/app', 'v1', { Cmd: ['ok'] });
    const secret: DockerConfigJson = { auths: { [registry.host]: { username: '00000000-0000-0000-0000-000000000000', identitytoken: CANARY } } };
    t.deepEqual((await createImageResolver(fast).resolve(`${registry.host}/team/app:v1`, context([secret]))).cmd, ['ok']);
    t.is(registry.seen.find((entry) => entry.path === '/token')?.method, 'POST');
  });
});

test('Bearer: a revoked cached token is replaced by a fresh one once', async (t) => {
  await withRegistry({}, async (registry) => {
    registry.addImage('team/app', 'v1', { Cmd: ['one'] });
    registry.addImage('team/app', 'v2', { Cmd: ['two'] });
    const resolver = createImageResolver(fast);
    await resolver.resolve(`${registry.host}/team/app:v1`, context([alice(registry.host)]));
    for (const token of registry.tokens.keys()) registry.revoked.add(token);
    t.deepEqual((await resolver.resolve(`${registry.host}/team/app:v2`, context([alice(registry.host)]))).cmd, ['two']);
    t.is(registry.count('/token'), 2);
  });
});

test('a blob redirected to another origin is fetched without the Authorization header', async (t) => {
  await withRegistry({ auth: 'open' }, async (storage) => {
    await withRegistry({ blobRedirect: `http://${storage.host}` }, async (registry) => {
      registry.addImage('team/app', 'v1', { Entrypoint: ['/redirected'] });
      for (const [digest, blob] of registry.blobs) storage.blobs.set(digest, blob);
      const image = await createImageResolver(fast).resolve(`${registry.host}/team/app:v1`, context([alice(registry.host)]));
      t.deepEqual(image.entrypoint, ['/redirected']);
      const download = storage.seen.find((entry) => entry.path.includes('/blobs/'));
      t.truthy(download);
      t.is(download?.authorization, undefined);
    });
  });
});

test('an HTTPS registry whose realm is plain HTTP never receives the credentials there', async (t) => {
  await withRegistry({}, async (registry) => {
    registry.addImage('team/app', 'v1', { Cmd: ['x'] });
    // registry.example.com is HTTPS; the fetch passed in routes it to the local server, whose
    // challenge then names a plain-HTTP realm on a non-loopback name.
    const routed: typeof fetch = async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : input);
      if (url.host === 'registry.example.com') {
        const reply = await fetch(`http://${registry.host}${url.pathname}${url.search}`, init);
        const headers = new Headers(reply.headers);
        const challenge = headers.get('www-authenticate');
        if (challenge !== null) headers.set('www-authenticate', challenge.replace(`http://${registry.host}`, 'http://auth.example.com'));
        return new Response(reply.body, { status: reply.status, headers });
      }
      return fetch(input, init);
    };
    const error = await t.throwsAsync(
      createImageResolver(fast, { fetch: routed }).resolve('registry.example.com/team/app:v1', context([alice('registry.example.com')])),
    );
    t.is((error as { code?: string }).code, 'ERR_IMAGE_INVALID');
    t.regex(error.message, /token realm that is not HTTPS/);
    t.is(registry.count('/token'), 0);
  });
});

