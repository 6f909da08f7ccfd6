// A peer process (istiod's or go-control-plane's) says it is ready with one JSON line on stdout:
// {"ready": true, "xds": "host:port", "admin": "host:port"}. Waiting for it is bounded, fails
// with the peer's stderr tail, and keeps draining stdout afterwards so the peer never blocks.
import type { ChildProcess } from 'node:child_process';

export function awaitReadyLine(child: ChildProcess, what: string, timeoutMs: number, stderrTail: () => string): Promise<{ xds: string; admin: string }> {
  return new Promise((resolve, reject) => {
    let out = '';
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${what} ${why}\n--- stderr (tail) ---\n${stderrTail()}`));
    };
    const timer = setTimeout(() => fail(`not ready after ${timeoutMs} ms`), timeoutMs);
    const onError = (err: Error) => fail(`did not start: ${err.message}`);
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => fail(`exited before it was ready (${signal ?? `exit ${code}`})`);
    child.once('error', onError);
    child.once('exit', onExit);
    const onData = (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      const line = out.slice(0, nl);
      clearTimeout(timer);
      child.removeListener('exit', onExit);
      child.removeListener('error', onError);
      child.stdout?.removeListener('data', onData);
      child.stdout?.resume();
      try {
        const msg = JSON.parse(line) as { ready?: boolean; xds?: string; admin?: string };
        if (msg.ready && msg.xds && msg.admin) resolve({ xds: msg.xds, admin: msg.admin });
        else fail(`printed an unexpected first line: ${line}`);
      } catch {
        fail(`printed a non-JSON first line: ${line}`);
      }
    };
    child.stdout?.setEncoding('utf8').on('data', onData);
  });
}

/** SIGTERM, then SIGKILL after 5 s; resolves once the process is gone. */
export async function stopPeerProcess(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
