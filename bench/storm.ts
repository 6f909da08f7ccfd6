// Connect storm: N simulated istio-agents all arrive within a few seconds at `xdsim serve` (a
// child process, so its event loop and memory are its own), auto-register and report health.
// Checks that every one is registered exactly once, that nothing is left behind once the fleet is
// gone (after the grace period and a sweep), and reports the server's event-loop delay over the
// storm (perf_hooks, from its /metrics) and peak RSS of both sides.
//
//   npm run bench:storm                       # 10,000 agents within 5 s
//   npm run bench:storm -- --count 1000       # quick
//
// Results are merged into bench/results/latest.json under `storm.runs[<count>]`. The bounded CI
// version (test/faults/storm.test.ts) runs `runStorm` with 1,000 agents and writes nothing.
//
// Agents subscribe to a small idle cluster that registrations do not change, and one observer
// stream per worker watches the VM cluster to tell when each agent's IP is in EDS: the load is the
// storm itself (connections, registrations, health), not N x N endpoint pushes.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { stringify } from 'yaml';
import { fleetConfig } from '../src/fleet/config.js';
import { Fleet, type FleetProgress } from '../src/fleet/fleet.js';
import type { FleetSummary } from '../src/fleet/summary.js';
import type { LatencySummary } from '../src/fleet/histogram.js';
import { mergeIntoLatest, readLatest } from './results-file.js';

const BIN = fileURLToPath(new URL('../bin/xdsim.js', import.meta.url));
const NS = 'storm';
const GROUP = 'vm';
const IDLE_CLUSTER = `outbound|80||idle.${NS}.svc.cluster.local`;

export interface StormOptions {
  count: number;
  /** All agents start connecting within this window (the ramp is count / window). */
  windowMs: number;
  /** Fleet worker threads (0: on this thread). */
  workers: number;
  /** Server --grace-period. */
  graceMs: number;
  probePeriodMs: number;
  /** Bound on waiting for every agent to be connected and in EDS. */
  convergeBoundMs: number;
  log?: (line: string) => void;
}

export interface StormResult {
  date: string;
  node: string;
  cpus: number;
  /** 1-minute load average before and after: the box is shared, so numbers need this context. */
  loadAvg: { before: number; after: number };
  config: { count: number; windowS: number; workers: number; graceS: number; probePeriodS: number };
  agents: FleetSummary['agents'];
  /**
   * Seconds from the first agent's start until all were started / connected / in EDS (null: not
   * within the bound). Started later than the window: the fleet itself could not keep the pace.
   */
  allStartedS: number | null;
  allConnectedS: number | null;
  allRegisteredS: number | null;
  /** Server-side, once all were registered. */
  entries: { count: number; healthy: number; duplicated: number; serverConnections: number | null };
  /** Entries left after the fleet stopped and grace + sweep passed (must be 0). */
  leaked: number;
  entriesGoneS: number | null;
  /** Server event-loop delay over the storm (first agent until all registered). */
  eventLoopDelayMs: { p50: number | null; p99: number | null; max: number | null };
  memory: { serverPeakRssBytes: number | null; serverRssAtRegisteredBytes: number | null; fleetPeakRssBytes: number };
  latencyMs: { connect: LatencySummary; edsVisible: LatencySummary; healthConverged: LatencySummary };
  errors: FleetSummary['counters']['errors'];
}

function meshYaml(): string {
  const labels = { app: GROUP };
  const docs = [
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'WorkloadGroup',
      metadata: { name: GROUP, namespace: NS },
      spec: { metadata: { labels }, template: { ports: { http: 8080 }, serviceAccount: GROUP }, probe: { httpGet: { port: 8080, path: '/ready' } } },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: GROUP, namespace: NS }, spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'idle', namespace: NS }, spec: { selector: { app: 'idle' }, ports: [{ name: 'http', port: 80, targetPort: 9090 }] } },
    { apiVersion: 'networking.istio.io/v1', kind: 'WorkloadEntry', metadata: { name: 'idle-1', namespace: NS }, spec: { address: '10.99.0.1', labels: { app: 'idle' } } },
  ];
  return docs.map((d) => stringify(d)).join('---\n');
}

interface Served {
  proc: ChildProcess;
  xds: number;
  admin: number;
  exited: Promise<number | null>;
}

