// Agents-per-box bench: N simulated istio-agents (idle ADS streams plus periodic probes) against
// the embedded control plane with auto-registration, server and fleet in separate processes on
// this machine so each one's memory and CPU are its own.
//
//   npx tsx bench/agents.ts                 # quick: 2,000 agents
//   npx tsx bench/agents.ts --count 10000   # full size
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
import { forkTs, nextMessage, type Msg } from './child.js';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
    const now = performance.now();
    for (const ev of batch) if (ev.type === 'added' && ev.resource.kind === 'WorkloadEntry' && ev.resource.metadata.annotations?.['istio.io/autoRegistrationGroup']) added.push(now);
  });
  const stats = () => {
    const entries = cp.store.list('WorkloadEntry', NS).filter((e) => e.metadata.annotations?.['istio.io/autoRegistrationGroup']);
    const healthy = entries.filter((e) => e.status?.conditions?.some((c) => c.type === 'Healthy' && c.status === 'True')).length;
    return { rss: process.memoryUsage().rss, cpu: process.cpuUsage(), entries: entries.length, healthy, connections: cp.xds.connections.size, added };
  };
  process.on('message', async (m: Msg) => {
    if (m.type === 'stats') process.send!({ type: 'stats', ...stats() });
    else if (m.type === 'stop') {
      await cp.close();
      process.exit(0);
    }
  });
  global.gc?.();
  process.send!({ type: 'ready', port: cp.xdsPort, rss: process.memoryUsage().rss });
}

// ---- fleet role -------------------------------------------------------------------------------

