// Connect storm: N simulated istio-agents all arrive within a few seconds at `xdsim serve` (a
// child process, so its event loop and memory are its own), auto-register and report health.
// Checks that every one is registered exactly once, that nothing is left behind once the fleet is
// gone (after the grace period and a sweep), and reports the server's event-loop delay over the
// storm (perf_hooks, from its /metrics), peak RSS and CPU seconds of both sides.
//
// By default it is a reconnect storm (istiod restarts, a partition heals): the VMs and their
// agents exist already, so every agent is prepared before the window opens (its gRPC channel
// object, its first probe result) and the window holds the connections, streams, registrations
// and health reports. `--no-prepare` is a cold start: agents are built inside the window too.
// The result's `mode` lists what happened before and inside the window.
//
//   npm run bench:storm                       # 10,000 agents within 5 s
//   npm run bench:storm -- --count 1000       # quick
//   npm run bench:storm -- --no-prepare       # cold start
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

/** Deletions per second after the grace period (xdsim serve --cleanup-rate). */
const CLEANUP_RATE = 500;

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
  /**
   * Reconnect storm (default): every agent is built before the window as the agent of a VM that
   * already exists (gRPC channel object, idle; first probe result), so the window holds only
   * connections, streams, registrations and health reports. false: agents are created inside the
   * window too (a fleet of new VMs all booting at once).
   */
  prepare?: boolean;
  log?: (line: string) => void;
}

/** What happened before the window opened and what inside it: the result says which storm it measured. */
export interface StormMode {
  kind: 'reconnect (prepared agents)' | 'cold start';
  beforeWindow: string[];
  inWindow: string[];
  /** Seconds spent preparing agents before the window (0 when not prepared). */
  prepareS: number;
}

