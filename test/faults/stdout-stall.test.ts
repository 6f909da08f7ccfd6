// `xdsim serve` and `xdsim agents` whose output reader stalls (stops reading, pipe full) or
// vanishes (closes its end: EPIPE) mid-run must still stop on SIGTERM within their grace, keep
// serving meanwhile, and count the log lines they drop. Before the fix, pino's exit flush retried
// the write every 100 ms forever (Atomics.wait), so SIGTERM was never handled.
//
// The outputs are FIFOs the test holds: it reads them (non-blocking) while the run warms up, then
// either stops reading after filling the FIFO to the brim itself (stall) or closes its read end
// (vanish). A FIFO, unlike the socket pair spawn() makes, lets the test fill it deterministically.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, GROUP, meshDir, metricValue, NS, sleep, waitUntil } from './helpers.js';

const BIN = fileURLToPath(new URL('../../bin/xdsim.js', import.meta.url));
const SHUTDOWN_GRACE_MS = 3_000;
// Agents: the fleet's stop plus at most 1 s for the summary to reach a reader.
const AGENTS_GRACE_MS = 5_000;

class Fifo {
  readonly path: string;
  private readFd: number | undefined;
  /** The child's end; the test closes its copy once the child holds its own. */
  childFd: number | undefined;
  text = '';
  private readonly dir: string;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'xdsim-fifo-'));
    this.path = join(this.dir, 'out');
    execFileSync('mkfifo', [this.path]);
    // Reader first (non-blocking open of a FIFO's write end fails without one).
    this.readFd = openSync(this.path, constants.O_RDONLY | constants.O_NONBLOCK);
    this.childFd = openSync(this.path, constants.O_WRONLY | constants.O_NONBLOCK);
  }

  spawned(): void {
    if (this.childFd !== undefined) closeSync(this.childFd);
    this.childFd = undefined;
  }

  /** Reads what is there now (bounded: at most 256 reads of 64 KiB). */
  poll(): void {
    if (this.readFd === undefined) return;
    const buf = Buffer.alloc(65536);
    for (let i = 0; i < 256; i++) {
      let n = 0;
      try {
        n = readSync(this.readFd, buf, 0, buf.length, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return;
        throw err;
      }
      if (n === 0) return;
      this.text += buf.subarray(0, n).toString();
      if (this.text.length > 4 << 20) this.text = this.text.slice(-(1 << 20));
    }
  }

  /** Stops reading with the FIFO full: the child's next write gets EAGAIN. Returns bytes added. */
  stall(): number {
    const fd = openSync(this.path, constants.O_WRONLY | constants.O_NONBLOCK);
    const chunk = Buffer.alloc(4096, 'x');
    let filled = 0;
    try {
      // A pipe holds 64 KiB by default, 1 MiB at most unprivileged: 1,024 x 4 KiB bounds it.
      for (let i = 0; i < 1024; i++) {
        try {
          filled += writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
          throw err;
        }
      }
    } finally {
      closeSync(fd);
    }
    return filled;
  }

  /** The reader goes away: the child's next write gets EPIPE. */
  vanish(): void {
    if (this.readFd !== undefined) closeSync(this.readFd);
    this.readFd = undefined;
  }

  close(): void {
    this.vanish();
    if (this.childFd !== undefined) closeSync(this.childFd);
    this.childFd = undefined;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const procs: ChildProcess[] = [];
const fifos: Fifo[] = [];
afterEach(() => {
  for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const f of fifos.splice(0)) f.close();
});

function start(args: string[], out: Fifo, env: Record<string, string> = {}): ChildProcess {
  const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', out.childFd!, out.childFd!], env: { ...process.env, ...env } });
  procs.push(p);
  out.spawned();
  return p;
}

/** Milliseconds from SIGTERM to exit, or undefined if still running after `boundMs`. */
async function sigtermExit(p: ChildProcess, boundMs: number): Promise<{ ms: number | undefined; code: number | null; signal: NodeJS.Signals | null }> {
  const exited = new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r())));
  const t0 = Date.now();
  p.kill('SIGTERM');
  const ok = await Promise.race([exited.then(() => true), sleep(boundMs).then(() => false)]);
  return { ms: ok ? Date.now() - t0 : undefined, code: p.exitCode, signal: p.signalCode };
}

