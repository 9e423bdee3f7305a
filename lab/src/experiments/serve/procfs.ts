/** What the `serve` experiment reads about a server process from /proc (Linux). */
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_S = 100;

export interface ProcessSample {
  /** Peak RSS (VmHWM), MB. */
  peakRssMb: number;
  rssMb: number;
  /** user + system CPU of all threads, ms. */
  cpuMs: number;
  openFds: number;
}

function statusKb(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match === null ? 0 : Number(match[1]);
}

function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // fields after the command name (which may contain spaces) start after the last ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 (1-based) of the full line, 12 and 13 here (0-based, from state)
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
}

/** Samples `pids` (a process and, for nginx, its workers) and sums them. */
export function sampleProcesses(pids: readonly number[]): ProcessSample {
  let peakRssMb = 0;
  let rssMb = 0;
  let cpuMs = 0;
  let openFds = 0;
  for (const pid of pids) {
    peakRssMb += statusKb(pid, 'VmHWM') / 1024;
    rssMb += statusKb(pid, 'VmRSS') / 1024;
    cpuMs += cpuMsOf(pid);
    openFds += readdirSync(`/proc/${pid}/fd`).length;
  }
  return { peakRssMb, rssMb, cpuMs, openFds };
}

/** Direct children of `pid` (nginx workers). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}