async function fleetRole(configJson: string): Promise<void> {
  const { fleetConfig } = await import('../src/fleet/config.js');
  const { Fleet } = await import('../src/fleet/fleet.js');
  const config = fleetConfig(JSON.parse(configJson));
  const fleet = new Fleet(config);
  process.on('message', (m: Msg) => {
    if (m.type === 'stop') fleet.stop();
  });
  const summary = await fleet.run({
    onReady: () => process.send!({ type: 'fleet-ready', rss: process.memoryUsage().rss }),
    onProgress: (p) => {
      const { workers: _w, ...rest } = p;
      process.send!({ type: 'progress', progress: rest, rss: process.memoryUsage().rss, cpu: process.cpuUsage() });
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

async function orchestrate(): Promise<void> {
  const program = new Command('bench-agents')
    .option('--count <n>', 'agents (10000 for the full-size run)', (v) => Number(v), 2000)
    .option('--workers <n>', 'fleet worker threads', (v) => Number(v), Math.max(1, Math.min(2, os.availableParallelism())))
    .option('--ramp <per-second>', 'agents connecting per second', (v) => Number(v), 250)
    .option('--hold <seconds>', 'idle phase after the ramp', (v) => Number(v), 20)
    .option('--probe-period <seconds>', 'probe period of every agent', (v) => Number(v), 10)
    .option('--unhealthy-fraction <f>', 'agents whose probe fails', (v) => Number(v), 0.05)
    .option('--out <file>', 'results file (runs merged by agent count)', here('./results/agents.json'))
    .parse();
  const o = program.opts<{ count: number; workers: number; ramp: number; hold: number; probePeriod: number; unhealthyFraction: number; out: string }>();

  const server = spawn(['--role', 'server']);
  const ready = await next(server, 'ready', 60_000);
  const port = ready['port'] as number;
  const getStats = async (): Promise<ServerStats> => {
    server.send({ type: 'stats' });
    return (await next(server, 'stats', 30_000)) as unknown as ServerStats;
  };
  await sleep(500);
  const serverBase = await getStats();

  const rampMs = (o.count / o.ramp) * 1000;
  // Ramp phase bound: the nominal ramp plus a probe period plus slack for a slow box.
  const rampBoundMs = rampMs * 3 + o.probePeriod * 1000 + 60_000;
  // The bench stops the fleet itself; its own deadline is only a backstop past both phases.
  const durationMs = Math.round(rampBoundMs + o.hold * 1000 + 60_000);
  const config = {
    xds: `127.0.0.1:${port}`,
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
  };
  const fleet = spawn(['--role', 'fleet', '--config', JSON.stringify(config)]);
  const summaryP = next(fleet, 'summary', durationMs + 120_000);
  const fleetReady = await next(fleet, 'fleet-ready', 120_000);
  const fleetBaseRss = fleetReady['rss'] as number;
  const t0 = performance.now();
  process.stderr.write(`bench agents: ${o.count} agents, ${o.workers} workers, ramp ${o.ramp}/s, hold ${o.hold}s\n`);

  let lastFleet: Msg | undefined;
  fleet.on('message', (m: Msg) => {
    if (m.type === 'progress') lastFleet = m;
  });
  // Ramp: until every agent is connected and every healthy one is registered (bounded).
  const healthyTarget = Math.round(o.count * (1 - o.unhealthyFraction));
  let rampDoneAt: number | undefined;
  let s = serverBase;
  const rampDeadline = t0 + rampBoundMs;
  while (performance.now() < rampDeadline) {
    await sleep(1000);
    s = await getStats();
    const p = lastFleet?.['progress'] as { connected?: number } | undefined;
    process.stderr.write(
      `  ${((performance.now() - t0) / 1000).toFixed(0)}s connected ${p?.connected ?? 0}/${o.count} entries ${s.entries} healthy ${s.healthy} server ${(s.rss / 1048576).toFixed(0)} MiB fleet ${(((lastFleet?.['rss'] as number) ?? 0) / 1048576).toFixed(0)} MiB\n`,
    );
    if ((p?.connected ?? 0) >= o.count && s.entries >= o.count && s.healthy >= healthyTarget * 0.999) {
      rampDoneAt = performance.now();
      break;
    }
  }
  // Hold: idle streams, periodic probes. CPU of both processes over this window.
  const holdStart = { server: await getStats(), fleet: lastFleet, at: performance.now() };
  await sleep(o.hold * 1000);
  const holdEnd = { server: await getStats(), fleet: lastFleet, at: performance.now() };
  const holdMs = holdEnd.at - holdStart.at;
  const cpuPct = (a: NodeJS.CpuUsage | undefined, b: NodeJS.CpuUsage | undefined) =>
    a && b ? round(((b.user - a.user + b.system - a.system) / 1000 / holdMs) * 100, 1) : null;

  if (fleet.connected) fleet.send({ type: 'stop' });
  const summary = (await summaryP)['summary'] as import('../src/fleet/summary.js').FleetSummary;
  if (server.connected) server.send({ type: 'stop' });
  await Promise.race([new Promise((r) => server.once('exit', r)), sleep(10_000)]);
  fleet.kill();
  server.kill();

  const added = [...holdEnd.server.added].sort((a, b) => a - b);
  const regSpanS = added.length > 1 ? (added[added.length - 1]! - added[0]!) / 1000 : 0;
  // Peak: most entries created within any one-second window.
  let peak = 0;
  for (let i = 0, j = 0; i < added.length; i++) {
    while (added[i]! - added[j]! > 1000) j++;
    peak = Math.max(peak, i - j + 1);
  }
  const fleetEndRss = (holdEnd.fleet?.['rss'] as number | undefined) ?? 0;
  const connectedEnd = summary.agents.connected;
  const registeredEnd = Math.min(connectedEnd, holdEnd.server.entries);
  const run = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.availableParallelism(),
    config: { count: o.count, workers: o.workers, rampPerSec: o.ramp, holdS: o.hold, probePeriodS: o.probePeriod, unhealthyFraction: o.unhealthyFraction },
    agents_per_box: summary.agents.errors === 0 && summary.agents.failed === 0 ? registeredEnd : Math.min(registeredEnd, connectedEnd - summary.agents.failed),
    agents: { ...summary.agents, entriesAtEnd: holdEnd.server.entries, healthyEntriesAtEnd: holdEnd.server.healthy, serverConnections: holdEnd.server.connections },
    registration: {
      ratePerS: regSpanS > 0 ? round(added.length / regSpanS, 1) : null,
      peakPerS: peak,
      allRegisteredS: rampDoneAt !== undefined ? round((rampDoneAt - t0) / 1000, 1) : null,
      note: 'entries created per second on the server while agents connect at the ramp rate',
    },
    memory: {
      serverBytesPerAgent: Math.round((holdEnd.server.rss - serverBase.rss) / o.count),
      fleetBytesPerAgent: Math.round((fleetEndRss - fleetBaseRss) / o.count),
      serverRssBytes: holdEnd.server.rss,
      fleetRssBytes: fleetEndRss,
      serverBaseRssBytes: serverBase.rss,
      fleetBaseRssBytes: fleetBaseRss,
      /** V8 heap of each fleet worker at the end (the rest of the fleet's RSS is native: sockets, HTTP/2 sessions). */
      fleetWorkerHeapBytes: summary.memory.workers.map((w) => w.heapUsedBytes),
    },
    holdCpuPercent: { server: cpuPct(holdStart.server.cpu, holdEnd.server.cpu), fleet: cpuPct(holdStart.fleet?.['cpu'] as NodeJS.CpuUsage, holdEnd.fleet?.['cpu'] as NodeJS.CpuUsage) },
    latencyMs: { connect: summary.latency.connect, edsVisible: summary.latency.edsVisible, healthConverged: summary.latency.healthConverged },
    traffic: { bytesReceived: summary.bytes.received, bytesSent: summary.bytes.sent, healthReports: summary.counters.healthReports },
    errors: summary.counters.errors,
  };

  const out = o.out;
  mkdirSync(dirname(out), { recursive: true });
  const prev = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as { runs?: Record<string, unknown> }) : {};
  const runs = { ...(prev.runs ?? {}), [String(o.count)]: run };
  const largest = Object.values(runs).sort((a, b) => (b as typeof run).config.count - (a as typeof run).config.count)[0] as typeof run;
  const doc = {
    description:
      'Agents per box: N simulated istio-agents (idle ADS streams + periodic probes, one HTTP/2 connection each) auto-registering into the embedded control plane; server and fleet in separate processes on this machine.',
    agents_per_box: largest.agents_per_box,
    registration_rate_per_s: largest.registration.ratePerS,
    memory_per_agent_bytes: { server: largest.memory.serverBytesPerAgent, fleet: largest.memory.fleetBytesPerAgent },
    runs,
  };
  writeFileSync(out, `${JSON.stringify(doc, null, 2)}\n`);
  mergeIntoLatest({ agents: doc }, { agents_per_box: doc.agents_per_box });
  process.stdout.write(`${JSON.stringify(run, null, 2)}\n`);
}

const argv = process.argv.slice(2);
const role = argv[argv.indexOf('--role') + 1];
if (argv.includes('--role') && role === 'server') await serverRole();
else if (argv.includes('--role') && role === 'fleet') await fleetRole(argv[argv.indexOf('--config') + 1]!);
else await orchestrate();
