// A one-layer image from a folder, pushed with crane to a plain-HTTP loopback registry: the local
// stack's pause image and the demo's and tests' busybox app image. GNU tar with sorted entries, one
// mtime and numeric owner 0:0 (modes kept as they are: /tmp stays 1777), so pushing the same folder
// again gives the same digest (a no-op).
import path from 'node:path';
import { run } from './procs.ts';

/** Runs CMD ARGS; throws with its stderr when it fails. */
export async function mustRun(cmd: string, args: string[]): Promise<string> {
  const res = await run(cmd, args);
  if (res.code !== 0) throw new Error(`${path.basename(cmd)} ${args.join(' ')} failed (exit ${res.code}): ${res.stderr.trim()}`);
  return res.stdout;
}

/**
 * Pushes ROOT's ENTRIES as one layer on an empty OCI base to REF, then `crane mutate`s it with
 * CONFIG (e.g. `--entrypoint=/pause`) and `--set-platform PLATFORM`; returns REF. WORK holds the tarball.
 */
export async function pushFolderImage(crane: string, opts: { root: string; entries: string[]; work: string; ref: string; config: string[]; platform?: string }): Promise<string> {
  const layer = path.join(opts.work, 'layer.tar');
  await mustRun('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-cf', layer, '-C', opts.root, ...opts.entries]);
  await mustRun(crane, ['append', '--insecure', '--oci-empty-base', '-f', layer, '-t', opts.ref]);
  await mustRun(crane, ['mutate', '--insecure', opts.ref, '--set-platform', opts.platform ?? 'linux/amd64', ...opts.config, '-t', opts.ref]);
  return opts.ref;
}
