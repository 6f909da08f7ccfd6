// Fan-out bench: N ADS streams (each on its own HTTP/2 connection, from client processes)
// subscribed to one cluster; one endpoint change -> time until every stream has it. Measured in
// one run, one server after the other, with the same client processes, for:
//   xdsim   the real control plane (EDS debounce off);
//   raw     a bare grpc-js server writing the same encoded response to every stream (the floor
//           under xdsim's gRPC library);
//   http2   plain node:http2 writing the same gRPC-framed bytes (the floor under grpc-js);
//   istiod  istio's discovery server (the istiod peer, test/interop/istiod-peer), debounce off;
//   gcp     go-control-plane's ADS server over its LinearCache (test/interop/gcp-peer), handed the
//           ClusterLoadAssignment bytes xdsim would send.
//
//   npx tsx bench/xds-fanout.ts [--streams 500] [--clients 2] [--rounds 10] [--modes raw,xdsim] [--repeat 2]
//   npm run bench:peers -- --streams 5000     # every server, ratios against the peers
//
// Besides the printed table and the results files, it writes a self-contained HTML page
// (bench/results/peers.html, `--html <file>`; bench/peers-page.ts): the same table, each server's
// per-stream convergence distribution as overlaid CDFs, CPU and RSS bars, the ratios with the
// goals marked, the spread over turns and the run's context. A server that fails to start or
// run is listed there as not run, with why; the others still run (exit code 1).
//
// Two clocks. Server-side (xdsim, raw, http2 only: the peers have no hook): in the server process,
// from just before the store write until each stream's ACK arrived; the `_vs_raw_floor` ratios
// use it, as they always have. Client-side (every server): from the parent's wall clock just
// before it asks for the change (IPC to a Node server, HTTP to a peer) until each client stream
// received a response carrying the new endpoint; the peer ratios use it. Server CPU per change:
// utime+stime of the server process from /proc (10 ms ticks) from the change until every stream
// has it plus 250 ms for the ACKs, the same way for every server. RSS per connection: the
// server's VmRSS after the connections minus before, after a full GC where the server offers one
// (Node: gc(); go-control-plane: runtime.GC + FreeOSMemory; istiod: none).
import { execFileSync, type ChildProcess } from 'node:child_process';
import { forkTs, nextMessage, type Msg } from './child.js';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mergeIntoLatest } from './results-file.js';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { stringify } from 'yaml';
import { CLUSTER, LOCALITY, change, mesh, movingAddress } from './xds-fanout-shared.js';
import { quantiles, renderPeersPage, tableRows, type PeersRun } from './peers-page.js';
import { encodeHistogram, newHistogram, recordMs } from '../src/report/histogram.js';

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));

const MODES = ['raw', 'http2', 'xdsim', 'istiod', 'gcp'] as const;
type Mode = (typeof MODES)[number];

const program = new Command('xds-fanout')
  .option('--streams <n>', 'ADS streams (5000 for the full-size run)', (v) => Number(v), 500)
  .option('--clients <n>', 'client processes', (v) => Number(v), 2)
  .option('--rounds <n>', 'measured endpoint changes', (v) => Number(v), 10)
  .option('--warmup <n>', 'unmeasured changes first', (v) => Number(v), 2)
  .option('--modes <list>', `comma-separated, of ${MODES.join(',')}`, 'raw,xdsim')
  .option('--repeat <n>', 'alternate the modes this many times and pool the rounds (evens out noise)', (v) => Number(v), 2)
  .option('--out <file>', 'results file (merged by stream count)', here('./results/xds-fanout.json'))
  .option('--no-latest', 'do not merge into bench/results/latest.json (trial runs)')
  .option('--html <file>', 'the HTML page: side-by-side table, convergence distributions, costs and ratios', here('./results/peers.html'))
  .parse();
const opts = program.opts<{ streams: number; clients: number; rounds: number; warmup: number; modes: string; repeat: number; out: string; latest: boolean; html: string }>();

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
const round2 = (n: number) => Math.round(n * 100) / 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const wallNow = () => performance.timeOrigin + performance.now();
const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);

