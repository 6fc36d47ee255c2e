// What the kernel says about a process, from /proc: resident memory, CPU time, open descriptors.
// Used from outside the daemon, so the measurement costs it nothing and works after it dropped root.
import { readdirSync, readFileSync } from 'node:fs';

const TICKS = 100; // USER_HZ on Linux

/** Resident set size in MiB (VmRSS), NaN if the process is gone. */
export function rssMiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Peak resident set size in MiB (VmHWM): the high-water mark over the process's whole life. */
export function peakRssMiB(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** User + system CPU seconds used so far (fields 14 and 15 of /proc/<pid>/stat). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; fields after its closing parenthesis are fixed.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICKS;
}

/** Share of one core the process used over the next `ms` milliseconds (0.05 = 5 %). */
export async function cpuShare(pid: number, ms: number): Promise<number> {
  const c0 = cpuSeconds(pid);
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, ms));
  const c1 = cpuSeconds(pid);
  return (c1 - c0) / (Number(process.hrtime.bigint() - t0) / 1e9);
}

/** Open file descriptors (sockets, files, pipes, the event loop's own). */
export function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Datagrams the kernel dropped for a UDP socket bound to `port` because its receive buffer was full
 * (the `drops` column of /proc/<pid>/net/udp): load beyond what the daemon reads in time.
 */
export function udpDrops(pid: number, port: number): number {
  let n = 0;
  for (const file of ['udp', 'udp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 13) continue;
      const local = f[1]!;
      if (parseInt(local.slice(local.indexOf(':') + 1), 16) === port) n += Number(f[f.length - 1]);
    }
  }
  return n;
}
