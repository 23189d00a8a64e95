// `npm run build:images`: the piggy (controller) and piggy-env (launcher) images, each an OCI image
// index for linux/amd64 and linux/arm64, without a Docker daemon. Inputs are downloaded once into the
// cache (Node binaries from npm, Debian packages); the images are assembled by crane in a scratch
// registry on 127.0.0.1, written as OCI image layouts (<out>/piggy, <out>/piggy-env) and, with
// `push`, copied to `<push repository>/piggy:<tag>` and `<push repository>/piggy-env:<tag>`. The same
// sources give the same digests: fixed mtimes (the HEAD commit's time), sorted entries, owner 0:0,
// recorded package versions, deterministic piggy-env executables.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensurePiggyEnvBuild, IMAGE_LAUNCHER_DIR } from '../build-piggy-env.ts';
import { cacheDir, readVersions, repoRoot } from '../local/procs.ts';
import { assembleImage, type AssembledImage, type ImageConfig, type PlatformInput } from './assemble.ts';
import { APP_BUNDLE, bundleController, CONTROLLER_ENV, CONTROLLER_NODE_FLAGS, NODE_PATH, RUN_AS, writeControllerRoots } from './controller-root.ts';
import { Crane, ensureCrane, startScratchRegistry } from './crane.ts';
import { ensureDebianRuntime, type DebianRuntime } from './debian.ts';
import { ensureNodeDist, type NodeDist } from './node-dist.ts';
import { ALL_ARCHES, type Arch } from './platform.ts';
import { parsePushTarget, type PushedImage, pushImage } from './push.ts';

const execFileAsync = promisify(execFile);
export const IMAGE_NAMES = ['piggy', 'piggy-env'] as const;
export type ImageName = (typeof IMAGE_NAMES)[number];
const DEFAULT_SOURCE = 'https://github.com/piggysec/piggy';

export interface BuildImagesOptions {
  /** Where the OCI layouts and images.json go (default dist/images). */
  readonly outDir: string;
  /** `REGISTRY/REPO[:TAG]`: push REPO/piggy:TAG and REPO/piggy-env:TAG. */
  readonly push?: string;
  readonly refreshPackages?: boolean;
  readonly log: (line: string) => void;
}

export interface BuiltImage extends Omit<AssembledImage, 'reference'> {
  readonly name: ImageName;
  /** OCI image layout folder; its index.json names the index `tag`. */
  readonly layout: string;
  readonly tag: string;
  readonly pushed?: PushedImage;
}

export interface ImagesSummary {
  readonly version: string;
  readonly revision: string;
  readonly created: string;
  readonly images: Readonly<Record<ImageName, BuiltImage>>;
  readonly inputs: { readonly node: readonly NodeDist[]; readonly debian: Readonly<Record<string, readonly string[]>> };
  readonly seconds: Readonly<Record<'inputs' | 'assemble' | 'layout' | 'push' | 'total', number>>;
}

async function git(args: string[]): Promise<string> {
  return (await execFileAsync('git', args, { cwd: repoRoot })).stdout.trim();
}

async function sourceInfo(): Promise<{ version: string; revision: string; epoch: number; source: string }> {
  const { version } = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const head = await git(['rev-parse', 'HEAD']);
  const dirty = (await git(['status', '--porcelain', '--untracked-files=no'])) !== '';
  const epoch = Number(process.env.SOURCE_DATE_EPOCH ?? (await git(['log', '-1', '--format=%ct'])));
  const source = process.env.PIGGY_IMAGE_SOURCE ?? (await git(['remote', 'get-url', 'origin']).catch(() => DEFAULT_SOURCE));
  return { version, revision: dirty ? `${head}-dirty` : head, epoch, source };
}

const seconds = (from: number, to = Date.now()) => Math.round((to - from) / 100) / 10;

