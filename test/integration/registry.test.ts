import test from 'ava';
import { OCI_INDEX, OCI_MANIFEST, pushImage, pushManifest } from '../helpers/registry.ts';
import { registryAuth, registryHost, uniqueName } from '../helpers/stack.ts';

interface Manifest {
  readonly config: { readonly digest: string };
}

interface ImageConfig {
  readonly config: { readonly Entrypoint: string[] | null; readonly Cmd: string[] | null };
}

interface JsonReply<T> {
  readonly body: T;
  readonly type: string;
}

async function getJson<T>(url: string, accept: string, authorization?: string): Promise<JsonReply<T>> {
  const response = await fetch(url, { headers: { accept, ...(authorization === undefined ? {} : { authorization }) } });
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return { body: (await response.json()) as T, type: response.headers.get('content-type') ?? '' };
}

test('an image pushed to the registry reads back with its Entrypoint and Cmd', async (t) => {
  const host = registryHost();
  const repo = `${uniqueName('team')}/app`;
  await pushImage(host, repo, 'v1', { entrypoint: ['/bin/app', '--serve'], cmd: ['--port', '8080'] });

  const manifest = await getJson<Manifest>(`http://${host}/v2/${repo}/manifests/v1`, OCI_MANIFEST);
  t.is(manifest.type, OCI_MANIFEST);
  const config = await getJson<ImageConfig>(`http://${host}/v2/${repo}/blobs/${manifest.body.config.digest}`, '*/*');
  t.deepEqual(config.body.config.Entrypoint, ['/bin/app', '--serve']);
  t.deepEqual(config.body.config.Cmd, ['--port', '8080']);
});

test('a multi-arch index resolves to the platform image it lists', async (t) => {
  const host = registryHost();
  const repo = `${uniqueName('team')}/multi`;
  const amd64 = await pushImage(host, repo, 'amd64', { entrypoint: ['/amd64/app'] });
  const arm64 = await pushImage(host, repo, 'arm64', { entrypoint: ['/arm64/app'], architecture: 'arm64' });
  await pushManifest(host, repo, 'v1', OCI_INDEX, { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [amd64, arm64] });

  const index = await getJson<{ manifests: { digest: string; platform: { architecture: string } }[] }>(
    `http://${host}/v2/${repo}/manifests/v1`,
    OCI_INDEX,
  );
  const arm = index.body.manifests.find((entry) => entry.platform.architecture === 'arm64');
  if (arm === undefined) return t.fail('the index lost its arm64 entry');
  const manifest = await getJson<Manifest>(`http://${host}/v2/${repo}/manifests/${arm.digest}`, OCI_MANIFEST);
  const config = await getJson<ImageConfig>(`http://${host}/v2/${repo}/blobs/${manifest.body.config.digest}`, '*/*');
  t.deepEqual(config.body.config.Entrypoint, ['/arm64/app']);
});

test('the htpasswd registry refuses anonymous pulls and serves authenticated ones', async (t) => {
  const auth = registryAuth();
  if (auth === undefined) return t.fail('the test stack started no authenticated registry');
  const repo = `${uniqueName('private')}/app`;
  const anonymous = await fetch(`http://${auth.host}/v2/`);
  t.is(anonymous.status, 401);
  t.regex(anonymous.headers.get('www-authenticate') ?? '', /^Basic /);
  await pushImage(auth.host, repo, 'v1', { cmd: ['serve'] }, auth);
  const basic = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  const manifest = await getJson<Manifest>(`http://${auth.host}/v2/${repo}/manifests/v1`, OCI_MANIFEST, basic);
  const config = await getJson<ImageConfig>(`http://${auth.host}/v2/${repo}/blobs/${manifest.body.config.digest}`, '*/*', basic);
  t.deepEqual(config.body.config.Cmd, ['serve']);
  const unauthorized = await fetch(`http://${auth.host}/v2/${repo}/manifests/v1`, { headers: { accept: OCI_MANIFEST } });
  t.is(unauthorized.status, 401);
});
