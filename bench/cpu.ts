// CPU time of processes while a piece of work runs, from /proc (user + system; clock ticks of 10 ms).
import { readFileSync } from 'node:fs';

/** CPU time (user + system) of a process so far, in ms. */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** CPU ms spent by each group of processes while `work` ran. */
export async function measureCpu<T>(groups: Readonly<Record<string, readonly number[]>>, work: () => Promise<T>): Promise<{ value: T; cpu: Record<string, number> }> {
  const read = () => Object.fromEntries(Object.entries(groups).map(([name, pids]) => [name, pids.reduce((sum, pid) => sum + cpuMs(pid), 0)]));
  const before = read();
  const value = await work();
  const after = read();
  return { value, cpu: Object.fromEntries(Object.entries(after).map(([name, ms]) => [name, ms - (before[name] ?? 0)])) };
}
