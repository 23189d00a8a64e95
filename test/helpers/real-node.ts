// Pods on the test stack's real nodes (scripts/local/node): they must be hostNetwork (no pod network
// on a loopback-only machine) and tolerate the nodes' taint; images come from the stack's registry.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { V1PodSpec } from '@kubernetes/client-node';
import { NODE_TOLERATION } from '../../scripts/local/node/files.ts';
import { run } from '../../scripts/local/procs.ts';
import { registryHost, testStack } from './stack.ts';

export { NODE_TOLERATION };

/** The API server as pods reach it: 127.0.0.1 (the kubernetes Service IP has nothing behind it). */
export function inClusterEnv(): { name: string; value: string }[] {
  const url = new URL(testStack().apiserverUrl);
  return [
    { name: 'KUBERNETES_SERVICE_HOST', value: url.hostname },
    { name: 'KUBERNETES_SERVICE_PORT', value: url.port },
  ];
}

/** SPEC made runnable on the real nodes: hostNetwork, the nodes' toleration, no service links. */
export function onRealNode(spec: V1PodSpec): V1PodSpec {
  return { ...spec, hostNetwork: true, enableServiceLinks: false, tolerations: [...(spec.tolerations ?? []), { ...NODE_TOLERATION }] };
}

async function must(cmd: string, args: string[]): Promise<void> {
  const res = await run(cmd, args);
  if (res.code !== 0) throw new Error(`${path.basename(cmd)} ${args.join(' ')}: ${res.stderr.trim()}`);
}

let busybox: Promise<string> | undefined;

/**
 * A busybox image in the stack's registry (every applet under /bin, nothing else) with
 * ENTRYPOINT ["/bin/sh", "-c"] and a CMD that prints a line: an image whose command the webhook
 * must read from the registry. Pushing the same deterministic layer again is a no-op.
 */
export function busyboxImage(): Promise<string> {
  busybox ??= (async () => {
    const crane = testStack().tools.crane;
    const ref = `${registryHost()}/piggy-test/busybox:1`;
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
      const layer = path.join(work, 'layer.tar');
      await must('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-cf', layer, '-C', path.join(work, 'root'), 'bin', 'tmp']);
      await must(crane, ['append', '--insecure', '--oci-empty-base', '-f', layer, '-t', ref]);
      await must(crane, ['mutate', '--insecure', ref, '--set-platform', 'linux/amd64', '--entrypoint=/bin/sh,-c', '--cmd=echo image command', '--env', 'PATH=/bin', '-t', ref]);
      return ref;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  })();
  return busybox;
}
