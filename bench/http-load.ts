// `npm run bench:http`: HTTP load on the admin API of an embedded control plane while simulated
// agents hold ADS streams, and what that load does to xDS push convergence.
//
//   npm run bench:http                                  # 200 agents, 5 s per phase
//   npm run bench:http -- --agents 500 --duration 10 --connections 16
//
// Phases, one after another: idle (no HTTP: the convergence reference), GET /debug/syncz,
// GET /debug/configz, GET /metrics, POST /apply (WorkloadEntry weight flips, each a real change
// pushed to every agent), then all four at once. A background change every 250 ms in every phase
// measures convergence even when the HTTP load itself changes nothing.
//
// The control plane and the fleet (one worker thread) live in this process; autocannon runs in a
// child process so the load generator does not share the server's event loop. Results are
// printed and merged as the `http` section of bench/results/latest.json.
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import Table from 'cli-table3';
import { stringify } from 'yaml';
import type { Resource, WorkloadEntry } from '../src/config/resources.js';
import { Fleet, type FleetProgress } from '../src/fleet/fleet.js';
import { fleetConfig } from '../src/fleet/config.js';
import { newHistogram, recordMs, summarize, type Histogram, type LatencySummary } from '../src/fleet/histogram.js';
import { startControlPlane, type ControlPlane } from '../src/server/control-plane.js';
import { generateMesh, meshLocalities, type MeshOptions } from '../src/topology/generate.js';
import { DEFAULT_DEBOUNCE } from '../src/xds/push/debounce.js';
import type { PushSummary } from '../src/xds/push/push.js';
import { mergeIntoLatest } from './results-file.js';

const MESH: MeshOptions = {
  regions: 3,
  zonesPerRegion: 3,
  subzonesPerZone: 3,
  services: 20,
  namespaces: 2,
  totalEntries: 2000,
  weights: 'random',
  destinationRules: 'failover',
  seed: 7,
};

interface Stream {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  connections: number;
  /** POST bodies, sent in turn (each one a change from the last time its entry was sent). */
  bodies?: string[];
}

interface Phase {
  name: string;
  streams: Stream[];
}

