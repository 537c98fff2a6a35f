/**
 * CPU time of processes and threads from Linux's /proc: what the Lambda service reports per function and what the
 * profile (bench/profile.ts) adds up per process.
 */
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_SECOND = 100;

/** utime + stime of a process or thread, in ms, from /proc (`stat` fields 14 and 15). */
export function cpuMsOf(statPath: string): number {
  const stat = readFileSync(statPath, 'utf8');
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** The pids of this process's descendants named `name` (DynamoDB Local's JVM runs under a shell wrapper). */
export function descendantsNamed(name: string): number[] {
  const parentOf = new Map<number, number>();
  const commOf = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parentOf.set(Number(entry), Number(after[1]));
      commOf.set(Number(entry), stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')));
    } catch {
      // The process ended while the list was read.
    }
  }
  const isOurs = (pid: number): boolean => {
    for (let p = parentOf.get(pid); p !== undefined && p > 1; p = parentOf.get(p))
      if (p === process.pid) return true;
    return false;
  };
  return [...commOf].filter(([pid, comm]) => comm === name && isOurs(pid)).map(([pid]) => pid);
}
