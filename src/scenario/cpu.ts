// CPU time of the control plane. With the fleet in its own process, that is this process's CPU.
// When fleet work shares the process (a fake fleet in tests), process CPU would
// charge their work to the server: on Linux the main thread's own counters are read from /proc
// instead; elsewhere process CPU is the fallback (and the report says which).
import { readFileSync } from 'node:fs';

/** Linux USER_HZ; 100 on every mainstream kernel. */
const CLK_TCK = 100;

export interface CpuClock {
  readonly scope: 'main-thread' | 'process';
  /** CPU seconds so far. */
  read(): number;
}

function mainThreadSeconds(): number | undefined {
  try {
    // Fields after the command name (which may contain spaces): state is the 1st, utime the 12th, stime the 13th.
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

export function cpuClock(fleetInProcess: boolean): CpuClock {
  if (fleetInProcess && process.platform === 'linux' && mainThreadSeconds() !== undefined) {
    return { scope: 'main-thread', read: () => mainThreadSeconds() ?? 0 };
  }
  return {
    scope: 'process',
    read: () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1e6;
    },
  };
}
