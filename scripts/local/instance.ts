// A restartable component outside the stack record: started from a LaunchSpec, stopped by its pid,
// started again on the same ports. Each one records itself in RECORDDIR/component.json while its
// process may run, so stopStack (via stopInstances) can clean up after a test that never tore down.
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { launchComponent } from './components.ts';
import type { ComponentInfo, LaunchSpec } from './components.ts';
import { isRunning, runsBinary, stopGroup } from './procs.ts';

export interface Instance {
  /** The last start's ports, URL, log and pid (the ports stay the same across restarts). */
  readonly info: ComponentInfo;
  /** True while the recorded process runs the recorded binary. */
  running(): boolean;
  /** Stops the process group by pid (SIGTERM, then SIGKILL); a no-op when it is not running. */
  stop(): Promise<void>;
  /** Starts the component again on the same ports and waits until it is ready; a no-op when running. */
  start(): Promise<void>;
}

export interface InstanceOptions {
  /** Holds the log and component.json. */
  dir: string;
  signal?: AbortSignal | undefined;
}

const recordName = 'component.json';

function writeInfo(dir: string, info: ComponentInfo): void {
  const file = path.join(dir, recordName);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(info, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

const alive = (info: ComponentInfo): boolean => isRunning(info.pid) && runsBinary(info.pid, info.bin);

/** Starts SPEC on free ports and waits for it; throws (with the log tail) after stopping it on failure. */
export async function startInstance(spec: LaunchSpec, opts: InstanceOptions): Promise<Instance> {
  const base = { logDir: opts.dir, signal: opts.signal, onSpawn: (i: ComponentInfo) => writeInfo(opts.dir, i) };
  let info = await launchComponent(spec, base);
  let queue: Promise<unknown> = Promise.resolve();
  // start() and stop() run one at a time, in call order.
  const serial = (op: () => Promise<void>): Promise<void> => {
    const next = queue.then(op);
    queue = next.catch(() => undefined);
    return next;
  };
  return {
    get info() {
      return info;
    },
    running: () => alive(info),
    stop: () =>
      serial(async () => {
        if (alive(info)) await stopGroup(info.pid);
        rmSync(path.join(opts.dir, recordName), { force: true });
      }),
    start: () =>
      serial(async () => {
        if (alive(info)) return;
        info = await launchComponent(spec, { ...base, ports: info.ports, keepLog: true });
      }),
  };
}

/** Stops every instance recorded in a direct subfolder of DIR (pid checked against its binary). */
export async function stopInstances(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const entry of entries) {
    const file = path.join(dir, entry, recordName);
    let info: ComponentInfo;
    try {
      info = JSON.parse(readFileSync(file, 'utf8')) as ComponentInfo;
    } catch {
      continue;
    }
    if (alive(info)) await stopGroup(info.pid);
    rmSync(file, { force: true });
  }
}
