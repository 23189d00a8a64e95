import { createHash } from 'node:crypto';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly platform?: { readonly os: string; readonly architecture: string };
}

export interface BasicAuth {
  readonly username: string;
  readonly password: string;
}

export interface ImageSpec {
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  readonly env?: readonly string[];
  readonly os?: string;
  readonly architecture?: string;
}

const digestOf = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

function headers(auth: BasicAuth | undefined, extra: Record<string, string> = {}): Record<string, string> {
  if (auth === undefined) return extra;
  return { ...extra, authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` };
}

/** Monolithic blob upload (POST then PUT with the digest), as the distribution API specifies. */
export async function pushBlob(host: string, repo: string, bytes: Buffer, auth?: BasicAuth): Promise<string> {
  const digest = digestOf(bytes);
  const start = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: headers(auth) });
  if (start.status !== 202) throw new Error(`blob upload start: HTTP ${start.status}`);
  const location = new URL(start.headers.get('location') ?? '', `http://${host}`);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, {
    method: 'PUT',
    headers: headers(auth, { 'content-type': 'application/octet-stream' }),
    body: bytes,
  });
  if (put.status !== 201) throw new Error(`blob upload: HTTP ${put.status}`);
  return digest;
}

export async function pushManifest(
  host: string,
  repo: string,
  reference: string,
  mediaType: string,
  body: unknown,
  auth?: BasicAuth,
): Promise<Descriptor> {
  const bytes = Buffer.from(JSON.stringify(body));
  const response = await fetch(`http://${host}/v2/${repo}/manifests/${reference}`, {
    method: 'PUT',
    headers: headers(auth, { 'content-type': mediaType }),
    body: bytes,
  });
  if (response.status !== 201) throw new Error(`manifest upload: HTTP ${response.status} ${await response.text()}`);
  return { mediaType, digest: digestOf(bytes), size: bytes.length };
}

/** Pushes a one-layer image whose config carries the given Entrypoint/Cmd; returns its manifest descriptor. */
export async function pushImage(host: string, repo: string, tag: string, spec: ImageSpec, auth?: BasicAuth): Promise<Descriptor> {
  const config = Buffer.from(
    JSON.stringify({
      architecture: spec.architecture ?? 'amd64',
      os: spec.os ?? 'linux',
      config: { Entrypoint: spec.entrypoint ?? null, Cmd: spec.cmd ?? null, Env: spec.env ?? [] },
      rootfs: { type: 'layers', diff_ids: [] },
    }),
  );
  const layer = Buffer.from(`layer of ${repo}:${tag} ${JSON.stringify(spec)}`);
  const configDigest = await pushBlob(host, repo, config, auth);
  const layerDigest = await pushBlob(host, repo, layer, auth);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: configDigest, size: config.length },
    layers: [{ mediaType: OCI_LAYER, digest: layerDigest, size: layer.length }],
  };
  const descriptor = await pushManifest(host, repo, tag, OCI_MANIFEST, manifest, auth);
  return {
    ...descriptor,
    platform: { os: spec.os ?? 'linux', architecture: spec.architecture ?? 'amd64' },
  };
}