async function metrics(admin: number): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${admin}/metrics`, { signal: AbortSignal.timeout(5_000) });
  return r.text();
}

describe('output reader stalls or vanishes mid-run', () => {
  for (const fault of ['stall', 'vanish'] as const) {
    it(`${fault}: serve and agents keep working, count dropped lines, exit on SIGTERM within the grace`, { timeout: 90_000 }, async () => {
      const { mesh } = meshDir();
      const [xds, admin] = [await freePort(), await freePort()];
      const serveOut = new Fifo();
      const agentsOut = new Fifo();
      fifos.push(serveOut, agentsOut);
      // Debug logs a line per stream opened and closed and per push: churn makes plenty.
      const serve = start(
        ['serve', '--validate-identity', 'false', '-f', mesh, '--xds-address', `127.0.0.1:${xds}`, '--admin-address', `127.0.0.1:${admin}`, '--log-level', 'debug', '--grace-period', '2s', '--shutdown-grace', `${SHUTDOWN_GRACE_MS}ms`],
        serveOut,
        // 64 KiB may wait for a stalled reader before lines are dropped (default 1 MiB): drops within seconds.
        { XDSIM_LOG_QUEUE_BYTES: String(64 << 10) },
      );
      const ready = await waitUntil(async () => {
        serveOut.poll();
        const r = await fetch(`http://127.0.0.1:${admin}/ready`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
        return r?.status === 200;
      }, 30_000);
      expect(ready, serveOut.text.slice(-2000)).toBe(true);

      const agents = start(
        ['agents', '--xds', `127.0.0.1:${xds}`, '--namespace', NS, '--group', GROUP, '--labels', 'app=vm', '--count', '100', '--duration', '120s',
          '--churn', 'disconnect:fraction=30%,every=500ms,down=100ms', '--connect-timeout', '3s', '--progress', 'plain', '--workers', '0'],
        agentsOut,
      );
      // Warm-up, reading both outputs: agents connect and churn, the server logs.
      const warmEnd = Date.now() + 4_000;
      while (Date.now() < warmEnd) {
        serveOut.poll();
        agentsOut.poll();
        await sleep(50);
      }
      expect(serveOut.text).toContain('xdsim serving');
      const connected = Number(metricValue(await metrics(admin), 'pilot_xds') ?? 0);
      expect(connected, 'agents connected before the fault').toBeGreaterThan(0);
      const droppedBefore = Number(metricValue(await metrics(admin), 'xdsim_log_lines_dropped_total') ?? -1);
      expect(droppedBefore).toBe(0);

      if (fault === 'stall') {
        const filled = [serveOut.stall(), agentsOut.stall()];
        console.log(`stall: filled the FIFOs with ${filled.join(' and ')} bytes`);
      } else {
        serveOut.vanish();
        agentsOut.vanish();
      }
      // The fault lasts a while; the server keeps answering (its event loop is free) and drops lines.
      let dropped = 0;
      let readyAnswers = 0;
      const faultEnd = Date.now() + 4_000;
      while (Date.now() < faultEnd) {
        const r = await fetch(`http://127.0.0.1:${admin}/ready`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
        if (r?.status === 200) readyAnswers++;
        await sleep(200);
      }
      const m = await metrics(admin);
      dropped = Number(metricValue(m, 'xdsim_log_lines_dropped_total') ?? 0);
      const stillConnected = Number(metricValue(m, 'pilot_xds') ?? 0);
      console.log(`${fault}: /ready answered ${readyAnswers} times during the fault; ${dropped} log lines dropped; ${stillConnected} streams`);
      expect(readyAnswers).toBeGreaterThanOrEqual(10);
      expect(dropped).toBeGreaterThan(0);
      expect(stillConnected).toBeGreaterThan(0);

      const a = await sigtermExit(agents, AGENTS_GRACE_MS + 5_000);
      const s = await sigtermExit(serve, SHUTDOWN_GRACE_MS + 5_000);
      console.log(`${fault}: after SIGTERM agents exited in ${a.ms} ms (code ${a.code}, signal ${a.signal}), serve in ${s.ms} ms (code ${s.code}, signal ${s.signal})`);
      expect(a.ms, 'agents still running after SIGTERM').toBeDefined();
      expect(a.ms!).toBeLessThan(AGENTS_GRACE_MS);
      expect(a.signal, 'agents handled SIGTERM itself').toBeNull();
      expect(s.ms, 'serve still running after SIGTERM').toBeDefined();
      expect(s.ms!).toBeLessThan(SHUTDOWN_GRACE_MS);
      expect(s.signal).toBeNull();
      expect(s.code).toBe(0);
    });
  }
});
