// Agents-per-box bench: N simulated istio-agents (idle ADS streams plus periodic probes) against
// the embedded control plane with auto-registration, server and fleet in separate processes on
// this machine so each one's memory and CPU are its own.
//
//   npx tsx bench/agents.ts                 # quick: 2,000 agents
//   npx tsx bench/agents.ts --count 10000   # full size
//   npx tsx bench/agents.ts --count 19800 --target istiod   # the same fleet against the istiod peer
//
// Open files bound the count: the server holds a socket per agent, and so does the fleet. Child
// processes get their limit raised (prlimit --pid) as far as the hard limit allows (further with
// CAP_SYS_RESOURCE); a fleet past one process's limit is split over several processes (shards of
// one fleet, merged summaries); a count the server process cannot hold is refused at once with
// the number it needs. A server or fleet process that dies ends the bench at once, saying which.
//
// Phases: ramp (agents connect at --ramp per second, register, report health), then hold
// (--hold: streams idle, probes every --probe-period). Reported into bench/results/agents.json,
// keyed by agent count: agents_per_box (connected and registered at the end of the hold),
// registration rate (server side: WorkloadEntries created per second), memory per agent (RSS
// delta / agents, server and fleet separately), CPU during the hold, connect and EDS-visibility
// latency percentiles.
//
// The agents subscribe to one small cluster that registrations do not change, and one observer
// stream per worker watches the VM cluster to time EDS visibility: so the load is what an idle
// VM fleet costs, not N x N endpoint pushes (that is the fan-out bench's subject).
import type { ChildProcess } from 'node:child_process';
import { forkTs, nextMessage, raiseChildFdLimit, type Msg } from './child.js';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FD_BASE, fdsNeededForFleet, fdsNeededForServer, readFdLimit } from '../src/fleet/fd-limit.js';
import { mergeSummaries, type FleetSummary } from '../src/fleet/summary.js';
import { mergeIntoLatest } from './results-file.js';
import os from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import type { Resource } from '../src/config/resources.js';

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
const NS = 'bench';
const GROUP = 'vm';
const IDLE_CLUSTER = `outbound|80||idle.${NS}.svc.cluster.local`;


function mesh(): Resource[] {
  const labels = { app: GROUP };
  return [
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'WorkloadGroup',
      metadata: { name: GROUP, namespace: NS },
      spec: { metadata: { labels }, template: { ports: { http: 8080 }, serviceAccount: GROUP }, probe: { httpGet: { port: 8080, path: '/ready' } } },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: GROUP, namespace: NS }, spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'idle', namespace: NS }, spec: { selector: { app: 'idle' }, ports: [{ name: 'http', port: 80, targetPort: 9090 }] } },
    ...[1, 2, 3].map(
      (i) =>
        ({
          apiVersion: 'networking.istio.io/v1',
          kind: 'WorkloadEntry',
          metadata: { name: `idle-${i}`, namespace: NS },
          spec: { address: `10.99.0.${i}`, labels: { app: 'idle' } },
        }) as Resource,
    ),
  ] as Resource[];
}

// ---- server role ------------------------------------------------------------------------------

