// The official Node.js Linux binaries of one architecture, from the npm registry's
// `node-linux-<x64|arm64>@VERSION` packages (the nodejs.org download site is not reachable from
// everywhere the build runs; npm is), cached as $CACHE/images/node-v<VERSION>-linux-<arch>/.
import { execFile } from 'node:child_process';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Arch, ARCHES } from './platform.ts';

const execFileAsync = promisify(execFile);

export interface NodeDist {
  readonly arch: Arch;
  readonly version: string;
  /** The npm package spec and its registry integrity. */
  readonly package: string;
  readonly integrity: string;
  readonly node: string;
  readonly license: string;
}

type Log = (line: string) => void;

async function readRecorded(dir: string): Promise<NodeDist | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'node-dist.json'), 'utf8')) as NodeDist;
  } catch {
    return undefined;
  }
}

/** Downloads (once) and unpacks bin/node and LICENSE of Node `version` for `arch`. */
export async function ensureNodeDist(cache: string, arch: Arch, version: string, log: Log): Promise<NodeDist> {
  const dir = join(cache, 'images', `node-v${version}-linux-${arch}`);
  const recorded = await readRecorded(dir);
  if (recorded?.version === version) return recorded;
  const spec = `node-linux-${ARCHES[arch].node}@${version}`;
  const staged = `${dir}.tmp-${process.pid}`;
  await rm(staged, { recursive: true, force: true });
  await mkdir(staged, { recursive: true });
  try {
    log(`images: npm pack ${spec}`);
    const { stdout } = await execFileAsync('npm', ['pack', '--json', '--silent', '--pack-destination', staged, spec], { maxBuffer: 256 * 1024 * 1024 });
    const [packed] = JSON.parse(stdout) as { filename: string; integrity: string }[];
    if (packed === undefined) throw new Error(`npm pack ${spec} reported nothing`);
    await execFileAsync('tar', ['-xzf', join(staged, packed.filename), '-C', staged, '--strip-components=1', 'package/bin/node', 'package/LICENSE']);
    await rm(join(staged, packed.filename));
    const dist: NodeDist = { arch, version, package: spec, integrity: packed.integrity, node: join(dir, 'bin', 'node'), license: join(dir, 'LICENSE') };
    await writeFile(join(staged, 'node-dist.json'), `${JSON.stringify(dist, null, 2)}\n`);
    await rm(dir, { recursive: true, force: true });
    await rename(staged, dir);
    return dist;
  } finally {
    await rm(staged, { recursive: true, force: true });
  }
}
