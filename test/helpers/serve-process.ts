// `xdsim serve` as a child process (the real bin), for tests of the process itself: signals,
// kill -9, restarts. Callers kill leftovers with `killAll()` in afterEach.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/xdsim.js', import.meta.url));
const procs: ChildProcess[] = [];

export interface ServeProcess {
  proc: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

export function serveProcess(args: string[]): ServeProcess {
  // Plaintext test agents carry no token: istiod's identity validation (on by default) is off
  // unless a test asks for it (tests of it: test/registration/identity.test.ts).
  const validation = args.includes('--validate-identity') ? [] : ['--validate-identity', 'false'];
  const proc = spawn(process.execPath, [BIN, 'serve', ...validation, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, out: () => out, err: () => err, exited };
}

/** The ports from the "xdsim serving" log line. */
export async function servingPorts(p: ServeProcess, timeoutMs = 20_000): Promise<{ xds: number; admin: number }> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    for (const line of p.out().split('\n')) {
      if (!line.includes('xdsim serving')) continue;
      const j = JSON.parse(line) as { xds: number; admin: number };
      return { xds: j.xds, admin: j.admin };
    }
    if (p.proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`server did not start:\n${p.out()}\n${p.err()}`);
}

export function killAll(): void {
  for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}