async function serverRole(): Promise<void> {
  const { startControlPlane } = await import('../src/server/control-plane.js');
  const { safeRss } = await import('../src/util/memory.js');
  const cp = await startControlPlane({
    xdsAddress: '127.0.0.1:0',
    adminAddress: null,
    logLevel: 'warn',
    processMetrics: false,
    resources: mesh(),
    registration: true,
    // Plaintext agents without tokens: identity validation off (it would refuse them all).
    validateIdentity: false,
    gracePeriodMs: 10_000,
  });
  // Registration timeline: when each auto-registered entry was created.
  const added: number[] = [];
  cp.store.subscribe((batch) => {
    // Wall clock, so the timelines of several server processes can be merged.
    const now = performance.timeOrigin + performance.now();
    for (const ev of batch) if (ev.type === 'added' && ev.resource.kind === 'WorkloadEntry' && ev.resource.metadata.annotations?.['istio.io/autoRegistrationGroup']) added.push(now);
  });
  const stats = () => {
    const entries = cp.store.list('WorkloadEntry', NS).filter((e) => e.metadata.annotations?.['istio.io/autoRegistrationGroup']);
    const healthy = entries.filter((e) => e.status?.conditions?.some((c) => c.type === 'Healthy' && c.status === 'True')).length;
    // At the open-files limit memoryUsage() throws EMFILE; safeRss() keeps the last reading.
    return { rss: safeRss(), cpu: process.cpuUsage(), entries: entries.length, healthy, connections: cp.xds.connections.size, added };
  };
  process.on('message', async (m: Msg) => {
    if (m.type === 'stats') process.send!({ type: 'stats', ...stats() });
    else if (m.type === 'stop') {
      await cp.close();
      process.exit(0);
    }
  });
  global.gc?.();
  process.send!({ type: 'ready', port: cp.xdsPort, rss: safeRss() });
}

// ---- fleet role -------------------------------------------------------------------------------

async function fleetRole(configJson: string): Promise<void> {
  const { fleetConfig } = await import('../src/fleet/config.js');
  const { Fleet } = await import('../src/fleet/fleet.js');
  const { memorySample } = await import('../src/util/memory.js');
  const config = fleetConfig(JSON.parse(configJson));
  const fleet = new Fleet(config);
  process.on('message', (m: Msg) => {
    if (m.type === 'stop') fleet.stop();
  });
  // Never memoryUsage() itself here: at the open-files limit it throws EMFILE (it reads /proc
  // through a descriptor), which once killed this process mid-ramp.
  const summary = await fleet.run({
    onReady: () => process.send!({ type: 'fleet-ready', rss: memorySample().rss }),
    onProgress: (p) => {
      const { workers: _w, ...rest } = p;
      const m = memorySample();
      process.send!({ type: 'progress', progress: rest, rss: m.rss, rssStale: m.rssStale, cpu: process.cpuUsage() });
    },
  });
  process.send!({ type: 'summary', summary });
  // Give the IPC message time to leave before exiting.
  setTimeout(() => process.exit(0), 200);
}

// ---- orchestrator -----------------------------------------------------------------------------

function spawn(args: string[]): ChildProcess {
  return forkTs(here('./agents.ts'), args, ['--expose-gc']);
}

const next = nextMessage;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

interface ServerStats {
  rss: number;
  cpu: NodeJS.CpuUsage;
  entries: number;
  healthy: number;
  connections: number;
  added: number[];
}

/** The control plane under test, embedded xdsim (a child process) or the istiod peer. */
interface ServerHandle {
  name: string;
  xdsPort: number;
  pid: number | undefined;
  stats(): Promise<ServerStats>;
  stop(): Promise<void>;
  /** Why the server process exited on its own, once it has. */
  died?: string;
}

/** CPU (as process.cpuUsage) and RSS of another process, from /proc. */
function procUsage(pid: number): { rss: number; cpu: NodeJS.CpuUsage } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const tick = 1e6 / 100; // USER_HZ is 100 on Linux
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return { rss: rssKb * 1024, cpu: { user: Number(f[11]) * tick, system: Number(f[12]) * tick } };
}

async function embeddedServer(needFds: number, limitNote: string[]): Promise<ServerHandle> {
  const server = spawn(['--role', 'server']);
  const lim = raiseChildFdLimit(server, needFds);
  if (lim) limitNote.push(`server nofile ${lim.soft}/${lim.hard}`);
  const h: ServerHandle = {
    name: 'xdsim',
    xdsPort: 0,
    pid: server.pid,
    async stats() {
      server.send({ type: 'stats' });
      return (await next(server, 'stats', 30_000)) as unknown as ServerStats;
    },
    async stop() {
      if (server.connected) server.send({ type: 'stop' });
      await Promise.race([new Promise((r) => server.once('exit', r)), sleep(10_000)]);
      server.kill();
    },
  };
  server.once('exit', (code, signal) => (h.died = `the server process exited (${signal ?? `code ${code}`})`));
  if (lim && lim.soft < needFds) {
    server.kill();
    throw new FdShortfall(`the server process needs about ${needFds} open files (one per agent plus ${FD_BASE}); it may open ${lim.soft} (hard ${lim.hard}), and the hard limit cannot be raised here`);
  }
  h.xdsPort = (await next(server, 'ready', 60_000))['port'] as number;
  return h;
}

