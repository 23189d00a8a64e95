// `npm run build:images` end to end: both images built twice into two folders give the same index
// digests; what is inside runs (the controller's Node, libraries and bundle on amd64 natively and on
// arm64 under qemu-user; the arm64 launcher installs itself as the webhook's init container does and
// execve's a program); the push lands the same digests in the stack's registry, readable by the
// webhook's own image resolver for both platforms.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { ensurePiggyEnvBuild, IMAGE_LAUNCHER_DIR, piggyEnvDist } from '../../scripts/build-piggy-env.ts';
import { buildImages, type ImagesSummary } from '../../scripts/images/build.ts';
import { APP_BUNDLE, CONTROLLER_ENV, CONTROLLER_NODE_FLAGS, NODE_PATH } from '../../scripts/images/controller-root.ts';
import { QEMU_AARCH64 } from '../../scripts/images/piggy-env-target.ts';
import { ARCHES, type Arch } from '../../scripts/images/platform.ts';
import { INSTALL_ARGS } from '../../src/shared/injection-contract.ts';
import { createImageResolver } from '../../src/webhook/image/resolver.ts';
import { registryHost, uniqueName } from '../helpers/stack.ts';

const execFileAsync = promisify(execFile);
const missing = [QEMU_AARCH64, ARCHES.arm64.strip, 'patchelf', 'dpkg-deb'].filter((tool) => !['/usr/bin', '/bin', '/usr/local/bin'].some((dir) => existsSync(join(dir, tool))));
if (missing.length > 0) console.warn(`images: SKIPPED — this machine lacks: ${missing.join(', ')} (scripts/ensure-system.sh)`);
const imagesTest = missing.length === 0 ? test.serial : test.skip;