/** utime + stime of a process in ms (10 ms ticks) and its VmRSS in bytes, from /proc. */
function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}
function procRss(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
}

/** The bytes a response carries once the round's change is in it: the address field's length and text. */
function marker(round: number): string {
  const a = movingAddress(round);
  return Buffer.concat([Buffer.from([a.length]), Buffer.from(a)]).toString('hex');
}

interface Server {
  port: number;
  pid: number;
  streams(): Promise<number>;
  /** RSS after a full GC where the server has one. */
  rss(): Promise<number>;
  /** Starts change `round`; resolves with server-side ACK times (ms) where the server measures them. */
  change(round: number): Promise<{ times?: number[]; cpuMs?: number }>;
  stop(): Promise<void>;
  /** CPU profile of the measured rounds (XDSIM_BENCH_PROFILE=<dir>), Node servers only. */
  profile?: { start(): void; stop(file: string): Promise<void> };
}

async function nodeServer(mode: 'xdsim' | 'raw' | 'http2'): Promise<Server> {
  const prof = process.env['XDSIM_BENCH_CPU_PROF'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['XDSIM_BENCH_CPU_PROF']}`] : [];
  const server = forkTs(here('./xds-fanout-server.ts'), [mode], ['--expose-gc', '--max-old-space-size=4096', ...prof]);
  const listening = await nextMessage(server, 'listening', 60_000);
  const ask = async (): Promise<Msg> => {
    server.send({ cmd: 'rss' });
    return nextMessage(server, 'rss', 30_000);
  };
  return {
    port: listening['port'] as number,
    pid: server.pid!,
    streams: async () => (await ask())['streams'] as number,
    rss: async () => (await ask())['rss'] as number,
    async change(round) {
      const changed = nextMessage(server, 'changed', 130_000);
      server.send({ cmd: 'change', round, expected: opts.streams, timeoutMs: 120_000 });
      const m = await changed;
      return { times: m['times'] as number[], cpuMs: m['cpuMs'] as number };
    },
    profile: {
      start: () => server.send({ cmd: 'profile-start' }),
      async stop(file) {
        server.send({ cmd: 'profile-stop', file });
        await nextMessage(server, 'profiled', 30_000);
      },
    },
    async stop() {
      // Ask first, so a --cpu-prof profile gets written; then make sure.
      server.send({ cmd: 'exit' });
      await Promise.race([new Promise((r) => server.once('exit', r)), sleep(2000)]);
      server.kill();
    },
  };
}

async function istiodServer(): Promise<Server> {
  const { startIstiodPeer } = await import('../test/interop/istiod-peer.js');
  const dir = mkdtempSync(join(os.tmpdir(), 'xdsim-fanout-istiod-'));
  writeFileSync(join(dir, 'mesh.yaml'), mesh().map((r) => stringify(r)).join('---\n'));
  // Debounce off (PILOT_DEBOUNCE_AFTER 0) as on every server here, and new streams not
  // rate-limited (istiod derives 25/s on 2 cores, which would make connecting take minutes).
  const peer = await startIstiodPeer({ files: [dir], debounceMs: 0, validateIdentity: false, maxRequestsPerSecond: 100_000 });
  const pid = peer.pid!;
  let streams = 0;
  return {
    port: Number(peer.xds.split(':').pop()),
    pid,
    // istiod's own count of connected proxies, from its /metrics (pilot_xds).
    async streams() {
      const text = await (await fetch(`http://${peer.admin}/metrics`)).text().catch(() => '');
      const m = /^pilot_xds(?:\{[^}]*\})?\s+(\d+)/m.exec(text);
      streams = m ? Number(m[1]) : streams;
      return m ? streams : opts.streams;
    },
    rss: async () => procRss(pid),
    async change(round) {
      await peer.apply(stringify(change(round)));
      return {};
    },
    async stop() {
      await peer.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function gcpServer(): Promise<Server> {
  const { startGcpPeer } = await import('../test/interop/gcp-peer.js');
  const { ConfigStore } = await import('../src/config/store.js');
  const { EdsCache } = await import('../src/eds/eds-cache.js');
  const { Registry } = await import('../src/model/registry.js');
  const { proxyView } = await import('../src/eds/proxy.js');
  const { parseLocality } = await import('../src/model/locality.js');
  const peer = await startGcpPeer({ log: (l) => process.stderr.write(`  ${l}\n`) });
  // The ClusterLoadAssignment xdsim serves these clients, computed here and handed over as bytes.
  const store = new ConfigStore();
  store.commit(mesh().map((resource) => ({ op: 'apply' as const, resource })));
  const eds = new EdsCache(new Registry(store));
  const view = proxyView({ locality: parseLocality(`${LOCALITY.region}/${LOCALITY.zone}/${LOCALITY.sub_zone}`) });
  const cla = () => eds.view(CLUSTER, view)!.bytes;
  await peer.setCla(cla());
  return {
    port: Number(peer.xds.split(':').pop()),
    pid: peer.pid!,
    streams: () => peer.streams(),
    async rss() {
      await peer.gc();
      return procRss(peer.pid!);
    },
    async change(round) {
      store.apply(change(round));
      await peer.setCla(cla());
      return {};
    },
    stop: () => peer.stop(),
  };
}

function startServer(mode: Mode): Promise<Server> {
  if (mode === 'istiod') return istiodServer();
  if (mode === 'gcp') return gcpServer();
  return nodeServer(mode);
}

interface Samples {
  /** Client-side: change requested -> every stream has it, per round (ms). */
  allSeen: number[];
  perStreamSeen: number[];
  /** Server CPU per change from /proc (ms). */
  cpu: number[];
  /** Server-side ACK times (Node servers only). */
  allAck: number[];
  perStreamAck: number[];
  serverCpu: number[];
  rssPerConn: number;
  before: number;
  connected: number;
  incomplete: number;
}

async function runMode(mode: Mode, clients: ChildProcess[]): Promise<Samples> {
  const n = opts.streams;
  const server = await startServer(mode);
  try {
    await sleep(500);
    const before = await server.rss();
    for (const c of clients) c.send({ cmd: 'open', port: server.port });
    try {
      const readies = await Promise.all(clients.map((c) => nextMessage(c, 'ready', 600_000)));
      const failures = readies.reduce((s, r) => s + (r['failures'] as number), 0);
      if (failures > 0) throw new Error(`${mode}: ${failures} client connections failed`);
      await sleep(1000);
      const connected = await server.rss();
      const streams = await server.streams();
      if (streams < n) throw new Error(`${mode}: only ${streams} of ${n} streams connected`);
      const s: Samples = { allSeen: [], perStreamSeen: [], cpu: [], allAck: [], perStreamAck: [], serverCpu: [], rssPerConn: (connected - before) / n, before, connected, incomplete: 0 };
      const profileDir = process.env['XDSIM_BENCH_PROFILE'];
      for (let r = 0; r < opts.warmup + opts.rounds; r++) {
        const round = r + 1;
        if (profileDir && r === opts.warmup) server.profile?.start();
        await Promise.all(clients.map((c) => { const w = nextMessage(c, 'watching', 30_000); c.send({ cmd: 'watch', round, marker: marker(round) }); return w; }));
        const seen = clients.map((c) => nextMessage(c, 'seen', 125_000).catch(() => undefined));
        const cpu0 = procCpuMs(server.pid);
        const t0 = wallNow();
        const serverSide = server.change(round);
        // Bounded wait; the timer is cleared so a finished run exits at once.
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), 120_000)));
        const got = await Promise.race([Promise.all(seen), timeout]);
        clearTimeout(timer);
        if (got === 'timeout') for (const c of clients) c.send({ cmd: 'collect', round });
        const all = (await Promise.all(seen)).flatMap((m) => (m?.['times'] as number[] | undefined) ?? []).map((t) => t - t0).sort((a, b) => a - b);
        await sleep(250);
        const cpuMs = procCpuMs(server.pid) - cpu0;
        const ss = await serverSide;
        if (r >= opts.warmup) {
          if (all.length < n) s.incomplete++;
          s.allSeen.push(all[all.length - 1] ?? NaN);
          s.perStreamSeen.push(...all);
          s.cpu.push(cpuMs);
          if (ss.times) {
            const t = [...ss.times].sort((a, b) => a - b);
            s.allAck.push(t[t.length - 1] ?? NaN);
            s.perStreamAck.push(...t);
            s.serverCpu.push(ss.cpuMs!);
          }
        }
        await sleep(200);
      }
      if (profileDir) await server.profile?.stop(`${profileDir}/${mode}-${n}.cpuprofile`);
      return s;
    } finally {
      await Promise.all(clients.map((c) => { const closed = nextMessage(c, 'closed', 60_000).catch(() => undefined); c.send({ cmd: 'close' }); return closed; }));
    }
  } finally {
    await server.stop();
    // Let the closed connections' sockets go before the next server starts.
    await sleep(1000);
  }
}