/** Writes the OCI layout of `reference` into `dir`, naming the index `tag` (org.opencontainers.image.ref.name). */
async function writeLayout(crane: Crane, reference: string, dir: string, tag: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await crane.run(['pull', '--format=oci', reference, dir]);
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: { annotations?: Record<string, string> }[] };
  for (const manifest of index.manifests) manifest.annotations = { ...manifest.annotations, 'org.opencontainers.image.ref.name': tag };
  await writeFile(join(dir, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
}

async function platformInputs(work: string, node: Record<Arch, NodeDist>, runtime: Record<Arch, DebianRuntime>, log: BuildImagesOptions['log']): Promise<Record<ImageName, PlatformInput[]>> {
  const bundle = await bundleController(repoRoot);
  const controller: PlatformInput[] = [];
  const launcher: PlatformInput[] = [];
  for (const arch of ALL_ARCHES) {
    const roots = await writeControllerRoots(join(work, 'roots', arch), { runtime: runtime[arch], node: node[arch], bundle });
    const packages = runtime[arch].packages.map((p) => `${p.name}=${p.version}`).join(' ');
    controller.push({ arch, layers: roots.layers, labels: { 'com.piggysec.debian-packages': packages, 'com.piggysec.nodejs': node[arch].package } });
    const env = await ensurePiggyEnvBuild({ arch, log });
    launcher.push({ arch, layers: [env.imageRoot], labels: env.packages.length > 0 ? { 'com.piggysec.debian-packages': env.packages.join(' ') } : {} });
  }
  return { piggy: controller, 'piggy-env': launcher };
}

function imageConfigs(info: Awaited<ReturnType<typeof sourceInfo>>): Record<ImageName, ImageConfig> {
  const labels = (title: string, description: string) => ({
    'org.opencontainers.image.title': title,
    'org.opencontainers.image.description': description,
    'org.opencontainers.image.version': info.version,
    'org.opencontainers.image.revision': info.revision,
    'org.opencontainers.image.source': info.source,
    'org.opencontainers.image.licenses': 'Apache-2.0',
    'org.opencontainers.image.created': new Date(info.epoch * 1000).toISOString(),
  });
  return {
    piggy: {
      entrypoint: [NODE_PATH, APP_BUNDLE],
      cmd: ['controller'],
      user: RUN_AS,
      workdir: '/',
      // The V8 flags go in NODE_OPTIONS, not the entrypoint, so a deployment can set its own (extraEnv).
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', NODE_ENV: 'production', ...CONTROLLER_ENV, NODE_OPTIONS: CONTROLLER_NODE_FLAGS.join(' ') },
      labels: labels('piggy', 'The piggy controller: AWSSecret operator and injection webhook and secret proxy'),
    },
    'piggy-env': {
      entrypoint: [`${IMAGE_LAUNCHER_DIR}/piggy-env`],
      user: RUN_AS,
      workdir: '/',
      env: {},
      // zstd: 35 MiB instead of crane's 47 MiB gzip; every node that starts an injected pod pulls it.
      compression: 'zstd',
      labels: labels('piggy-env', 'The piggy-env launcher: mounted as an image volume it runs in place at /piggy; its entrypoint with install fills an emptyDir'),
    },
  };
}

/** Builds both images; see the header. */
export async function buildImages(options: BuildImagesOptions): Promise<ImagesSummary> {
  const started = Date.now();
  const target = options.push === undefined ? undefined : parsePushTarget(options.push);
  const info = await sourceInfo();
  const tag = target?.tag ?? info.version;
  const cache = cacheDir();
  const nodeVersion = readVersions().NODE_VERSION ?? process.version.slice(1);
  if (`v${nodeVersion}` !== process.version) throw new Error(`run with Node ${nodeVersion} (versions.env NODE_VERSION): this is ${process.version}; eval "$(scripts/setup-node.sh)"`);
  const crane = new Crane(await ensureCrane(options.log));
  const node = {} as Record<Arch, NodeDist>;
  const runtime = {} as Record<Arch, DebianRuntime>;
  for (const arch of ALL_ARCHES) {
    node[arch] = await ensureNodeDist(cache, arch, nodeVersion, options.log);
    runtime[arch] = await ensureDebianRuntime(cache, arch, { refresh: options.refreshPackages === true, log: options.log });
  }
  await mkdir(options.outDir, { recursive: true });
  const work = await mkdtemp(join(options.outDir, '.build-'));
  const registry = await startScratchRegistry(crane.binary, join(work, 'registry'));
  try {
    const inputs = await platformInputs(work, node, runtime, options.log);
    const inputsDone = Date.now();
    const configs = imageConfigs(info);
    const assembled = {} as Record<ImageName, AssembledImage>;
    for (const name of IMAGE_NAMES) {
      options.log(`images: assembling ${name} (${ALL_ARCHES.join(', ')})`);
      assembled[name] = await assembleImage(crane, `${registry.address}/${name}`, tag, inputs[name], configs[name], { work, mtime: info.epoch });
    }
    const assembleDone = Date.now();
    for (const name of IMAGE_NAMES) await writeLayout(crane, assembled[name].reference, join(options.outDir, name), tag);
    const layoutDone = Date.now();
    const images = {} as Record<ImageName, BuiltImage>;
    for (const name of IMAGE_NAMES) {
      const { reference, ...image } = assembled[name];
      const pushed = target === undefined ? undefined : await pushImage(crane, reference, target, name, image.digest, options.log);
      images[name] = { name, ...image, layout: join(options.outDir, name), tag, ...(pushed === undefined ? {} : { pushed }) };
    }
    const summary: ImagesSummary = {
      version: info.version,
      revision: info.revision,
      created: new Date(info.epoch * 1000).toISOString(),
      images,
      inputs: { node: ALL_ARCHES.map((arch) => node[arch]), debian: Object.fromEntries(ALL_ARCHES.map((arch) => [arch, runtime[arch].packages.map((p) => `${p.name}=${p.version}`)])) },
      seconds: { inputs: seconds(started, inputsDone), assemble: seconds(inputsDone, assembleDone), layout: seconds(assembleDone, layoutDone), push: seconds(layoutDone), total: seconds(started) },
    };
    await writeFile(join(options.outDir, 'images.json'), `${JSON.stringify(summary, null, 2)}\n`);
    return summary;
  } finally {
    await registry.stop();
    await rm(work, { recursive: true, force: true });
  }
}