interface Exec {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function exec(command: string, args: readonly string[], env: Record<string, string> = { PATH: '/usr/bin:/bin' }): Promise<Exec> {
  try {
    const { stdout, stderr } = await execFileAsync(command, [...args], { env, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? String(error) };
  }
}

const scratch = await mkdtemp(join(tmpdir(), 'piggy-images-test-'));
test.after.always(() => rm(scratch, { recursive: true, force: true }));
let pushRepository = '';
let first: Promise<ImagesSummary> | undefined;
const log = () => undefined;
/** The first build (pushed to the stack's registry), shared by the tests. */
function firstBuild(): Promise<ImagesSummary> {
  pushRepository ||= `${registryHost()}/${uniqueName('images')}`;
  return (first ??= buildImages({ outDir: join(scratch, 'a'), push: pushRepository, log }));
}

interface OciDescriptor {
  readonly digest: string;
  readonly mediaType?: string;
  readonly platform?: { readonly architecture: string };
}

const blob = (layout: string, digest: string) => join(layout, 'blobs', 'sha256', digest.replace('sha256:', ''));
const readJson = async <T>(file: string) => JSON.parse(await readFile(file, 'utf8')) as T;

/** Unpacks the `arch` image of an OCI layout into a fresh folder; returns it, its config and `tar -tv` lines. */
async function unpackPlatform(layout: string, arch: Arch): Promise<{ root: string; config: { config: Record<string, unknown> }; listing: string[] }> {
  const top = await readJson<{ manifests: OciDescriptor[] }>(join(layout, 'index.json'));
  const index = await readJson<{ manifests: OciDescriptor[] }>(blob(layout, top.manifests[0]!.digest));
  const entry = index.manifests.find((manifest) => manifest.platform?.architecture === arch);
  if (entry === undefined) throw new Error(`no ${arch} image in ${layout}`);
  const manifest = await readJson<{ config: OciDescriptor; layers: OciDescriptor[] }>(blob(layout, entry.digest));
  const root = await mkdtemp(join(scratch, `root-${arch}-`));
  const listing: string[] = [];
  for (const layer of manifest.layers) {
    // GNU tar reads either compression (the piggy-env image's layers are zstd, the controller's gzip).
    const decompress = layer.mediaType?.endsWith('+zstd') === true ? '--zstd' : '--gzip';
    await execFileAsync('tar', ['-x', decompress, '-f', blob(layout, layer.digest), '-C', root]);
    const { stdout } = await execFileAsync('tar', ['-tv', decompress, '-f', blob(layout, layer.digest), '--numeric-owner', '--full-time'], { maxBuffer: 16 * 1024 * 1024 });
    listing.push(...stdout.trim().split('\n'));
  }
  return { root, config: await readJson(blob(layout, manifest.config.digest)), listing };
}

const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

imagesTest('the piggy-env image is at most 40 MiB compressed per architecture: zstd layers', async (t) => {
  t.timeout(20 * 60_000);
  const summary = await firstBuild();
  for (const platform of summary.images['piggy-env'].platforms) {
    t.log(`piggy-env ${platform.platform}: ${(platform.compressedBytes / 1024 / 1024).toFixed(1)} MiB compressed, ${(platform.uncompressedBytes / 1024 / 1024).toFixed(1)} MiB unpacked`);
    t.true(platform.compressedBytes <= 40 * 1024 * 1024, `${platform.platform}: ${platform.compressedBytes} bytes`);
  }
  const layout = summary.images['piggy-env'].layout;
  const top = await readJson<{ manifests: OciDescriptor[] }>(join(layout, 'index.json'));
  const index = await readJson<{ manifests: OciDescriptor[] }>(blob(layout, top.manifests[0]!.digest));
  for (const entry of index.manifests) {
    const manifest = await readJson<{ layers: OciDescriptor[] }>(blob(layout, entry.digest));
    t.deepEqual(manifest.layers.map((layer) => layer.mediaType), ['application/vnd.oci.image.layer.v1.tar+zstd']);
  }
});

imagesTest('two builds from the same sources give the same index digests', async (t) => {
  t.timeout(20 * 60_000);
  const a = await firstBuild();
  const b = await buildImages({ outDir: join(scratch, 'b'), log });
  for (const name of ['piggy', 'piggy-env'] as const) {
    t.regex(a.images[name].digest, /^sha256:[0-9a-f]{64}$/);
    t.is(b.images[name].digest, a.images[name].digest, `${name} index digest`);
    t.deepEqual(b.images[name].platforms.map((p) => p.platform), ['linux/amd64', 'linux/arm64']);
    t.deepEqual(b.images[name].platforms, a.images[name].platforms);
  }
  t.not(a.images.piggy.digest, a.images['piggy-env'].digest);
});

imagesTest('the piggy-env executables are byte-identical when rebuilt from scratch (deterministic SEA blobs)', async (t) => {
  t.timeout(10 * 60_000);
  for (const arch of ['amd64', 'arm64'] as const) {
    const cached = await ensurePiggyEnvBuild({ arch, log });
    const fresh = await ensurePiggyEnvBuild({ arch, log, dist: join(scratch, `piggy-env-${arch}`) });
    t.false(fresh.reused, `${arch} was rebuilt`);
    t.is(fresh.buildId, cached.buildId);
    t.is(cached.dir, piggyEnvDist(arch));
    t.is(await sha256(fresh.executable), await sha256(cached.executable), `${arch} launcher`);
  }
});

imagesTest('the controller image runs piggy on amd64 natively and on arm64 under qemu-user, failing only on missing configuration', async (t) => {
  t.timeout(10 * 60_000);
  const summary = await firstBuild();
  for (const arch of ['amd64', 'arm64'] as const) {
    const { root, config, listing } = await unpackPlatform(summary.images.piggy.layout, arch);
    t.deepEqual(config.config.Entrypoint, [NODE_PATH, APP_BUNDLE]);
    for (const [name, value] of Object.entries({ ...CONTROLLER_ENV, NODE_OPTIONS: CONTROLLER_NODE_FLAGS.join(' ') })) {
      t.true((config.config.Env as string[]).includes(`${name}=${value}`), name);
    }
    t.deepEqual(config.config.Cmd, ['controller']);
    t.is(config.config.User, '65532:65532');
    const labels = config.config.Labels as Record<string, string>;
    t.is(labels['org.opencontainers.image.version'], summary.version);
    t.is(labels['org.opencontainers.image.revision'], summary.revision);
    t.is(labels['org.opencontainers.image.licenses'], 'Apache-2.0');
    t.truthy(labels['org.opencontainers.image.source']);
    t.regex(labels['com.piggysec.debian-packages'] ?? '', /libc6=2\.36/);
    t.true(listing.length > 5);
    t.deepEqual([...new Set(listing.map((line) => line.split(/\s+/)[1]))], ['0/0'], 'every entry is owned by 0:0');
    t.false(listing.some((line) => / (bin\/sh|usr\/bin\/apt|usr\/bin\/dpkg)/.test(line)), 'no shell, no package manager');
    const names = ARCHES[arch];
    const [command, ...prefix] =
      arch === 'amd64'
        ? [join(root, names.loaderPath), '--library-path', join(root, 'lib', names.triplet), join(root, NODE_PATH)]
        : [QEMU_AARCH64, '-L', root, join(root, NODE_PATH)];
    const help = await exec(command, [...prefix, join(root, APP_BUNDLE), 'help']);
    t.is(help.code, 0, `${arch}: ${help.stderr}`);
    t.regex(help.stdout, /usage: piggy <command>/);
    const reported = await exec(command, [...prefix, '-p', 'process.arch']);
    t.is(reported.stdout.trim(), names.node);
    const controller = await exec(command, [...prefix, ...CONTROLLER_NODE_FLAGS, join(root, APP_BUNDLE), 'controller'], { PATH: '/usr/bin:/bin', KUBECONFIG: '/nonexistent' });
    t.is(controller.code, 1, `${arch}: ${controller.stderr}`);
    t.regex(controller.stderr, /invalid configuration \(2 problems\)/);
    t.regex(controller.stderr, /TLS_CERT_FILE: is required/);
  }
});

imagesTest('the arm64 piggy-env image installs its launcher under qemu-user, which then execve\'s the (native) program', async (t) => {
  t.timeout(10 * 60_000);
  const summary = await firstBuild();
  const { root, config } = await unpackPlatform(summary.images['piggy-env'].layout, 'arm64');
  const entrypoint = config.config.Entrypoint as string[];
  t.deepEqual(entrypoint, [`${IMAGE_LAUNCHER_DIR}/piggy-env`]);
  t.is(config.config.User, '65532:65532');
  const launcher = join(root, entrypoint[0]!.slice(1));
  const head = await readFile(launcher);
  t.is(head.readUInt16LE(18), 183, 'e_machine is EM_AARCH64');
  t.not((await exec(launcher, ['--', '/bin/true'])).code, 0, 'it cannot run natively on this amd64 machine');
  // The image as an image volume: its launcher runs in place (here under qemu, the image root as its /).
  const inPlace = await exec(QEMU_AARCH64, ['-L', root, launcher, '--', '/bin/sh', '-c', 'echo "in place $1"', 'sh', '$(GREETING)'], { PATH: '/usr/bin:/bin', GREETING: 'hello' });
  t.is(inPlace.code, 0, inPlace.stderr);
  t.is(inPlace.stdout.trim(), 'in place hello');
  // The init container: the image's entrypoint with `install <dir>` (here under qemu, the image root as its /).
  const volume = join(scratch, 'volume-arm64', 'piggy');
  await mkdir(volume, { recursive: true });
  t.deepEqual(INSTALL_ARGS, ['install', '/piggy-volume', '--mount-path', '/piggy']);
  const install = await exec(QEMU_AARCH64, ['-L', root, launcher, 'install', volume]);
  t.is(install.code, 0, install.stderr);
  const installed = join(volume, 'piggy-env');
  t.true(existsSync(join(volume, 'lib', ARCHES.arm64.loader)));
  // The app container: the launcher expands $(VAR) as the kubelet would and replaces itself with the program.
  const ran = await exec(QEMU_AARCH64, [installed, '--', '/bin/sh', '-c', 'echo "$1 $PIGGY_UID"', 'sh', '$(GREETING)-from-arm64'], { PATH: '/usr/bin:/bin', GREETING: 'hello', PIGGY_UID: 'removed' });
  t.is(ran.code, 0, ran.stderr);
  t.is(ran.stdout.trim(), 'hello-from-arm64', 'expanded by the launcher, PIGGY_* removed, then exec');
  const exit = await exec(QEMU_AARCH64, [installed, '--', '/bin/sh', '-c', 'exit 7']);
  t.is(exit.code, 7, 'the program\'s exit code');
  const unresolved = await exec(QEMU_AARCH64, [installed, '--', '/bin/true'], { PATH: '/usr/bin:/bin', SECRET: 'piggy:db-password' });
  t.not(unresolved.code, 0, 'a literal piggy: value never reaches the program');
});

imagesTest('--push puts both indexes in the registry with the built digests, readable by the webhook for both platforms', async (t) => {
  t.timeout(10 * 60_000);
  const summary = await firstBuild();
  for (const name of ['piggy', 'piggy-env'] as const) {
    const pushed = summary.images[name].pushed;
    if (pushed === undefined) return t.fail(`${name} was not pushed`);
    t.is(pushed.repository, `${pushRepository}/${name}`);
    t.is(pushed.tag, summary.version);
    t.is(pushed.digest, summary.images[name].digest);
    for (const architecture of ['amd64', 'arm64']) {
      const resolver = createImageResolver({ platform: { os: 'linux', architecture }, requestTimeoutMs: 10_000, resolveTimeoutMs: 20_000 });
      const image = await resolver.resolve(`${pushed.repository}:${pushed.tag}`, { namespace: 'default', pullSecrets: [] });
      t.is(image.indexDigest, pushed.digest);
      t.is(image.digest, summary.images[name].platforms.find((p) => p.platform === `linux/${architecture}`)?.digest ?? 'missing');
      t.deepEqual(image.entrypoint, name === 'piggy' ? [NODE_PATH, APP_BUNDLE] : [`${IMAGE_LAUNCHER_DIR}/piggy-env`]);
    }
  }
});
