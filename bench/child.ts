// Benchmarks that need separate processes (their own event loops, memory and CPU accounting):
// fork a TypeScript script under tsx with an IPC channel, and wait for its typed messages.
import { fork, type ChildProcess } from 'node:child_process';

export type Msg = Record<string, unknown> & { type: string };

/** Forks `scriptPath` (a .ts file) under tsx with an IPC channel, inheriting stdout and stderr. */
export function forkTs(scriptPath: string, args: string[], execArgv: string[] = []): ChildProcess {
  return fork(scriptPath, args, { execArgv: ['--import', 'tsx', ...execArgv], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

/** The next IPC message of `type` from `p`; rejects after `timeoutMs`. */
export function nextMessage(p: ChildProcess, type: string, timeoutMs: number): Promise<Msg> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      p.off('message', on);
      reject(new Error(`timed out waiting for ${type}`));
    }, timeoutMs);
    const on = (m: Msg) => {
      if (m.type !== type) return;
      clearTimeout(timer);
      p.off('message', on);
      resolve(m);
    };
    p.on('message', on);
  });
}