/** `xdsim serve` as a child; resolves once it logs its ports (bounded). */
async function serve(args: string[], timeoutMs = 30_000): Promise<Served> {
  const proc = spawn(process.execPath, [BIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  let head = '';
  let tail = '';
  // Always drained (a full pipe would stall the server); only the start and the end are kept.
  proc.stdout!.on('data', (d: Buffer) => {
    if (head.length < 64 * 1024) head += d.toString();
  });
  proc.stderr!.on('data', (d: Buffer) => (tail = (tail + d.toString()).slice(-4096)));
  const end = Date.now() + timeoutMs;
  while (Date.now() < end && proc.exitCode === null) {
    const line = head.split('\n').find((l) => l.includes('xdsim serving'));
    if (line) {
      const j = JSON.parse(line) as { xds: number; admin: number };
      return { proc, xds: j.xds, admin: j.admin, exited };
    }
    await sleep(50);
  }
  proc.kill('SIGKILL');
  throw new Error(`xdsim serve did not start:\n${head}\n${tail}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

/** VmRSS / VmHWM (peak) of a process, from /proc (Linux); null elsewhere. */
function procMemory(pid: number): { rss: number | null; peak: number | null } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => {
      const m = new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status);
      return m ? Number(m[1]) * 1024 : null;
    };
    return { rss: kb('VmRSS'), peak: kb('VmHWM') };
  } catch {
    return { rss: null, peak: null };
  }
}

async function entries(admin: number): Promise<{ name: string; address: string; healthy: boolean }[]> {
  const r = await fetch(`http://127.0.0.1:${admin}/debug/configz?kind=WorkloadEntry&namespace=${NS}`, { signal: AbortSignal.timeout(30_000) });
  const list = (await r.json()) as { metadata: { name: string; annotations?: Record<string, string> }; spec: { address?: string }; status?: { conditions?: { type: string; status: string }[] } }[];
  return list
    .filter((e) => e.metadata.annotations?.['istio.io/autoRegistrationGroup'])
    .map((e) => ({ name: e.metadata.name, address: e.spec.address ?? '', healthy: !!e.status?.conditions?.some((c) => c.type === 'Healthy' && c.status === 'True') }));
}

/** Scrapes /metrics; the event-loop gauges cover the time since the previous scrape. */
async function scrape(admin: number): Promise<{ p50: number | null; p99: number | null; max: number | null; connections: number | null }> {
  const text = await (await fetch(`http://127.0.0.1:${admin}/metrics`, { signal: AbortSignal.timeout(30_000) })).text();
  const value = (sample: string): number | null => {
    const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
    return line ? Number(line.slice(sample.length + 1)) : null;
  };
  const ms = (s: number | null) => (s === null ? null : round(s * 1000, 1));
  return {
    p50: ms(value('xdsim_event_loop_delay_seconds{quantile="0.5"}')),
    p99: ms(value('xdsim_event_loop_delay_seconds{quantile="0.99"}')),
    max: ms(value('xdsim_event_loop_delay_seconds{quantile="1"}')),
    connections: value('pilot_xds'),
  };
}

export async function runStorm(o: StormOptions): Promise<StormResult> {
  const log = o.log ?? (() => {});
  const loadBefore = round(os.loadavg()[0]!);
  const dir = mkdtempSync(join(tmpdir(), 'xdsim-storm-'));
  const mesh = join(dir, 'mesh.yaml');
  writeFileSync(mesh, meshYaml());
  const server = await serve(['-f', mesh, '--grace-period', `${o.graceMs}ms`, '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--log-level', 'info']);
  const pid = server.proc.pid!;
  let fleet: Fleet | undefined;
  try {
    // The fleet stops itself at this deadline at the latest; normally it is stopped once converged.
    const durationMs = o.windowMs + o.convergeBoundMs + 10_000;
    const config = fleetConfig({
      xds: `127.0.0.1:${server.xds}`,
      count: o.count,
      namespace: NS,
      group: GROUP,
      labels: { app: GROUP },
      durationMs,
      rampPerSec: o.count / (o.windowMs / 1000),
      workers: o.workers,
      subscription: { cds: false, eds: [IDLE_CLUSTER] },
      watch: 'observer',
      probe: { initialDelayMs: 0, periodMs: o.probePeriodMs, timeoutMs: 1_000, successThreshold: 1, failureThreshold: 1 },
      // grpc-go's minimum connect deadline (istio-agent's): on a small box the simulated fleet, not
      // the server, is what runs short of CPU, and a tighter bound only measures its retries.
      connectTimeoutMs: 20_000,
      progressIntervalMs: 250,
    });
    fleet = new Fleet(config);
    let last: FleetProgress | undefined;
    let startedAt = 0;
    let windowStart: Promise<unknown> = Promise.resolve();
    const run = fleet.run({
      // Scraping here starts the server's event-loop window just as the first agent starts.
      onReady: () => {
        windowStart = scrape(server.admin);
        startedAt = performance.now();
      },
      onProgress: (p) => (last = p),
    });
    let allStartedS: number | null = null;
    let allConnectedS: number | null = null;
    let allRegisteredS: number | null = null;
    let tick = 0;
    const bound = Date.now() + o.windowMs + o.convergeBoundMs + 30_000;
    while (Date.now() < bound) {
      await sleep(250);
      if (!startedAt) continue;
      const p = last;
      const t = (performance.now() - startedAt) / 1000;
      if (allStartedS === null && p?.started === o.count) allStartedS = round(t);
      if (allConnectedS === null && p?.connected === o.count) allConnectedS = round(t);
      if (p?.connected === o.count && p.visible === o.count) {
        allRegisteredS = round(t);
        break;
      }
      if (t > (o.windowMs + o.convergeBoundMs) / 1000) break;
      if (++tick % 8 === 0) log(`  ${t.toFixed(0)}s started ${p?.started ?? 0} connected ${p?.connected ?? 0} in-eds ${p?.visible ?? 0} errors ${p?.errors ?? 0}`);
    }
    await windowStart;
    const storm = await scrape(server.admin);
    const memAtRegistered = procMemory(pid);
    const list = await entries(server.admin);
    const duplicated = list.length - new Set(list.map((e) => e.name)).size + (list.length - new Set(list.map((e) => e.address)).size);
    log(`storm: started ${allStartedS ?? '-'} s, connected ${allConnectedS ?? '-'} s, registered ${allRegisteredS ?? '-'} s; entries ${list.length}; event loop p50/p99/max ${storm.p50}/${storm.p99}/${storm.max} ms`);

    fleet.stop();
    const summary = await run;
    fleet = undefined;
    // Gone: every connection closes now, so entries go after the grace period (sweep as backstop).
    const stoppedAt = performance.now();
    let left = list.length;
    const leakBound = Date.now() + 2 * o.graceMs + 30_000;
    while (Date.now() < leakBound) {
      left = (await entries(server.admin)).length;
      if (left === 0) break;
      await sleep(1_000);
    }
    const entriesGoneS = left === 0 ? round((performance.now() - stoppedAt) / 1000) : null;
    const serverPeak = procMemory(pid).peak;
    log(`after stop: ${left} entries left${entriesGoneS !== null ? ` (all gone in ${entriesGoneS} s)` : ''}`);
    return {
      date: new Date().toISOString(),
      node: process.version,
      cpus: os.availableParallelism(),
      loadAvg: { before: loadBefore, after: round(os.loadavg()[0]!) },
      config: { count: o.count, windowS: o.windowMs / 1000, workers: o.workers, graceS: o.graceMs / 1000, probePeriodS: o.probePeriodMs / 1000 },
      agents: summary.agents,
      allStartedS,
      allConnectedS,
      allRegisteredS,
      entries: { count: list.length, healthy: list.filter((e) => e.healthy).length, duplicated, serverConnections: storm.connections },
      leaked: left,
      entriesGoneS,
      eventLoopDelayMs: { p50: storm.p50, p99: storm.p99, max: storm.max },
      memory: {
        serverPeakRssBytes: serverPeak,
        serverRssAtRegisteredBytes: memAtRegistered.rss,
        // maxRSS is in KiB; worker threads share this process, so it covers the whole fleet.
        fleetPeakRssBytes: process.resourceUsage().maxRSS * 1024,
      },
      latencyMs: { connect: summary.latency.connect, edsVisible: summary.latency.edsVisible, healthConverged: summary.latency.healthConverged },
      errors: summary.counters.errors,
    };
  } finally {
    fleet?.stop();
    server.proc.kill('SIGTERM');
    if ((await Promise.race([server.exited.then(() => true), sleep(10_000).then(() => false)])) === false) server.proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const program = new Command('bench-storm')
    .option('--count <n>', 'agents', (v) => Number(v), 10_000)
    .option('--window <seconds>', 'every agent starts connecting within this window', (v) => Number(v), 5)
    // The server needs a core of its own: on a 2-core box extra fleet threads only fight it for
    // CPU (measured: 2 workers took 3-4x longer to converge than the main thread alone).
    .option('--workers <n>', 'fleet worker threads (0: the main thread)', (v) => Number(v), Math.max(0, Math.min(4, os.availableParallelism() - 2)))
    .option('--grace <seconds>', 'server --grace-period', (v) => Number(v), 5)
    .option('--probe-period <seconds>', 'probe period of every agent', (v) => Number(v), 10)
    .option('--bound <seconds>', 'give up waiting for registration after this long', (v) => Number(v), 180)
    .parse();
  const o = program.opts<{ count: number; window: number; workers: number; grace: number; probePeriod: number; bound: number }>();
  process.stderr.write(`bench storm: ${o.count} agents within ${o.window}s, ${o.workers} workers, grace ${o.grace}s\n`);
  const result = await runStorm({
    count: o.count,
    windowMs: o.window * 1000,
    workers: o.workers,
    graceMs: o.grace * 1000,
    probePeriodMs: o.probePeriod * 1000,
    convergeBoundMs: o.bound * 1000,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const prev = readLatest()['storm'] as { runs?: Record<string, StormResult> } | undefined;
  const runs = { ...(prev?.runs ?? {}), [String(o.count)]: result };
  mergeIntoLatest({
    storm: {
      description:
        'Connect storm: N agents start within the window against `xdsim serve` (child process), auto-register with health; entries must be N with none duplicated, and 0 after the fleet stops and the grace period passes. Event-loop delay: the server over the storm.',
      runs,
    },
  });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  const ok = result.agents.connected === o.count && result.entries.count === o.count && result.entries.duplicated === 0 && result.leaked === 0;
  if (!ok) {
    process.stderr.write('bench storm: FAILED (not all registered, duplicated or leaked entries)\n');
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