export interface StormResult {
  date: string;
  node: string;
  cpus: number;
  /** 1-minute load average before and after: the box is shared, so numbers need this context. */
  loadAvg: { before: number; after: number };
  config: { count: number; windowS: number; workers: number; graceS: number; probePeriodS: number; prepare: boolean };
  mode: StormMode;
  agents: FleetSummary['agents'];
  /**
   * Seconds from the window's start until all agents were started (connection attempt made) /
   * connected (the server has the stream: a response, or an HTTP/2 PING on the stream's
   * connection answered) / in EDS; null: not within the bound. Started later than the window:
   * the fleet itself could not keep the pace.
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
  /**
   * CPU seconds from the window's start until all were registered (or the bound): the server
   * (one event loop: it cannot use more than one core) and the fleet process (all its threads).
   * A server near `allRegisteredS` CPU seconds was the bottleneck.
   */
  cpuS: { server: number | null; fleet: number };
  latencyMs: { connect: LatencySummary; edsVisible: LatencySummary; healthConverged: LatencySummary };
  errors: FleetSummary['counters']['errors'];
  errorSamples: FleetSummary['errorSamples'];
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

/** User + system CPU seconds of a process so far, from /proc (Linux); null elsewhere. */
function procCpuS(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime + stime, in clock ticks (USER_HZ: 100 on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

const fleetCpuS = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

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

const PREPARED: Pick<StormMode, 'beforeWindow' | 'inWindow'> = {
  beforeWindow: [
    'agents constructed (identity, encoded Node, backoff, probe runner)',
    "each agent's grpc-js Client/channel object built (idle: no resolution, no socket)",
    'first probe result taken (simulated probe): the first stream reports it',
    'fleet worker threads loaded',
  ],
  inWindow: [
    'connection attempts released at count/window per second: channel resolution and load balancing, TCP connect, HTTP/2 handshake, ADS stream, first requests (Node, EDS subscription, health)',
    'server: accept, auto-registration, health, EDS pushes to the observer',
  ],
};

const COLD: Pick<StormMode, 'beforeWindow' | 'inWindow'> = {
  beforeWindow: ['fleet worker threads loaded'],
  inWindow: [
    'agents constructed and connected at count/window per second: identity, Node encoding, gRPC channel, TCP, HTTP/2, ADS stream, first requests',
    'probes start at a random point of their period: health is reported up to one period later',
    'server: accept, auto-registration, health, EDS pushes to the observer',
  ],
};

export async function runStorm(o: StormOptions): Promise<StormResult> {
  const log = o.log ?? (() => {});
  const prepare = o.prepare ?? true;
  const loadBefore = round(os.loadavg()[0]!);
  const dir = mkdtempSync(join(tmpdir(), 'xdsim-storm-'));
  const mesh = join(dir, 'mesh.yaml');
  writeFileSync(mesh, meshYaml());
  // Plaintext agents without tokens: identity validation off (it would refuse them all).
  // The storm is about connecting; its cleanup goes faster than istiod's 20 entries/s.
  const server = await serve(['--validate-identity', 'false', '-f', mesh, '--grace-period', `${o.graceMs}ms`, '--cleanup-rate', String(CLEANUP_RATE), '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--log-level', 'info']);
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
      prepare,
    });
    fleet = new Fleet(config);
    let last: FleetProgress | undefined;
    let startedAt = 0;
    let windowStart: Promise<unknown> = Promise.resolve();
    const runCalledAt = performance.now();
    let cpuAtStart = { server: null as number | null, fleet: 0 };
    const run = fleet.run({
      // Scraping here starts the server's event-loop window just as the first agent starts.
      onReady: () => {
        windowStart = scrape(server.admin);
        startedAt = performance.now();
        cpuAtStart = { server: procCpuS(pid), fleet: fleetCpuS() };
        log(`window open${prepare ? ` (${o.count} agents prepared in ${((startedAt - runCalledAt) / 1000).toFixed(1)} s)` : ''}: ${o.count} connections released over ${o.windowMs / 1000} s`);
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
    const serverCpu = procCpuS(pid);
    const cpuS = {
      server: serverCpu !== null && cpuAtStart.server !== null ? round(serverCpu - cpuAtStart.server) : null,
      fleet: round(fleetCpuS() - cpuAtStart.fleet),
    };
    await windowStart;
    const storm = await scrape(server.admin);
    const memAtRegistered = procMemory(pid);
    const list = await entries(server.admin);
    const duplicated = list.length - new Set(list.map((e) => e.name)).size + (list.length - new Set(list.map((e) => e.address)).size);
    log(
      `storm: started ${allStartedS ?? '-'} s, connected ${allConnectedS ?? '-'} s, registered ${allRegisteredS ?? '-'} s; entries ${list.length}; event loop p50/p99/max ${storm.p50}/${storm.p99}/${storm.max} ms; CPU s server ${cpuS.server ?? '-'} fleet ${cpuS.fleet}`,
    );

    fleet.stop();
    const summary = await run;
    fleet = undefined;
    // Gone: every connection closes now, so entries go after the grace period (sweep as backstop).
    const stoppedAt = performance.now();
    let left = list.length;
    const leakBound = Date.now() + 2 * o.graceMs + (list.length * 1000) / CLEANUP_RATE + 30_000;
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
      config: { count: o.count, windowS: o.windowMs / 1000, workers: o.workers, graceS: o.graceMs / 1000, probePeriodS: o.probePeriodMs / 1000, prepare },
      mode: {
        kind: prepare ? 'reconnect (prepared agents)' : 'cold start',
        ...(prepare ? PREPARED : COLD),
        // Worker start-up (module loading) is in here too with workers; small next to 10,000 agents.
        prepareS: prepare ? round((startedAt - runCalledAt) / 1000) : 0,
      },
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
      cpuS,
      latencyMs: { connect: summary.latency.connect, edsVisible: summary.latency.edsVisible, healthConverged: summary.latency.healthConverged },
      errors: summary.counters.errors,
      errorSamples: summary.errorSamples.slice(0, 5),
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
    // CPU (measured, 10,000 prepared agents: 2 workers started them all in 6.4 s but the starved
    // server had them connected only after 16.4 s, against 14.4 s with the main thread alone).
    .option('--workers <n>', 'fleet worker threads (0: the main thread)', (v) => Number(v), Math.max(0, Math.min(4, os.availableParallelism() - 2)))
    .option('--grace <seconds>', 'server --grace-period', (v) => Number(v), 5)
    .option('--probe-period <seconds>', 'probe period of every agent', (v) => Number(v), 10)
    .option('--bound <seconds>', 'give up waiting for registration after this long', (v) => Number(v), 180)
    .option('--no-prepare', 'cold start: build the agents inside the window too (default: a reconnect storm of prepared agents)')
    .parse();
  const o = program.opts<{ count: number; window: number; workers: number; grace: number; probePeriod: number; bound: number; prepare: boolean }>();
  // The fleet may run on this thread: grpc-js reads error.stack at the end of failed calls, and
  // tsx's source-mapped stacks make that expensive (the worker threads do the same).
  process.setSourceMapsEnabled(false);
  process.stderr.write(`bench storm: ${o.count} agents within ${o.window}s, ${o.workers} workers, grace ${o.grace}s, ${o.prepare ? 'prepared (reconnect storm)' : 'cold start'}\n`);
  const result = await runStorm({
    prepare: o.prepare,
    count: o.count,
    windowMs: o.window * 1000,
    workers: o.workers,
    graceMs: o.grace * 1000,
    probePeriodMs: o.probePeriod * 1000,
    convergeBoundMs: o.bound * 1000,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const prev = readLatest()['storm'] as { runs?: Record<string, StormResult> } | undefined;
  // One entry per count, mode and worker threads: `10000` (prepared, fleet on this thread),
  // `10000-cold`, `10000-w2`... a variant does not overwrite the default run.
  const key = `${o.count}${o.prepare ? '' : '-cold'}${o.workers > 0 ? `-w${o.workers}` : ''}`;
  const runs = { ...(prev?.runs ?? {}), [key]: result };
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
