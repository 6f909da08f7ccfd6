// Open-file budget of a process that holds one socket per agent (a fleet) or per connection (a
// server). Node raises its own soft limit to the hard one at start-up but cannot go past it, so a
// process whose hard limit is too low is re-run under `prlimit --nofile=N:N` (util-linux), which
// works where the process may raise it (CAP_SYS_RESOURCE; containers often drop it, even for
// root). Where it may not, the caller refuses up front with the numbers, instead of failing with
// EMFILE thousands of agents in.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface FdLimit {
  soft: number;
  hard: number;
}

/**
 * Descriptors a process uses besides its agents' sockets: Node itself, tsx, stdio, IPC, and each
 * worker thread's message ports and event loop (measured: about 45 with two workers and ten
 * agents), with room for log files, HTTP probes in flight and the observers' streams.
 */
export const FD_BASE = 128;
export const FD_PER_WORKER = 16;

/** Descriptors a fleet process needs for `agents` agents on `workers` worker threads. */
export function fdsNeededForFleet(agents: number, workers: number): number {
  // One socket per agent, one observer stream per worker (it has its own connection).
  return agents + Math.max(1, workers) * (1 + FD_PER_WORKER) + FD_BASE;
}

/** Descriptors a server process needs to hold `connections` client connections. */
export function fdsNeededForServer(connections: number): number {
  return connections + FD_BASE;
}

/** RLIMIT_NOFILE of this process, from /proc (undefined where there is no /proc). */
export function readFdLimit(pid: number | 'self' = 'self'): FdLimit | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/limits`, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!m) return undefined;
  const num = (s: string) => (s === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(s));
  return { soft: num(m[1]!), hard: num(m[2]!) };
}

export type FdPlan =
  | { kind: 'ok'; limit: FdLimit; needed: number }
  /** Re-run under `prlimit --nofile=soft:hard`. */
  | { kind: 'raise'; limit: FdLimit; needed: number; soft: number; hard: number }
  | { kind: 'refuse'; limit: FdLimit; needed: number; message: string };

/** Whether `prlimit` exists and may set these limits on a child (it fails with EPERM otherwise). */
export function prlimitAllows(soft: number, hard: number): boolean {
  const r = spawnSync('prlimit', [`--nofile=${soft}:${hard}`, 'true'], { stdio: 'ignore', timeout: 10_000 });
  return r.status === 0;
}

/**
 * What to do for a process that needs `needed` descriptors. `what` names the load in the refusal
 * ("--count 50000 in this process"), `remedy` says how else to get there (shards, more processes).
 */
export function planFdLimit(needed: number, what: string, remedy: string, limit = readFdLimit(), allows = prlimitAllows): FdPlan {
  // Without /proc there is nothing to read: go ahead, EMFILE is still counted if it comes.
  if (!limit) return { kind: 'ok', limit: { soft: Infinity, hard: Infinity }, needed };
  if (needed <= limit.soft) return { kind: 'ok', limit, needed };
  if (needed <= limit.hard && allows(needed, limit.hard)) return { kind: 'raise', limit, needed, soft: needed, hard: limit.hard };
  if (needed > limit.hard && allows(needed, needed)) return { kind: 'raise', limit, needed, soft: needed, hard: needed };
  return {
    kind: 'refuse',
    limit,
    needed,
    message:
      `${what} needs about ${needed} open files (one per connection plus about ${FD_BASE} for the process); this process may open ${limit.soft} (hard limit ${limit.hard})` +
      (needed > limit.hard ? ', and it cannot be raised from here (no CAP_SYS_RESOURCE, or no prlimit)' : ', and prlimit is not available to raise it') +
      `. ${remedy}`,
  };
}

/** Environment variable set on a re-run under prlimit, so it never loops. */
export const FD_REEXEC_ENV = 'XDSIM_FD_REEXEC';

/**
 * Re-runs this very command (same Node flags, script and arguments) under
 * `prlimit --nofile=soft:hard`, with stdio inherited, and exits with its exit code. Signals that
 * would stop this process are passed on to the re-run one.
 */
export function reexecWithFdLimit(soft: number, hard: number): Promise<never> {
  return new Promise(() => {
    const child = spawn('prlimit', [`--nofile=${soft}:${hard}`, process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
      stdio: 'inherit',
      env: { ...process.env, [FD_REEXEC_ENV]: '1' },
    });
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
    child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + 15 : 1)));
    child.on('error', (err) => {
      process.stderr.write(`xdsim: could not re-run under prlimit: ${err.message}\n`);
      process.exit(2);
    });
  });
}

/** True for errors that mean "out of descriptors" (this process's or the system's). */
export function isFdExhaustion(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}
