// Reproducible layer tarballs from a folder, with GNU tar: entries sorted by name, one fixed mtime,
// numeric owner 0:0 (the image's files are root's and read-only to the 65532 user that runs it, so no
// host uid or user name leaks in), modes normalised (no group/other write, read and search for all),
// no extended attributes. crane compresses them (deterministic gzip).
import { execFile } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface Layer {
  readonly file: string;
  /** Uncompressed size (the tarball's). */
  readonly bytes: number;
}

/** Writes `root`'s contents (not `root` itself) to the tarball `file`; every mtime is `mtime` (Unix seconds). */
export async function writeLayer(root: string, file: string, mtime: number): Promise<Layer> {
  const entries = (await readdir(root)).sort();
  if (entries.length === 0) throw new Error(`layer root ${root} is empty`);
  await execFileAsync('tar', [
    '--create',
    `--file=${file}`,
    `--directory=${root}`,
    '--format=gnu',
    '--sort=name',
    `--mtime=@${mtime}`,
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '--mode=u+rw,go-w,a+rX',
    '--no-acls',
    '--no-xattrs',
    '--no-selinux',
    '--',
    ...entries,
  ]);
  return { file, bytes: (await stat(file)).size };
}
