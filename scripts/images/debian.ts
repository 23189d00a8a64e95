// Debian bookworm's glibc runtime packages for one architecture, without touching the host's apt:
// a private apt root under the cache (its own sources list, state and archive cache; the host's
// /etc/apt is neither read for sources nor written), `apt-get download`, then `dpkg-deb -x` into a
// sysroot. The resolved versions are recorded in packages.json and reused until `refresh` is asked
// for, so a rebuild takes the same bytes (a new Debian point release is a deliberate refresh).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { run } from '../local/procs.ts';
import { type Arch, ARCHES } from './platform.ts';

export const DEBIAN_SUITE = 'bookworm';
/**
 * What a dynamically linked Node.js needs: the C library and loader, libstdc++, libgcc_s (and
 * gcc-12-base, which holds the copyright file of the last two).
 */
export const RUNTIME_PACKAGES = ['libc6', 'libstdc++6', 'libgcc-s1', 'gcc-12-base'] as const;
const execFileAsync = promisify(execFile);
const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
const SOURCES = [
  `deb [signed-by=${KEYRING}] http://deb.debian.org/debian ${DEBIAN_SUITE} main`,
  `deb [signed-by=${KEYRING}] http://deb.debian.org/debian-security ${DEBIAN_SUITE}-security main`,
];

export interface DebianPackage {
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
  readonly file: string;
  readonly sha256: string;
}

export interface DebianRuntime {
  readonly arch: Arch;
  /** The packages unpacked into it (lib/<triplet>, usr/lib/<triplet>, the loader, copyright files). */
  readonly sysroot: string;
  readonly packages: readonly DebianPackage[];
}

type Log = (line: string) => void;

function aptOptions(root: string, debArch: string): string[] {
  const options: Record<string, string> = {
    'Dir::State': join(root, 'state'),
    'Dir::State::status': '/dev/null',
    'Dir::Cache': join(root, 'cache'),
    'Dir::Etc::SourceList': join(root, 'sources.list'),
    'Dir::Etc::SourceParts': '/dev/null',
    'Dir::Etc::Preferences': '/dev/null',
    'Dir::Etc::PreferencesParts': '/dev/null',
    'Dir::Etc::Trusted': '/dev/null',
    'Dir::Etc::TrustedParts': join(root, 'trusted.gpg.d'),
    'APT::Architecture': debArch,
    'APT::Architectures': debArch,
    'APT::Sandbox::User': 'root',
    'Debug::NoLocking': '1',
  };
  return Object.entries(options).flatMap(([key, value]) => ['-o', `${key}=${value}`]);
}

async function apt(args: string[], cwd?: string): Promise<void> {
  try {
    await execFileAsync('apt-get', args, { ...(cwd === undefined ? {} : { cwd }), maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    throw new Error(`apt-get ${args.filter((arg) => !arg.includes('=') && arg !== '-o').join(' ')} failed: ${stderr.trim()}`, { cause: error });
  }
}

async function download(root: string, arch: Arch, log: Log): Promise<DebianPackage[]> {
  const debArch = ARCHES[arch].debian;
  await rm(root, { recursive: true, force: true });
  for (const dir of ['state/lists/partial', 'cache/archives/partial', 'trusted.gpg.d', 'debs']) await mkdir(join(root, dir), { recursive: true });
  await writeFile(join(root, 'sources.list'), `${SOURCES.join('\n')}\n`);
  const options = aptOptions(root, debArch);
  log(`images: apt-get update (Debian ${DEBIAN_SUITE} ${debArch}, private apt root)`);
  await apt([...options, '-qq', 'update']);
  await apt([...options, '-qq', 'download', ...RUNTIME_PACKAGES.map((name) => `${name}:${debArch}`)], join(root, 'debs'));
  const packages: DebianPackage[] = [];
  for (const file of (await readdir(join(root, 'debs'))).sort()) {
    const match = /^([^_]+)_([^_]+)_([^_]+)\.deb$/.exec(file);
    if (match?.[1] === undefined || match[2] === undefined || match[3] === undefined) continue;
    const sha256 = createHash('sha256').update(await readFile(join(root, 'debs', file))).digest('hex');
    packages.push({ name: match[1], version: decodeURIComponent(match[2]), architecture: match[3], file, sha256 });
  }
  const missing = RUNTIME_PACKAGES.filter((name) => !packages.some((p) => p.name === name));
  if (missing.length > 0) throw new Error(`apt-get download left out ${missing.join(', ')} for ${debArch}`);
  await rm(join(root, 'state'), { recursive: true, force: true });
  await rm(join(root, 'cache'), { recursive: true, force: true });
  return packages;
}

async function unpack(root: string, packages: readonly DebianPackage[]): Promise<void> {
  const sysroot = join(root, 'sysroot');
  await mkdir(sysroot, { recursive: true });
  for (const pkg of packages) {
    const result = await run('dpkg-deb', ['-x', join(root, 'debs', pkg.file), sysroot]);
    if (result.code !== 0) throw new Error(`dpkg-deb -x ${pkg.file} failed: ${result.stderr.trim()}`);
  }
}

async function readRecorded(root: string): Promise<DebianPackage[] | undefined> {
  try {
    const recorded = JSON.parse(await readFile(join(root, 'packages.json'), 'utf8')) as { sources: string[]; packages: DebianPackage[] };
    if (recorded.sources.join('\n') !== SOURCES.join('\n')) return undefined;
    if (RUNTIME_PACKAGES.some((name) => !recorded.packages.some((p) => p.name === name))) return undefined;
    await readdir(join(root, 'sysroot'));
    return recorded.packages;
  } catch {
    return undefined;
  }
}

/** The unpacked runtime packages of `arch` under `cache`, downloading them when missing or asked to. */
export async function ensureDebianRuntime(cache: string, arch: Arch, options: { readonly refresh?: boolean; readonly log: Log }): Promise<DebianRuntime> {
  const root = join(cache, 'images', `debian-${DEBIAN_SUITE}-${ARCHES[arch].debian}`);
  const recorded = options.refresh === true ? undefined : await readRecorded(root);
  if (recorded !== undefined) return { arch, sysroot: join(root, 'sysroot'), packages: recorded };
  const staged = `${root}.tmp-${process.pid}`;
  try {
    const packages = await download(staged, arch, options.log);
    await unpack(staged, packages);
    await writeFile(join(staged, 'packages.json'), `${JSON.stringify({ sources: SOURCES, packages }, null, 2)}\n`);
    await rm(root, { recursive: true, force: true });
    await rename(staged, root);
  } finally {
    await rm(staged, { recursive: true, force: true });
  }
  const packages = (await readRecorded(root)) ?? [];
  options.log(`images: Debian ${ARCHES[arch].debian} ${packages.map((p) => `${p.name}=${p.version}`).join(' ')}`);
  return { arch, sysroot: join(root, 'sysroot'), packages };
}