/** p50/p90/p99/max of ascending `sorted` (ms). */
function fourPoints(sorted: number[]) {
  return { p50: round2(percentile(sorted, 50)), p90: round2(percentile(sorted, 90)), p99: round2(percentile(sorted, 99)), max: round2(sorted[sorted.length - 1] ?? NaN) };
}

/** Every per-stream time of a turn as an HDR histogram (µs, compressed base64; src/report/histogram.ts). */
function histogramOf(ms: number[]): string {
  const h = newHistogram();
  for (const v of ms) recordMs(h, v);
  return encodeHistogram(h);
}

function summarize(runs: Samples[]) {
  const sorted = (f: (r: Samples) => number[]) => runs.flatMap(f).sort((a, b) => a - b);
  const allSeen = sorted((r) => r.allSeen);
  const perSeen = sorted((r) => r.perStreamSeen);
  const allAck = sorted((r) => r.allAck);
  const perAck = sorted((r) => r.perStreamAck);
  return {
    clientSide: {
      allSeenMs: {
        p50: round2(percentile(allSeen, 50)),
        p99: round2(percentile(allSeen, 99)),
        max: round2(allSeen[allSeen.length - 1]!),
        perRun: runs.map((r) => round2(median(r.allSeen))),
        /** Every measured round of every turn: change asked -> the last stream has it (ms). */
        perRound: runs.map((r) => r.allSeen.map(round2)),
      },
      perStreamMs: {
        p50: round2(percentile(perSeen, 50)),
        p99: round2(percentile(perSeen, 99)),
        p90: round2(percentile(perSeen, 90)),
        max: round2(perSeen[perSeen.length - 1] ?? NaN),
        /** 0th..100th percentile of every stream's time in every round: the page's CDF. */
        cdf: quantiles(perSeen),
        perRun: runs.map((r) => fourPoints([...r.perStreamSeen].sort((a, b) => a - b))),
        /** Per turn, every stream's time in every round, exactly enough to merge or re-plot later. */
        hdrBase64PerRun: runs.map((r) => histogramOf(r.perStreamSeen)),
      },
    },
    serverCpuMsPerChange: round2(median(runs.flatMap((r) => r.cpu))),
    serverCpuMsPerChangePerRun: runs.map((r) => round2(median(r.cpu))),
    serverCpuMsPerRound: runs.map((r) => [...r.cpu]),
    rssPerConnBytes: Math.round(median(runs.map((r) => r.rssPerConn))),
    rssPerConnBytesPerRun: runs.map((r) => Math.round(r.rssPerConn)),
    serverRssBytes: { before: runs[0]!.before, connected: runs[0]!.connected },
    ...(allAck.length
      ? {
          serverSide: {
            allAckMs: { p50: round2(percentile(allAck, 50)), p99: round2(percentile(allAck, 99)), max: round2(allAck[allAck.length - 1]!), perRun: runs.map((r) => round2(median(r.allAck))) },
            perStreamAckMs: { p50: round2(percentile(perAck, 50)), p99: round2(percentile(perAck, 99)) },
            cpuMsPerChange: round2(median(runs.flatMap((r) => r.serverCpu))),
          },
        }
      : {}),
    incompleteRounds: runs.reduce((s, r) => s + r.incomplete, 0),
  };
}
type ModeResult = ReturnType<typeof summarize>;

