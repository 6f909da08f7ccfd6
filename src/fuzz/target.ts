// The server under fuzz: the real `xdsim serve` as a child process, so a crash is an exit we can
// see (not a dead test runner), its memory is its own (RSS sampled from /proc), and its log is
// the pino output it really writes (counted per kind to prove there is no flood).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FUZZ_MESH_YAML } from './mesh.js';

const BIN = fileURLToPath(new URL('../../bin/xdsim.js', import.meta.url));

export interface LogKind {
  level: number;
  /** `kind` field when the line has one (rate-limited warnings), else the message. */
  key: string;
  count: number;
  first: string;
}

export interface FuzzTarget {
  readonly pid: number;
  readonly xdsPort: number;
  readonly adminPort: number;
  /** Exit code or signal once the process is gone, undefined while it runs. */
  exit(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Log lines per (level, kind) so far. */
  logKinds(): LogKind[];
  logLines(): number;
  /** What the process wrote to stderr (first 100 kB): a crash's stack. */
  stderr(): string;
  /** Peak and last sampled resident set size, bytes. */
  rss(): { peak: number; last: number; samples: number };
  /** Rejection counters scraped from /metrics. */
  metrics(): Promise<Map<string, number>>;
  stop(): Promise<void>;
}

export interface TargetOptions {
  /** Extra `xdsim serve` flags. */
  args?: string[];
  /** RSS sampling period (default 100 ms). */
  sampleMs?: number;
  /** Forwarded to `node` (e.g. --max-old-space-size). */
  nodeArgs?: string[];
}

function readRss(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Starts `xdsim serve` on loopback ports chosen by the OS, serving the fuzz mesh. */
export async function startServeTarget(opts: TargetOptions = {}): Promise<FuzzTarget> {
  const dir = mkdtempSync(path.join(tmpdir(), 'xdsim-fuzz-'));
  const mesh = path.join(dir, 'mesh.yaml');
  writeFileSync(mesh, FUZZ_MESH_YAML);
  const args = [...(opts.nodeArgs ?? []), BIN, 'serve', '-f', mesh, '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--log-level', 'info', ...(opts.args ?? [])];
  const proc: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  // A driver that dies (or is interrupted) must not leave a server behind.
  const reap = () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  };
  process.once('exit', reap);
  const kinds = new Map<string, LogKind>();
  let lines = 0;
  let partial = '';
  let stderr = '';
  let ports: { xds: number; admin: number } | undefined;
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<void>((resolve) =>
    proc.on('exit', (code, signal) => {
      exit = { code, signal };
      resolve();
    }),
  );
  proc.stdout!.on('data', (d: Buffer) => {
    const text = partial + d.toString('utf8');
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      if (!line) continue;
      lines++;
      let j: { level?: number; kind?: string; msg?: string; xds?: number; admin?: number };
      try {
        j = JSON.parse(line) as typeof j;
      } catch {
        j = { level: 60, msg: `unparsable: ${line.slice(0, 200)}` };
      }
      if (j.msg === 'xdsim serving' && j.xds !== undefined && j.admin !== undefined) ports = { xds: j.xds, admin: j.admin };
      const key = `${j.level ?? 0}\u0000${j.kind ?? j.msg ?? ''}`;
      const k = kinds.get(key);
      if (k) k.count++;
      else kinds.set(key, { level: j.level ?? 0, key: j.kind ?? j.msg ?? '', count: 1, first: line.slice(0, 500) });
    }
  });
  proc.stderr!.on('data', (d: Buffer) => {
    if (stderr.length < 100_000) stderr += d.toString('utf8');
  });

  const rss = { peak: 0, last: 0, samples: 0 };
  const sample = () => {
    if (exit || proc.pid === undefined) return;
    const v = readRss(proc.pid);
    if (v === undefined) return;
    rss.last = v;
    rss.samples++;
    if (v > rss.peak) rss.peak = v;
  };
  const sampler = setInterval(sample, opts.sampleMs ?? 100);
  sampler.unref();

  const deadline = Date.now() + 30_000;
  while (!ports) {
    if (exit) throw new Error(`xdsim serve exited before serving (${JSON.stringify(exit)}):\n${stderr}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`xdsim serve did not start:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const { xds, admin } = ports;
  sample();

  return {
    pid: proc.pid!,
    xdsPort: xds,
    adminPort: admin,
    exit: () => exit,
    logKinds: () => [...kinds.values()].sort((a, b) => b.count - a.count),
    logLines: () => lines,
    stderr: () => stderr,
    rss: () => {
      sample();
      return { ...rss };
    },
    async metrics() {
      const res = await fetch(`http://127.0.0.1:${admin}/metrics`);
      return parseCounters(await res.text());
    },
    async stop() {
      clearInterval(sampler);
      process.off('exit', reap);
      if (!exit) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `name{labels} value` lines of counters and gauges -> map keyed by `name{labels}`. */
export function parseCounters(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    const v = Number(line.slice(i + 1));
    if (Number.isFinite(v)) out.set(line.slice(0, i), v);
  }
  return out;
}

/** Sum of a metric over its label sets, optionally only those whose labels match `filter`. */
export function metricSum(m: Map<string, number>, name: string, filter?: (labels: string) => boolean): number {
  let total = 0;
  for (const [k, v] of m) {
    if (k !== name && !k.startsWith(`${name}{`)) continue;
    if (filter && !filter(k.slice(name.length))) continue;
    total += v;
  }
  return total;
}