interface StreamResult {
  name: string;
  method: string;
  path: string;
  connections: number;
  requests: number;
  rps: number;
  latency: { p50Ms: number; p90Ms: number; p99Ms: number; maxMs: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  bytesPerSec: number;
}

interface ClientTask {
  url: string;
  durationSec: number;
  streams: Stream[];
}

// ---- client role: autocannon in its own process ------------------------------------------------

/** The part of autocannon's API used here (the package ships no types). */
interface AutocannonResult {
  duration: number;
  latency: Record<string, number>;
  requests: { total: number; average: number };
  throughput: { average: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
}
interface AutocannonRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (req: AutocannonRequest) => AutocannonRequest;
}
type Autocannon = (opts: {
  url: string;
  connections: number;
  duration: number;
  requests: AutocannonRequest[];
}) => PromiseLike<AutocannonResult>;

async function clientRole(): Promise<void> {
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
  const task = await new Promise<ClientTask>((resolve) => process.once('message', (m) => resolve(m as ClientTask)));
  const results = await Promise.all(
    task.streams.map(async (s): Promise<StreamResult> => {
      let k = 0;
      const bodies = s.bodies;
      const request: AutocannonRequest = { method: s.method, path: s.path };
      if (bodies?.length) {
        request.headers = { 'content-type': 'application/yaml' };
        // A counter shared by this stream's connections: consecutive requests flip different entries.
        request.setupRequest = (req) => ({ ...req, body: bodies[k++ % bodies.length]! });
      }
      const r = await autocannon({ url: task.url, connections: s.connections, duration: task.durationSec, requests: [request] });
      const requests = r['2xx'] + r.non2xx;
      return {
        name: s.name,
        method: s.method,
        path: s.path,
        connections: s.connections,
        requests,
        rps: requests / r.duration,
        latency: { p50Ms: r.latency['p50'] ?? NaN, p90Ms: r.latency['p90'] ?? NaN, p99Ms: r.latency['p99'] ?? NaN, maxMs: r.latency['max'] ?? NaN },
        errors: r.errors,
        timeouts: r.timeouts,
        non2xx: r.non2xx,
        bytesPerSec: r.throughput.average,
      };
    }),
  );
  process.send!(results, () => process.exit(0));
}

function runClient(task: ClientTask): Promise<StreamResult[]> {
  return new Promise((resolve, reject) => {
    // fork() carries execArgv over: tsx's loader comes along.
    const child = fork(fileURLToPath(import.meta.url), ['--role', 'client'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: StreamResult[] | undefined;
    child.once('message', (m) => (result = m as StreamResult[]));
    child.once('error', reject);
    child.once('exit', (code) => (result ? resolve(result) : reject(new Error(`autocannon client exited with ${code} before reporting`))));
    child.send(task);
  });
}

// ---- main role: control plane, fleet, phases ---------------------------------------------------

interface Options {
  agents: number;
  durationSec: number;
  connections: number;
  flipped: number;
  fleetWorkers: number;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { agents: 200, durationSec: 5, connections: 8, flipped: 50, fleetWorkers: 1 };
  const flags: Record<string, keyof Options> = {
    '--agents': 'agents',
    '--duration': 'durationSec',
    '--connections': 'connections',
    '--flipped': 'flipped',
    '--fleet-workers': 'fleetWorkers',
  };
  for (let i = 0; i < argv.length; i++) {
    const key = flags[argv[i]!];
    const v = Number(argv[i + 1]);
    if (!key || !Number.isInteger(v) || v < (key === 'fleetWorkers' ? 0 : 1)) {
      console.error(`bench:http: bad argument ${argv[i]} ${argv[i + 1] ?? ''}`);
      console.error('usage: npm run bench:http [-- --agents N] [--duration S] [--connections N] [--flipped N] [--fleet-workers N]');
      process.exit(2);
    }
    o[key] = v;
    i++;
  }
  return o;
}

/** Two YAML bodies per entry: weight + 1, then the original weight back. */
function flipBodies(entries: readonly WorkloadEntry[]): string[] {
  const up = entries.map((we) => stringify({ ...we, spec: { ...we.spec, weight: (we.spec.weight ?? 1) + 1 } }));
  const back = entries.map((we) => stringify(we));
  return [...up, ...back];
}

interface PhaseStats {
  pushes: Histogram;
  pushCount: number;
  nacks: number;
  timedOut: number;
  appliedChanges: number;
}

function newPhaseStats(): PhaseStats {
  return { pushes: newHistogram(), pushCount: 0, nacks: 0, timedOut: 0, appliedChanges: 0 };
}

async function waitFor(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every 250 ms one weight change straight into the store: convergence is measured in every phase. */
function backgroundChanges(cp: ControlPlane, entry: WorkloadEntry): () => void {
  let k = 0;
  const timer = setInterval(() => {
    const weight = (entry.spec.weight ?? 1) + (k++ % 2);
    cp.store.commit([{ op: 'apply', resource: { ...entry, spec: { ...entry.spec, weight } } }]);
  }, 250);
  return () => clearInterval(timer);
}

async function mainRole(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const resources: Resource[] = generateMesh(MESH);
  const entries = resources.filter((r): r is WorkloadEntry => r.kind === 'WorkloadEntry');
  const flipped = entries.slice(0, Math.min(o.flipped, entries.length - 1));
  const background = entries[entries.length - 1]!;

  const cp = await startControlPlane({ resources, xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', logLevel: 'warn' });
  const url = `http://127.0.0.1:${cp.adminPort}`;
  let stats = newPhaseStats();
  cp.xds.engine.onPushDone((p: PushSummary) => {
    // Pushes no stream needed are not convergence.
    if (p.streamsSent === 0) return;
    stats.pushCount++;
    stats.nacks += p.nacks;
    if (p.timedOut) stats.timedOut++;
    if (p.convergedMs !== undefined) recordMs(stats.pushes, p.convergedMs);
  });
  cp.store.subscribe((batch) => {
    for (const ev of batch) if (ev.type === 'updated' && ev.resource.kind === 'WorkloadEntry') stats.appliedChanges++;
  });

  const localities = meshLocalities(MESH)
    .slice(0, 3)
    .map((l) => {
      const [region = '', zone = '', subZone = ''] = l.split('/');
      return { locality: { region, zone, subZone }, weight: 1 };
    });
  const perPhaseMs = (o.durationSec + 2) * 1000;
  const fleet = new Fleet(
    fleetConfig({
      xds: `127.0.0.1:${cp.xdsPort}`,
      count: o.agents,
      // Long enough for every phase plus start-up; the fleet is stopped when the phases are done.
      durationMs: 60_000 + 6 * perPhaseMs,
      workers: o.fleetWorkers,
      probe: null,
      watch: 'none',
      subscription: { cds: true },
      localities,
      namePrefix: 'http-load',
      progressIntervalMs: 250,
    }),
  );
  let progress: FleetProgress | undefined;
  const fleetDone = fleet.run({ onProgress: (p) => (progress = p) });
  const t0 = Date.now();
  await waitFor(`${o.agents} agents to connect`, () => (progress?.connected ?? 0) >= o.agents, 60_000);
  // The first pushes (CDS, then EDS for every cluster) settle before anything is measured.
  await waitFor('initial pushes to settle', () => cp.xds.engine.openPushes().length === 0, 30_000);
  console.log(`${o.agents} agents connected (${cp.xds.connections.size} streams) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const bodies = flipBodies(flipped);
  const c = o.connections;
  const quarter = Math.max(1, Math.floor(c / 4));
  const get = (path: string, connections: number): Stream => ({ name: `GET ${path}`, method: 'GET', path, connections });
  const apply = (connections: number): Stream => ({ name: 'POST /apply', method: 'POST', path: '/apply', connections, bodies });
  const phases: Phase[] = [
    { name: 'idle', streams: [] },
    { name: 'syncz', streams: [get('/debug/syncz', c)] },
    { name: 'configz', streams: [get('/debug/configz', c)] },
    { name: 'metrics', streams: [get('/metrics', c)] },
    { name: 'apply', streams: [apply(c)] },
    { name: 'mixed', streams: [get('/debug/syncz', quarter), get('/debug/configz', quarter), get('/metrics', quarter), apply(quarter)] },
  ];

  const results: {
    name: string;
    streams: StreamResult[];
    appliedChanges: number;
    convergence: LatencySummary & { pushes: number; nacks: number; timedOut: number };
  }[] = [];
  for (const phase of phases) {
    stats = newPhaseStats();
    const stopBackground = backgroundChanges(cp, background);
    const streams = phase.streams.length ? await runClient({ url, durationSec: o.durationSec, streams: phase.streams }) : await sleep(o.durationSec * 1000, []);
    stopBackground();
    // Pushes started during the phase finish inside it.
    await waitFor('pushes to settle', () => cp.xds.engine.openPushes().length === 0, 30_000).catch(() => undefined);
    await sleep(300, undefined);
    results.push({
      name: phase.name,
      streams,
      appliedChanges: stats.appliedChanges,
      convergence: { ...summarize(stats.pushes), pushes: stats.pushCount, nacks: stats.nacks, timedOut: stats.timedOut },
    });
    const rps = streams.reduce((s, r) => s + r.rps, 0);
    console.log(`phase ${phase.name}: ${rps.toFixed(0)} req/s, ${stats.pushCount} pushes`);
  }

  const streamsAtEnd = cp.xds.connections.size;
  fleet.stop();
  const summary = await fleetDone;
  await cp.close();

  printTables(results);
  const doc = {
    agents: o.agents,
    streamsAtEnd,
    connections: o.connections,
    phaseSeconds: o.durationSec,
    mesh: { services: MESH.services, entries: MESH.totalEntries, flippedEntries: flipped.length },
    debounce: DEFAULT_DEBOUNCE,
    fleet: { connected: summary.agents.connected, errors: summary.agents.errors, failed: summary.agents.failed, nacks: summary.counters.nacks },
    phases: results,
    env: { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '', loadAverage: os.loadavg().map((x) => +x.toFixed(2)), date: new Date().toISOString() },
  };
  mergeIntoLatest({ http: doc });
  console.log('merged the "http" section into bench/results/latest.json');
}

function sleep<T>(ms: number, value: T): Promise<T> {
  return new Promise((r) => setTimeout(() => r(value), ms));
}

function printTables(results: { name: string; streams: StreamResult[]; appliedChanges: number; convergence: LatencySummary & { pushes: number; nacks: number; timedOut: number } }[]): void {
  // No colours when the output goes to a file or a CI log.
  const style = process.stdout.isTTY ? {} : { head: [], border: [] };
  const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(x < 10 ? 2 : 0) : '-');
  const http = new Table({
    head: ['phase', 'endpoint', 'conns', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'non-2xx'],
    colAligns: ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    style,
  });
  for (const p of results) {
    if (p.streams.length === 0) http.push([p.name, '(no HTTP load)', '', '', '', '', '', '', '']);
    for (const s of p.streams) http.push([p.name, s.name, s.connections, s.rps.toFixed(0), ms(s.latency.p50Ms), ms(s.latency.p99Ms), ms(s.latency.maxMs), s.errors + s.timeouts, s.non2xx]);
  }
  console.log(http.toString());
  const conv = new Table({
    head: ['phase', 'changes applied', 'pushes', 'converge p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'NACKs', 'timed out'],
    colAligns: ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    style,
  });
  for (const p of results) {
    const c = p.convergence;
    conv.push([p.name, p.appliedChanges, c.pushes, ms(c.p50Ms), ms(c.p90Ms), ms(c.p99Ms), ms(c.maxMs), c.nacks, c.timedOut]);
  }
  console.log(conv.toString());
  console.log(
    `convergence: first change of a push -> last agent ACK, including the ${DEFAULT_DEBOUNCE.debounceAfterMs} ms debounce; ` +
      `under continuous applies the debounce holds a push for up to ${DEFAULT_DEBOUNCE.debounceMaxMs / 1000} s (istiod's PILOT_DEBOUNCE_MAX)`,
  );
}

if (process.argv.includes('--role') && process.argv[process.argv.indexOf('--role') + 1] === 'client') await clientRole();
else await mainRole();