async function main(): Promise<void> {
  const modes = opts.modes.split(',').map((s) => s.trim()) as Mode[];
  for (const m of modes) if (!MODES.includes(m)) throw new Error(`--modes: unknown ${m} (${MODES.join(', ')})`);
  const per = Math.ceil(opts.streams / opts.clients);
  const clients: ChildProcess[] = [];
  for (let i = 0; i < opts.clients; i++) {
    const count = Math.min(per, opts.streams - i * per);
    if (count <= 0) break;
    clients.push(forkTs(here('./xds-fanout-client.ts'), [JSON.stringify({ count, prefix: `bench-${i}`, cluster: CLUSTER, locality: LOCALITY })]));
  }
  const samples: Partial<Record<Mode, Samples[]>> = {};
  const loads: Record<string, number[]> = {};
  const failed: Partial<Record<Mode, string>> = {};
  try {
    for (let rep = 0; rep < opts.repeat; rep++) {
      for (const m of modes) {
        const load = os.loadavg().map((l) => round2(l));
        process.stderr.write(`xds-fanout: ${m}, ${opts.streams} streams (run ${rep + 1}/${opts.repeat}), load average ${load.join(' ')} ...\n`);
        if (failed[m]) continue;
        let r: Samples;
        try {
          r = await runMode(m, clients);
        } catch (err) {
          // Shown as "not run" (or stopped part-way) on the page, with why; the others still run.
          failed[m] = (err as Error).message.split('\n')[0]!;
          process.stderr.write(`  ${m} failed: ${failed[m]}\n`);
          continue;
        }
        (samples[m] ??= []).push(r);
        (loads[m] ??= []).push(load[0]!);
        const s = summarize([r]);
        process.stderr.write(
          `  every stream has it p50 ${s.clientSide.allSeenMs.p50} ms, p99 ${s.clientSide.allSeenMs.p99} ms; server CPU ${s.serverCpuMsPerChange} ms/change; ${s.rssPerConnBytes} B/conn` +
            (s.serverSide ? `; server-side all ACK p50 ${s.serverSide.allAckMs.p50} ms` : '') +
            (s.incompleteRounds ? `; ${s.incompleteRounds} incomplete rounds` : '') +
            '\n',
        );
      }
    }
  } finally {
    for (const c of clients) {
      c.send({ cmd: 'exit' });
      c.kill();
    }
  }
  const results: Partial<Record<Mode, ModeResult & { loadAverage1m: number[] }>> = {};
  for (const m of modes) if (samples[m]) results[m] = { ...summarize(samples[m]!), loadAverage1m: loads[m]! };
  const existing = existsSync(opts.out) ? (JSON.parse(readFileSync(opts.out, 'utf8')) as Record<string, unknown>) : {};
  const runs = (existing['runs'] as Record<string, unknown> | undefined) ?? {};
  const ratios = (existing['ratios'] as Record<string, number> | undefined) ?? {};
  const newRatios: Record<string, number> = {};
  const n = opts.streams;
  const x = results.xdsim;
  if (x && results.raw?.serverSide && x.serverSide) {
    newRatios[`fanout_${n}_vs_raw_floor`] = round2(x.serverSide.allAckMs.p50 / results.raw.serverSide.allAckMs.p50);
    newRatios[`rss_per_conn_${n}_vs_raw_floor`] = round2(x.rssPerConnBytes / results.raw.rssPerConnBytes);
    newRatios[`server_cpu_${n}_vs_raw_floor`] = round2(x.serverSide.cpuMsPerChange / results.raw.serverSide.cpuMsPerChange);
  }
  // Against the peers and the plain HTTP/2 floor: client-side times and /proc CPU for both sides.
  const versus = (other: Mode | undefined, name: string, r: ModeResult | undefined, base = x): void => {
    if (!base || !r || !other) return;
    newRatios[`fanout_${n}_vs_${name}`] = round2(base.clientSide.allSeenMs.p50 / r.clientSide.allSeenMs.p50);
    newRatios[`cpu_per_change_${n}_vs_${name}`] = round2(base.serverCpuMsPerChange / r.serverCpuMsPerChange);
    newRatios[`rss_per_conn_${n}_vs_${name}`] = round2(base.rssPerConnBytes / r.rssPerConnBytes);
  };
  versus('istiod', 'istiod', results.istiod);
  versus('gcp', 'go_control_plane', results.gcp);
  versus('http2', 'http2_floor', results.http2);
  versus('http2', 'http2_floor_raw', results.http2, results.raw);
  if (n === 5000) {
    // The headline names the issue asks for (fan-out is already per stream count in its name).
    for (const peer of ['istiod', 'go_control_plane']) {
      if (newRatios[`cpu_per_change_5000_vs_${peer}`] !== undefined) newRatios[`cpu_per_change_vs_${peer}`] = newRatios[`cpu_per_change_5000_vs_${peer}`]!;
      if (newRatios[`rss_per_conn_5000_vs_${peer}`] !== undefined) newRatios[`rss_per_conn_vs_${peer}`] = newRatios[`rss_per_conn_5000_vs_${peer}`]!;
    }
  }
  Object.assign(ratios, newRatios);
  const run = {
    date: new Date().toISOString(),
    streams: n,
    clients: opts.clients,
    rounds: opts.rounds,
    repeat: opts.repeat,
    node: process.version,
    cpus: os.cpus().length,
    edsDebounce: false,
    note: 'debounce off on every server (xdsim PILOT_ENABLE_EDS_DEBOUNCE=false, istiod peer PILOT_DEBOUNCE_AFTER=0, go-control-plane has none); istiod peer PILOT_MAX_REQUESTS_PER_SECOND raised to 100000',
    results,
    ratios: newRatios,
    modes,
    ...(Object.keys(failed).length ? { failed } : {}),
    context: runContext(),
  };
  runs[String(n)] = run;
  // The headline RSS ratio against the raw floor comes from the largest run on file.
  const largest = Math.max(...Object.keys(runs).map(Number));
  if (ratios[`rss_per_conn_${largest}_vs_raw_floor`] !== undefined) ratios['rss_per_conn_vs_raw_floor'] = ratios[`rss_per_conn_${largest}_vs_raw_floor`]!;
  const out = {
    description:
      'xDS push fan-out: one endpoint change to N ADS streams (one HTTP/2 connection each); xdsim against a raw grpc-js server and a plain node:http2 server writing the same bytes, istiod\'s discovery server and go-control-plane (LinearCache). Debounce off everywhere.',
    goal: {
      fanout_5000_vs_raw_floor: '<= 1.5',
      rss_per_conn_vs_raw_floor: '<= 1.5',
      fanout_5000_vs_istiod: '<= 0.33',
      cpu_per_change_vs_istiod: '<= 0.33',
      rss_per_conn_vs_istiod: '<= 0.33',
      fanout_5000_vs_go_control_plane: '<= 0.5',
      cpu_per_change_vs_go_control_plane: '<= 0.5',
    },
    ratios,
    runs,
  };
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, JSON.stringify(out, null, 2) + '\n');
  if (opts.latest) mergeIntoLatest({ fanout: out }, ratios);
  printTable(modes, results);
  process.stdout.write(JSON.stringify({ streams: n, ratios: newRatios }, null, 2) + '\n');
  const others = Object.values(runs as Record<string, PeersRun>).filter((r) => r.streams !== n);
  mkdirSync(dirname(opts.html), { recursive: true });
  writeFileSync(opts.html, renderPeersPage({ run: run as PeersRun, goal: out.goal, others }));
  for (const [m, why] of Object.entries(failed)) process.stderr.write(`${m}: not run (${why})\n`);
  process.stderr.write(`page: ${opts.html}\n`);
  if (Object.keys(failed).length) process.exitCode = 1;
}

/** What the page says about the machine and the tree the run came from. */
function runContext() {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: here('.'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    // Not a git checkout.
  }
  return { commit, cpuModel: os.cpus()[0]?.model ?? 'unknown', memGiB: round2(os.totalmem() / 2 ** 30), loadAverage: os.loadavg().map(round2), host: `${os.platform()} ${os.release()}` };
}

function printTable(modes: Mode[], results: Partial<Record<Mode, ModeResult & { loadAverage1m: number[] }>>): void {
  // The same rows the page shows (bench/peers-page.ts).
  const rows = tableRows(modes, results);
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) process.stderr.write(r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ') + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`xds-fanout failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
