/**
 * CPU time (user + system) a process, or one of its threads, has used so far, from /proc: fields
 * 14 and 15 of `stat`, in clock ticks (USER_HZ, 100 a second on Linux).
 */
import { readdirSync, readFileSync } from 'node:fs';

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

/** CPU ms of each thread of process `pid` now, by thread id (threads that ended are absent). */
export function threadsCpuMs(pid: number): Map<number, number> {
  const threads = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      threads.set(Number(tid), threadCpuMs(pid, Number(tid)));
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return threads;
}

/**
 * Per 1,000 callbacks, what each thread spent between two `threadsCpuMs` readings: the main
 * thread (tid = pid: HTTP) first, then the others, busiest first (the record thread, V8's GC and
 * compiler helpers, libuv's pool); threads under 5 ms/1k are summed as "rest".
 */
export function threadCpuBreakdown(pid: number, before: Map<number, number>, after: Map<number, number>, count: number): string {
  const perThousand = (tid: number) => (((after.get(tid) ?? 0) - (before.get(tid) ?? 0)) * 1000) / count;
  const others = [...after.keys()].filter((tid) => tid !== pid).map((tid) => perThousand(tid));
  others.sort((a, b) => b - a);
  const shown = others.filter((ms) => ms >= 5);
  const rest = others.filter((ms) => ms < 5).reduce((sum, ms) => sum + ms, 0);
  return [`main ${perThousand(pid).toFixed(0)}`, ...shown.map((ms) => ms.toFixed(0)), `rest ${rest.toFixed(0)}`].join(' · ');
}
