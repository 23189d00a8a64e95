// The pod sandbox image of the local node: pause.c compiled static (gcc -static -Os), cached by a
// hash of its source, in a one-layer image pushed to the local registry with crane.
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mustRun, pushFolderImage } from '../folder-image.ts';
import { cacheDir } from '../procs.ts';

const SOURCE = path.join(import.meta.dirname, 'pause.c');
export const PAUSE_REPOSITORY = 'piggy-local/pause';

/** The static pause binary, built once per source version. */
export async function ensurePauseBinary(): Promise<string> {
  const hash = createHash('sha256').update(readFileSync(SOURCE)).digest('hex').slice(0, 12);
  const dir = path.join(cacheDir(), `pause-${hash}`);
  const bin = path.join(dir, 'pause');
  if (existsSync(bin)) return bin;
  const tmp = `${dir}.tmp-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  await mustRun('gcc', ['-static', '-Os', '-o', path.join(tmp, 'pause'), SOURCE]);
  await mustRun('strip', [path.join(tmp, 'pause')]);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return bin;
}

/** Builds (when needed) and pushes the pause image to REGISTRY; returns its reference. */
export async function pushPauseImage(crane: string, registry: string, platform = 'linux/amd64'): Promise<string> {
  const bin = await ensurePauseBinary();
  const ref = `${registry}/${PAUSE_REPOSITORY}:3.10`;
  const work = mkdtempSync(path.join(os.tmpdir(), 'piggy-pause-'));
  try {
    const root = path.join(work, 'root');
    mkdirSync(root);
    copyFileSync(bin, path.join(root, 'pause'));
    chmodSync(path.join(root, 'pause'), 0o755);
    return await pushFolderImage(crane, { root, entries: ['pause'], work, ref, config: ['--entrypoint=/pause'], platform });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
