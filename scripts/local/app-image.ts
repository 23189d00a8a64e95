// Pods on the stack's real nodes (the demo, the tests): the spec they need (hostNetwork, the nodes'
// toleration) and a busybox app image in a local registry:
// every applet of the host's static busybox under /bin, a world-writable /tmp, nothing else, with
// ENTRYPOINT ["/bin/sh", "-c"] and a CMD that prints a line (an image whose command the webhook must
// read from the registry). One deterministic layer: pushing it again is a no-op.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { V1PodSpec } from '@kubernetes/client-node';
import { pushFolderImage } from './folder-image.ts';
import { NODE_TOLERATION } from './node/files.ts';
import { run } from './procs.ts';

/** SPEC made runnable on the real nodes: hostNetwork (no pod network), the nodes' toleration, no service links. */
export function onRealNode(spec: V1PodSpec): V1PodSpec {
  return Object.assign({}, spec, { hostNetwork: true, enableServiceLinks: false, tolerations: [...(spec.tolerations ?? []), { ...NODE_TOLERATION }] });
}

/** Pushes the busybox image to REF (`host:port/repo:tag` of a plain-HTTP loopback registry) with crane; returns REF. */
export async function pushBusyboxImage(crane: string, ref: string): Promise<string> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'piggy-busybox-'));
  try {
    const bin = path.join(work, 'root', 'bin');
    mkdirSync(bin, { recursive: true });
    copyFileSync('/bin/busybox', path.join(bin, 'busybox'));
    chmodSync(path.join(bin, 'busybox'), 0o755);
    const applets = (await run('/bin/busybox', ['--list'])).stdout.split('\n').filter((a) => a !== '' && a !== 'busybox');
    for (const applet of applets) symlinkSync('busybox', path.join(bin, applet));
    mkdirSync(path.join(work, 'root', 'tmp'), { mode: 0o1777 });
    chmodSync(path.join(work, 'root', 'tmp'), 0o1777);
    return await pushFolderImage(crane, { root: path.join(work, 'root'), entries: ['bin', 'tmp'], work, ref, config: ['--entrypoint=/bin/sh,-c', '--cmd=echo image command', '--env', 'PATH=/bin'] });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
