// The node's cgroups: one directory NAME per hierarchy (the kubelet's cgroupRoot; the kubelet
// refuses a root that does not exist), every pod's cgroup below it. At down, every process left
// in them is killed and the directories are removed depth-first, so nothing stays on the host.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sleep } from '../procs.ts';

const CGROUP_FS = '/sys/fs/cgroup';

/** The mounted hierarchies (cgroup v1 controllers, name=systemd and the unified v2 one). */
export function cgroupHierarchies(root = CGROUP_FS): string[] {
  try {
    return readdirSync(root, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => path.join(root, entry.name))
      .filter((dir) => existsSync(path.join(dir, 'cgroup.procs')));
  } catch {
    return [];
  }
}

/** Creates NAME in every hierarchy; cpuset needs its cpus and mems copied from the parent. */
export function createCgroupRoot(name: string): void {
  for (const hierarchy of cgroupHierarchies()) {
    const dir = path.join(hierarchy, name);
    mkdirSync(dir, { recursive: true });
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      const parent = path.join(hierarchy, file);
      if (existsSync(parent) && readFileSync(path.join(dir, file), 'utf8').trim() === '') writeFileSync(path.join(dir, file), readFileSync(parent));
    }
  }
}

/** Every cgroup directory under DIR, deepest first. */
function subtree(dir: string): string[] {
  let children: string[];
  try {
    children = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => path.join(dir, e.name));
  } catch {
    return [];
  }
  return [...children.flatMap(subtree), dir];
}

function pidsIn(dir: string): number[] {
  try {
    return readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** PIDs of every process in NAME's subtree of any hierarchy. */
export function processesInCgroupRoot(name: string): number[] {
  const pids = new Set<number>();
  for (const hierarchy of cgroupHierarchies()) {
    for (const dir of subtree(path.join(hierarchy, name))) for (const pid of pidsIn(dir)) pids.add(pid);
  }
  return [...pids];
}

/** SIGKILLs every process in NAME (containers, pause processes) and removes NAME's directories. */
export async function removeCgroupRoot(name: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const pid of processesInCgroupRoot(name)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    const left: string[] = [];
    for (const hierarchy of cgroupHierarchies()) {
      const top = path.join(hierarchy, name);
      if (!existsSync(top)) continue;
      for (const dir of subtree(top)) {
        try {
          if (statSync(dir).isDirectory()) rmdirSync(dir);
        } catch {
          left.push(dir); // EBUSY while a killed process is still exiting
        }
      }
    }
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new Error(`cgroups left behind: ${left.join(', ')}`);
    await sleep(100);
  }
}
