// Benchmarks that need separate processes (their own event loops, memory and CPU accounting):
// fork a TypeScript script under tsx with an IPC channel, and wait for its typed messages.
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { readFdLimit } from '../src/fleet/fd-limit.js';

export type Msg = Record<string, unknown> & { type: string };

/** Forks `scriptPath` (a .ts file) under tsx with an IPC channel, inheriting stdout and stderr. */
export function forkTs(scriptPath: string, args: string[], execArgv: string[] = []): ChildProcess {
  return fork(scriptPath, args, { execArgv: ['--import', 'tsx', ...execArgv], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

/**
 * The next IPC message of `type` from `p`; rejects after `timeoutMs`, or at once when `p` exits
 * first (a child that died never answers: waiting out the timeout only hides it).
 */
export function nextMessage(p: ChildProcess, type: string, timeoutMs: number): Promise<Msg> {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      p.off('message', on);
      p.off('exit', onExit);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`timed out waiting for ${type}`));
    }, timeoutMs);
    const on = (m: Msg) => {
      if (m.type !== type) return;
      done();
      resolve(m);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      done();
      reject(new Error(`child process ${p.pid} exited (${signal ?? `code ${code}`}) while waiting for ${type}`));
    };
    if (p.exitCode !== null || p.signalCode !== null) return onExit(p.exitCode, p.signalCode);
    p.on('message', on);
    p.on('exit', onExit);
  });
}

/**
 * Raises a child's open-files soft limit to `soft` (and its hard one, where allowed) with
 * `prlimit --pid`: Node cannot raise its own. Returns the limit the child ends up with.
 */
export function raiseChildFdLimit(p: ChildProcess, soft: number): { soft: number; hard: number } | undefined {
  if (!p.pid) return undefined;
  const limit = readFdLimit(p.pid);
  if (!limit || limit.soft >= soft) return limit;
  for (const hard of [Math.max(soft, limit.hard), limit.hard]) {
    const s = Math.min(soft, hard);
    if (spawnSync('prlimit', ['--pid', String(p.pid), `--nofile=${s}:${hard}`], { stdio: 'ignore', timeout: 10_000 }).status === 0) break;
  }
  return readFdLimit(p.pid);
}
