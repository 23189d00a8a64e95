// The node's private mount namespace: a holder process (`unshare --mount --propagation private
// sleep infinity`) that containerd, its shims, runc and the kubelet join with `nsenter -m`. Every
// mount they make stays out of the host's mount table and dies with the namespace. Inside it only:
// tmpfs over /run, /var/lib and /var/log (the paths containerd and the kubelet write no matter
// what their flags say: shim sockets, the device-plugin socket, /var/log/containers), and small
// files bind-mounted over the /proc/sys entries the kubelet would otherwise rewrite on the host.
import { mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { findOnPath, isRunning, run, sleep, spawnDetached } from '../procs.ts';
import { KUBELET_SYSCTLS } from './files.ts';

/** Host paths hidden by the namespace's tmpfs mounts: the stack must not live below them. */
export const SHADOWED_PATHS = ['/run', '/var/lib', '/var/log'];

export interface Holder {
  readonly pid: number;
  readonly bin: string;
  /** The namespace's identity (`mnt:[inode]`), to find every process still inside it. */
  readonly mountNamespace: string;
}

export async function requiredTool(name: string): Promise<string> {
  const found = await findOnPath(name);
  if (!found) throw new Error(`${name} is missing (util-linux / coreutils): the local node needs it`);
  return found;
}

const mountNamespaceOf = (pid: number | 'self'): string | undefined => {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return undefined;
  }
};

/** Runs a command inside the holder's mount namespace. */
export async function inNamespace(holder: Pick<Holder, 'pid'>, cmd: string, args: string[]): Promise<void> {
  const res = await run(await requiredTool('nsenter'), ['-t', String(holder.pid), '-m', '--', cmd, ...args]);
  if (res.code !== 0) throw new Error(`${cmd} ${args.join(' ')} in the node namespace failed: ${res.stderr.trim()}`);
}

/** Starts the holder, mounts the shadows, and returns once the namespace is ready. */
export async function startHolder(dir: string, sysctlDir: string, logFile: string): Promise<Holder> {
  for (const shadow of SHADOWED_PATHS) {
    if (`${path.resolve(dir)}/`.startsWith(`${shadow}/`)) throw new Error(`the node folder ${dir} is below ${shadow}, which the node's namespace hides: move the checkout`);
  }
  const [unshare, sleepBin] = [await requiredTool('unshare'), await requiredTool('sleep')];
  const proc = spawnDetached(unshare, ['--mount', '--propagation', 'private', sleepBin, 'infinity'], logFile);
  const host = mountNamespaceOf('self');
  const deadline = Date.now() + 5_000;
  let ns = mountNamespaceOf(proc.pid);
  while ((ns === undefined || ns === host) && Date.now() < deadline && isRunning(proc.pid)) {
    await sleep(10);
    ns = mountNamespaceOf(proc.pid);
  }
  if (ns === undefined || ns === host) throw new Error(`unshare did not create a mount namespace (${proc.exited() ?? 'still the host namespace'})`);
  const holder = { pid: proc.pid, bin: sleepBin, mountNamespace: ns };
  try {
    await shadowHostPaths(holder, sysctlDir);
  } catch (error) {
    process.kill(proc.pid, 'SIGKILL'); // nothing else joined the namespace yet: its mounts go with it
    throw error;
  }
  return holder;
}

async function shadowHostPaths(holder: Holder, sysctlDir: string): Promise<void> {
  for (const shadow of SHADOWED_PATHS) await inNamespace(holder, 'mount', ['--no-mtab', '-t', 'tmpfs', '-o', 'mode=0755,size=256m', `piggy-node-${path.basename(shadow)}`, shadow]);
  mkdirSync(sysctlDir, { recursive: true });
  for (const [key, wanted] of Object.entries(KUBELET_SYSCTLS)) {
    const proc = `/proc/sys/${key}`;
    let current: string;
    try {
      current = readFileSync(proc, 'utf8').trim();
    } catch {
      continue; // not on this kernel: the kubelet skips it too
    }
    if (current === wanted) continue;
    const file = path.join(sysctlDir, key.replaceAll('/', '.'));
    writeFileSync(file, `${wanted}\n`);
    await inNamespace(holder, 'mount', ['--no-mtab', '--bind', file, proc]);
  }
}

/** PIDs of the processes inside the mount namespace (the holder included). */
export function processesInNamespace(mountNamespace: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => pid !== process.pid && mountNamespaceOf(pid) === mountNamespace && isRunning(pid));
}
