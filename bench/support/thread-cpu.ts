/**
 * CPU time (user + system) a process, or one of its threads, has used so far, from /proc: fields
 * 14 and 15 of `stat`, in clock ticks (USER_HZ, 100 a second on Linux).
 */
import { readFileSync } from 'node:fs';

const TICK_MS = 10;

/** CPU ms of thread `tid` of process `pid` (the main thread's tid is the pid). */
export function threadCpuMs(pid: number, tid: number): number {
  return cpuMsOf(`/proc/${pid}/task/${tid}/stat`);
}

/** CPU ms of every thread of process `pid`. */
export function processCpuMs(pid: number): number {
  return cpuMsOf(`/proc/${pid}/stat`);
}

function cpuMsOf(file: string): number {
  const stat = readFileSync(file, 'utf8');
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}