async function istiodServer(): Promise<ServerHandle> {
  const { startIstiodPeer } = await import('../test/interop/istiod-peer.js');
  const { stringify } = await import('yaml');
  const dir = mkdtempSync(join(os.tmpdir(), 'xdsim-agents-istiod-'));
  writeFileSync(join(dir, 'mesh.yaml'), mesh().map((r) => stringify(r)).join('---\n'));
  // Identity validation off, as on the embedded server (plaintext agents without tokens), and new
  // streams not rate-limited (istiod derives 25/s on 2 cores; the ramp is faster).
  const peer = await startIstiodPeer({ files: [dir], validateIdentity: false, maxRequestsPerSecond: 100_000 });
  const added: number[] = [];
  let known = new Set<string>();
  return {
    name: 'istiod',
    xdsPort: Number(peer.xds.split(':').pop()),
    pid: peer.pid,
    async stats() {
      // CPU and RSS first: listing thousands of entries costs the peer CPU of its own.
      const usage = procUsage(peer.pid!);
      const entries = ((await peer.workloadEntries()) as { metadata: { name: string; namespace: string; annotations?: Record<string, string> }; status?: { conditions?: { type: string; status: string }[] } }[]).filter(
        (e) => e.metadata.namespace === NS && e.metadata.annotations?.['istio.io/autoRegistrationGroup'],
      );
      const now = performance.now();
      const names = new Set(entries.map((e) => e.metadata.name));
      for (const n of names) if (!known.has(n)) added.push(now);
      known = names;
      const healthy = entries.filter((e) => e.status?.conditions?.some((c) => c.type === 'Healthy' && c.status === 'True')).length;
      return { ...usage, entries: entries.length, healthy, connections: -1, added };
    },
    async stop() {
      await peer.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

class FdShortfall extends Error {}

/** Several embedded servers as one: figures added up, dead when any one is. */
function combined(all: ServerHandle[]): ServerHandle {
  return {
    name: `xdsim x ${all.length} processes`,
    xdsPort: all[0]!.xdsPort,
    pid: undefined,
    async stats() {
      const st = await Promise.all(all.map((x) => x.stats()));
      return {
        rss: st.reduce((a, b) => a + b.rss, 0),
        cpu: { user: st.reduce((a, b) => a + b.cpu.user, 0), system: st.reduce((a, b) => a + b.cpu.system, 0) },
        entries: st.reduce((a, b) => a + b.entries, 0),
        healthy: st.reduce((a, b) => a + b.healthy, 0),
        connections: st.reduce((a, b) => a + b.connections, 0),
        added: st.flatMap((x) => x.added),
      };
    },
    async stop() {
      await Promise.all(all.map((x) => x.stop()));
    },
    get died() {
      return all.find((x) => x.died)?.died;
    },
  };
}

async function orchestrate(): Promise<void> {
  const program = new Command('bench-agents')
    .option('--count <n>', 'agents (10000 for the full-size run)', (v) => Number(v), 2000)
    .option('--target <xdsim|istiod>', 'the control plane: embedded xdsim or the istiod peer', 'xdsim')
    .option('--workers <n>', 'fleet worker threads per fleet process', (v) => Number(v), Math.max(1, Math.min(2, os.availableParallelism())))
    .option('--servers <n>', 'embedded server processes, each with its share of the fleet (past what one process may hold)', (v) => Number(v), 1)
    .option('--fleet-processes <n>', 'fleet processes (default: as many as the open-files limit needs)', (v) => Number(v))
    .option('--ramp <per-second>', 'agents connecting per second', (v) => Number(v), 250)
    .option('--hold <seconds>', 'idle phase after the ramp', (v) => Number(v), 20)
    .option('--probe-period <seconds>', 'probe period of every agent', (v) => Number(v), 10)
    .option('--unhealthy-fraction <f>', 'agents whose probe fails', (v) => Number(v), 0.05)
    .option('--out <file>', 'results file (runs merged by agent count)', here('./results/agents.json'))
    .option('--no-latest', 'do not merge into bench/results/latest.json (trial runs)')
    .parse();
  const o = program.opts<{ servers: number; latest: boolean; count: number; target: string; workers: number; fleetProcesses?: number; ramp: number; hold: number; probePeriod: number; unhealthyFraction: number; out: string }>();
  if (o.target !== 'xdsim' && o.target !== 'istiod') throw new Error(`--target: xdsim or istiod, not ${o.target}`);

  // Open files: the server holds one socket per agent, each fleet process one per agent it runs.
  // Children get their limits raised (prlimit --pid) where the hard limit allows; a fleet larger
  // than one process may hold is split over several processes (shards); a server that cannot hold
  // the count is refused now, with the numbers, rather than dying of EMFILE halfway.
  const own = readFdLimit() ?? { soft: Infinity, hard: Infinity };
  const perProcess = Math.max(own.hard, own.soft);
  const nServers = o.target === 'istiod' ? 1 : Math.max(1, o.servers);
  let fleetProcs = o.fleetProcesses ?? nServers;
  while (o.fleetProcesses === undefined && fdsNeededForFleet(Math.ceil(o.count / fleetProcs), o.workers) > perProcess) fleetProcs += nServers;
  if (fleetProcs % nServers !== 0) throw new Error('--fleet-processes must be a multiple of --servers');
  const limits: string[] = [`orchestrator nofile ${own.soft}/${own.hard}`];
  // Observers (one per fleet worker) hold a connection too.
  const serverFds = fdsNeededForServer(Math.ceil(o.count / nServers) + (fleetProcs / nServers) * o.workers);
  let server: ServerHandle;
  const servers: ServerHandle[] = [];
  try {
    if (o.target === 'istiod') servers.push(await istiodServer());
    else for (let k = 0; k < nServers; k++) servers.push(await embeddedServer(serverFds, k === 0 ? limits : []));
    server = servers.length === 1 ? servers[0]! : combined(servers);
  } catch (err) {
    for (const sv of servers) await sv.stop().catch(() => undefined);
    if (err instanceof FdShortfall) {
      process.stderr.write(`bench agents: --count ${o.count} refused: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (o.target === 'istiod' && server.pid) {
    const l = readFdLimit(server.pid);
    if (l) limits.push(`istiod peer nofile ${l.soft}/${l.hard} (Go raises its soft limit to the hard one)`);
    if (l && l.soft < serverFds) process.stderr.write(`bench agents: warning: the istiod peer may open ${l.soft} files; ${serverFds} are needed for ${o.count} agents: expect refused connections past that\n`);
  }
  await sleep(500);
  const serverBase = await server.stats();

  const rampMs = (o.count / o.ramp) * 1000;
  // Ramp phase bound: the nominal ramp plus a probe period plus slack for a slow box.
  const rampBoundMs = rampMs * 3 + o.probePeriod * 1000 + 60_000;
  // The bench stops the fleet itself; its own deadline is only a backstop past both phases.
  const durationMs = Math.round(rampBoundMs + o.hold * 1000 + 60_000);
  const config = {
    xds: `127.0.0.1:${servers[0]!.xdsPort}`,
    count: o.count,
    namespace: NS,
    group: GROUP,
    labels: { app: GROUP },
    durationMs,
    rampPerSec: o.ramp,
    unhealthyFraction: o.unhealthyFraction,
    workers: o.workers,
    subscription: { cds: false, eds: [IDLE_CLUSTER] },
    watch: 'observer',
    probe: { initialDelayMs: 0, periodMs: o.probePeriod * 1000, timeoutMs: 1000, successThreshold: 1, failureThreshold: 1 },
    progressIntervalMs: 1000,
    shardCount: fleetProcs,
  };
  const fleets: { proc: ChildProcess; last?: Msg; summary: Promise<Msg> }[] = [];
  let stopping = false;
  let died: string | undefined;
  for (let k = 0; k < fleetProcs; k++) {
    // With several servers, fleet process k runs shard k against server k mod n.
    const proc = spawn(['--role', 'fleet', '--config', JSON.stringify({ ...config, shardIndex: k, xds: `127.0.0.1:${servers[k % nServers]!.xdsPort}` })]);
    const need = fdsNeededForFleet(Math.ceil(o.count / fleetProcs), o.workers);
    const lim = raiseChildFdLimit(proc, need);
    if (k === 0 && lim) limits.push(`fleet nofile ${lim.soft}/${lim.hard} x ${fleetProcs} process(es), ${need} needed each`);
    const f = { proc, summary: next(proc, 'summary', durationMs + 120_000) } as (typeof fleets)[number];
    f.summary.catch(() => undefined);
    // A dead fleet process is noticed at once: the loops below check `died` every second.
    proc.once('exit', (code, signal) => {
      if (!stopping) died ??= `fleet process ${k} exited (${signal ?? `code ${code}`}) at ${(f.last?.['progress'] as { connected?: number } | undefined)?.connected ?? 0} connected`;
    });
    proc.on('message', (m: Msg) => {
      if (m.type === 'progress') f.last = m;
    });
    fleets.push(f);
  }
  const check = (): void => {
    const why = died ?? server.died;
    if (why) throw new Error(`bench agents: ${why}`);
  };
  const fleetBaseRss = (await Promise.all(fleets.map((f) => next(f.proc, 'fleet-ready', 120_000)))).reduce((s, m) => s + (m['rss'] as number), 0);
  const t0 = performance.now();
  process.stderr.write(`bench agents: ${o.count} agents against ${server.name}, ${fleetProcs} fleet process(es) x ${o.workers} workers, ramp ${o.ramp}/s, hold ${o.hold}s (${limits.join('; ')})\n`);

  const fleetNow = () => {
    let connected = 0;
    let rss = 0;
    let errors = 0;
    let stale = false;
    const cpu = { user: 0, system: 0 };
    for (const f of fleets) {
      const p = f.last?.['progress'] as { connected?: number; errors?: number } | undefined;
      connected += p?.connected ?? 0;
      errors += p?.errors ?? 0;
      rss += (f.last?.['rss'] as number | undefined) ?? 0;
      stale ||= f.last?.['rssStale'] === true;
      const c = f.last?.['cpu'] as NodeJS.CpuUsage | undefined;
      if (c) {
        cpu.user += c.user;
        cpu.system += c.system;
      }
    }
    return { connected, rss, errors, stale, cpu };
  };
  try {
    // Ramp: until every agent is connected and every healthy one is registered (bounded).
    const healthyTarget = Math.round(o.count * (1 - o.unhealthyFraction));
    let rampDoneAt: number | undefined;
    const rampDeadline = t0 + rampBoundMs;
    const pollMs = o.target === 'istiod' ? 10_000 : 1000;
    while (performance.now() < rampDeadline) {
      await sleep(pollMs);
      check();
      const s = await server.stats();
      const fl = fleetNow();
      process.stderr.write(
        `  ${((performance.now() - t0) / 1000).toFixed(0)}s connected ${fl.connected}/${o.count} errors ${fl.errors} entries ${s.entries} healthy ${s.healthy} server ${(s.rss / 1048576).toFixed(0)} MiB fleet ${(fl.rss / 1048576).toFixed(0)} MiB${fl.stale ? ' (stale: EMFILE)' : ''}\n`,
      );
      if (fl.connected >= o.count && s.entries >= o.count && s.healthy >= healthyTarget * 0.999) {
        rampDoneAt = performance.now();
        break;
      }
    }
    // Hold: idle streams, periodic probes. CPU of both sides over this window.
    const holdStart = { server: await server.stats(), fleet: fleetNow(), at: performance.now() };
    for (let waited = 0; waited < o.hold * 1000; waited += 1000) {
      await sleep(1000);
      check();
    }
    const holdEnd = { server: await server.stats(), fleet: fleetNow(), at: performance.now() };
    const holdMs = holdEnd.at - holdStart.at;
    const cpuPct = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage) => round(((b.user - a.user + b.system - a.system) / 1000 / holdMs) * 100, 1);

    stopping = true;
    for (const f of fleets) if (f.proc.connected) f.proc.send({ type: 'stop' });
    const summaries = (await Promise.all(fleets.map((f) => f.summary))).map((m) => m['summary'] as FleetSummary);
    const summary = summaries.length === 1 ? summaries[0]! : mergeSummaries(summaries);
    await server.stop();
    for (const f of fleets) f.proc.kill();

    const added = [...holdEnd.server.added].sort((a, b) => a - b);
    const regSpanS = added.length > 1 ? (added[added.length - 1]! - added[0]!) / 1000 : 0;
    // Peak: most entries created within any one-second window.
    let peak = 0;
    for (let i = 0, j = 0; i < added.length; i++) {
      while (added[i]! - added[j]! > 1000) j++;
      peak = Math.max(peak, i - j + 1);
    }
    const fleetEndRss = holdEnd.fleet.rss;
    const connectedEnd = summary.agents.connected;
    const registeredEnd = Math.min(connectedEnd, holdEnd.server.entries);
    const run = {
      date: new Date().toISOString(),
      node: process.version,
      cpus: os.availableParallelism(),
      loadAverage: os.loadavg().map((l) => round(l, 2)),
      target: server.name,
      config: { count: o.count, servers: nServers, workers: o.workers, fleetProcesses: fleetProcs, rampPerSec: o.ramp, holdS: o.hold, probePeriodS: o.probePeriod, unhealthyFraction: o.unhealthyFraction },
      limits,
      agents_per_box: summary.agents.errors === 0 && summary.agents.failed === 0 ? registeredEnd : Math.min(registeredEnd, connectedEnd - summary.agents.failed),
      agents: { ...summary.agents, entriesAtEnd: holdEnd.server.entries, healthyEntriesAtEnd: holdEnd.server.healthy, serverConnections: holdEnd.server.connections },
      registration: {
        ratePerS: regSpanS > 0 ? round(added.length / regSpanS, 1) : null,
        peakPerS: peak,
        allRegisteredS: rampDoneAt !== undefined ? round((rampDoneAt - t0) / 1000, 1) : null,
        note: o.target === 'istiod' ? 'entries seen per 10 s poll of the peer\'s /workloadentries (coarse)' : 'entries created per second on the server while agents connect at the ramp rate',
      },
      memory: {
        serverBytesPerAgent: Math.round((holdEnd.server.rss - serverBase.rss) / o.count),
        fleetBytesPerAgent: Math.round((fleetEndRss - fleetBaseRss) / o.count),
        serverRssBytes: holdEnd.server.rss,
        fleetRssBytes: fleetEndRss,
        fleetRssStale: holdEnd.fleet.stale,
        serverBaseRssBytes: serverBase.rss,
        fleetBaseRssBytes: fleetBaseRss,
        /** V8 heap of each fleet worker at the end (the rest of the fleet's RSS is native: sockets, HTTP/2 sessions). */
        fleetWorkerHeapBytes: summary.memory.workers.map((w) => w.heapUsedBytes),
      },
      holdCpuPercent: { server: cpuPct(holdStart.server.cpu, holdEnd.server.cpu), fleet: cpuPct(holdStart.fleet.cpu, holdEnd.fleet.cpu) },
      latencyMs: { connect: summary.latency.connect, edsVisible: summary.latency.edsVisible, healthConverged: summary.latency.healthConverged },
      traffic: { bytesReceived: summary.bytes.received, bytesSent: summary.bytes.sent, healthReports: summary.counters.healthReports },
      errors: summary.counters.errors,
      outOfDescriptors: summary.counters.outOfDescriptors ?? 0,
    };

    const out = o.out;
    mkdirSync(dirname(out), { recursive: true });
    const prev = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as { runs?: Record<string, unknown>; istiod?: Record<string, unknown> }) : {};
    const key = nServers > 1 ? `${o.count}x${nServers}servers` : String(o.count);
    const runs = o.target === 'xdsim' ? { ...(prev.runs ?? {}), [key]: run } : (prev.runs ?? {});
    const istiodRuns = o.target === 'istiod' ? { ...(prev.istiod ?? {}), [key]: run } : (prev.istiod ?? {});
    const largestOf = (rs: Record<string, unknown>) => Object.values(rs).sort((a, b) => (b as typeof run).config.count - (a as typeof run).config.count)[0] as typeof run | undefined;
    // The headline is one server process's: runs split over several servers are reported beside it.
    const largest = largestOf(Object.fromEntries(Object.entries(runs).filter(([, r]) => ((r as typeof run).config.servers ?? 1) === 1)));
    const largestMulti = largestOf(Object.fromEntries(Object.entries(runs).filter(([, r]) => ((r as typeof run).config.servers ?? 1) > 1)));
    const largestIstiod = largestOf(istiodRuns);
    const doc = {
      description:
        'Agents per box: N simulated istio-agents (idle ADS streams + periodic probes, one HTTP/2 connection each) auto-registering into the embedded control plane (runs) or the istiod peer (istiod); server and fleet in separate processes on this machine.',
      agents_per_box: largest?.agents_per_box ?? null,
      registration_rate_per_s: largest?.registration.ratePerS ?? null,
      memory_per_agent_bytes: largest ? { server: largest.memory.serverBytesPerAgent, fleet: largest.memory.fleetBytesPerAgent } : null,
      agents_per_box_multi_server: largestMulti ? { agents: largestMulti.agents_per_box, servers: largestMulti.config.servers, memory_per_agent_bytes: { server: largestMulti.memory.serverBytesPerAgent, fleet: largestMulti.memory.fleetBytesPerAgent } } : null,
      istiod_agents_held: largestIstiod?.agents_per_box ?? null,
      istiod_memory_per_agent_bytes: largestIstiod ? { server: largestIstiod.memory.serverBytesPerAgent, fleet: largestIstiod.memory.fleetBytesPerAgent } : null,
      runs,
      istiod: istiodRuns,
    };
    writeFileSync(out, `${JSON.stringify(doc, null, 2)}\n`);
    const ratios: Record<string, number | null> = { agents_per_box: doc.agents_per_box };
    if (doc.istiod_agents_held !== null) ratios['agents_per_box_istiod'] = doc.istiod_agents_held;
    if (o.latest) mergeIntoLatest({ agents: doc }, ratios);
    process.stdout.write(`${JSON.stringify(run, null, 2)}\n`);
  } catch (err) {
    stopping = true;
    for (const f of fleets) f.proc.kill('SIGKILL');
    await server.stop().catch(() => undefined);
    throw err;
  }
}

const argv = process.argv.slice(2);
const role = argv[argv.indexOf('--role') + 1];
if (argv.includes('--role') && role === 'server') await serverRole();
else if (argv.includes('--role') && role === 'fleet') await fleetRole(argv[argv.indexOf('--config') + 1]!);
else
  await orchestrate().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).message ?? String(err)}\n`);
    process.exit(1);
  });
