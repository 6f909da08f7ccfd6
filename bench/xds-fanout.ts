// Fan-out bench: N ADS streams (each on its own HTTP/2 connection, from client processes)
// subscribed to one cluster; one endpoint change -> time until every stream ACKed. Measured for
// xdsim and for a raw grpc-js floor writing the same bytes, in the same run, one after the other.
//
//   npx tsx bench/xds-fanout.ts [--streams 500] [--clients 2] [--rounds 10] [--warmup 2] [--out bench/results/xds-fanout.json]
import type { ChildProcess } from 'node:child_process';
import { forkTs, nextMessage } from './child.js';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mergeIntoLatest } from './results-file.js';
import os from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { CLUSTER, LOCALITY } from './xds-fanout-shared.js';

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));

const program = new Command('xds-fanout')
  .option('--streams <n>', 'ADS streams (5000 for the full-size run)', (v) => Number(v), 500)
  .option('--clients <n>', 'client processes', (v) => Number(v), 2)
  .option('--rounds <n>', 'measured endpoint changes', (v) => Number(v), 10)
  .option('--warmup <n>', 'unmeasured changes first', (v) => Number(v), 2)
  .option('--modes <list>', 'comma-separated: xdsim,raw', 'raw,xdsim')
  .option('--repeat <n>', 'alternate the modes this many times and pool the rounds (evens out noise)', (v) => Number(v), 2)
  .option('--out <file>', 'results file (merged by stream count)', here('./results/xds-fanout.json'))
  .parse();
const opts = program.opts<{ streams: number; clients: number; rounds: number; warmup: number; modes: string; repeat: number; out: string }>();


function spawn(script: string, args: string[], execArgv: string[] = []): ChildProcess {
  return forkTs(here(script), args, execArgv);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

interface ModeResult {
  allAckMs: { p50: number; p99: number; max: number; rounds: number[] };
  perStreamAckMs: { p50: number; p99: number };
  /** Server CPU (user + system) from the change until the last ACK, median over rounds. */
  serverCpuMsPerChange: number;
  rssPerConnBytes: number;
  serverRssBytes: { before: number; connected: number };
  incompleteRounds: number;
}

interface Samples {
  allAck: number[];
  perStream: number[];
  cpu: number[];
  rssPerConn: number;
  before: number;
  connected: number;
  incomplete: number;
}

async function runMode(mode: 'xdsim' | 'raw'): Promise<Samples> {
  const n = opts.streams;
  const prof = process.env['XDSIM_BENCH_CPU_PROF'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['XDSIM_BENCH_CPU_PROF']}`] : [];
  const server = spawn('./xds-fanout-server.ts', [mode], ['--expose-gc', '--max-old-space-size=4096', ...prof]);
  try {
    const listening = await nextMessage(server, 'listening', 60_000);
    const port = listening['port'] as number;
    await new Promise((r) => setTimeout(r, 500));
    server.send({ cmd: 'rss' });
    const before = (await nextMessage(server, 'rss', 30_000))['rss'] as number;
    const clients: ChildProcess[] = [];
    const per = Math.ceil(n / opts.clients);
    for (let i = 0; i < opts.clients; i++) {
      const count = Math.min(per, n - i * per);
      if (count <= 0) break;
      clients.push(spawn('./xds-fanout-client.ts', [JSON.stringify({ port, count, prefix: `bench-${i}`, cluster: CLUSTER, locality: LOCALITY })]));
    }
    try {
      const readies = await Promise.all(clients.map((c) => nextMessage(c, 'ready', 300_000)));
      const failures = readies.reduce((s, r) => s + (r['failures'] as number), 0);
      if (failures > 0) throw new Error(`${failures} client connections failed`);
      await new Promise((r) => setTimeout(r, 1000));
      server.send({ cmd: 'rss' });
      const connectedMsg = await nextMessage(server, 'rss', 30_000);
      const connected = connectedMsg['rss'] as number;
      if ((connectedMsg['streams'] as number) < n) throw new Error(`only ${String(connectedMsg['streams'])} of ${n} streams connected`);
      const allAck: number[] = [];
      const perStream: number[] = [];
      const cpu: number[] = [];
      let incomplete = 0;
      const profileDir = process.env['XDSIM_BENCH_PROFILE'];
      for (let r = 0; r < opts.warmup + opts.rounds; r++) {
        if (profileDir && r === opts.warmup) server.send({ cmd: 'profile-start' });
        server.send({ cmd: 'change', round: r + 1, expected: n, timeoutMs: 120_000 });
        const changed = await nextMessage(server, 'changed', 130_000);
        const times = (changed['times'] as number[]).sort((a, b) => a - b);
        if (r >= opts.warmup) {
          if (times.length < n) incomplete++;
          allAck.push(times[times.length - 1] ?? NaN);
          cpu.push(changed['cpuMs'] as number);
          perStream.push(...times);
        }
        await new Promise((res) => setTimeout(res, 200));
      }
      if (profileDir) {
        server.send({ cmd: 'profile-stop', file: `${profileDir}/${mode}-${n}.cpuprofile` });
        await nextMessage(server, 'profiled', 30_000);
      }
      return { allAck, perStream, cpu, rssPerConn: (connected - before) / n, before, connected, incomplete };
    } finally {
      for (const c of clients) {
        c.send({ cmd: 'exit' });
        c.kill();
      }
    }
  } finally {
    // Ask first, so a --cpu-prof profile gets written; then make sure.
    server.send({ cmd: 'exit' });
    await new Promise((r) => setTimeout(r, 1000));
    server.kill();
  }
}

function summarize(runs: Samples[]): ModeResult {
  const allAck = runs.flatMap((r) => r.allAck);
  const sortedAll = [...allAck].sort((a, b) => a - b);
  const perStream = runs.flatMap((r) => r.perStream).sort((a, b) => a - b);
  const cpu = runs.flatMap((r) => r.cpu).sort((a, b) => a - b);
  const rss = runs.map((r) => r.rssPerConn).sort((a, b) => a - b);
  return {
    allAckMs: { p50: round2(percentile(sortedAll, 50)), p99: round2(percentile(sortedAll, 99)), max: round2(sortedAll[sortedAll.length - 1]!), rounds: allAck.map(round2) },
    perStreamAckMs: { p50: round2(percentile(perStream, 50)), p99: round2(percentile(perStream, 99)) },
    serverCpuMsPerChange: round2(percentile(cpu, 50)),
    rssPerConnBytes: Math.round(percentile(rss, 50)),
    serverRssBytes: { before: runs[0]!.before, connected: runs[0]!.connected },
    incompleteRounds: runs.reduce((s, r) => s + r.incomplete, 0),
  };
}

async function main(): Promise<void> {
  const modes = opts.modes.split(',').map((s) => s.trim()) as ('xdsim' | 'raw')[];
  const samples: Partial<Record<'xdsim' | 'raw', Samples[]>> = {};
  for (let rep = 0; rep < opts.repeat; rep++) {
    for (const m of modes) {
      process.stderr.write(`xds-fanout: ${m}, ${opts.streams} streams (run ${rep + 1}/${opts.repeat}) ...\n`);
      const r = await runMode(m);
      (samples[m] ??= []).push(r);
      const s = summarize([r]);
      process.stderr.write(`  all ACK p50 ${s.allAckMs.p50} ms, p99 ${s.allAckMs.p99} ms; server CPU ${s.serverCpuMsPerChange} ms/change; ${s.rssPerConnBytes} B/conn\n`);
    }
  }
  const results: Partial<Record<'xdsim' | 'raw', ModeResult>> = {};
  for (const m of modes) results[m] = summarize(samples[m]!);
  const existing = existsSync(opts.out) ? (JSON.parse(readFileSync(opts.out, 'utf8')) as Record<string, unknown>) : {};
  const runs = (existing['runs'] as Record<string, unknown> | undefined) ?? {};
  const ratios = (existing['ratios'] as Record<string, number> | undefined) ?? {};
  const run = {
    date: new Date().toISOString(),
    streams: opts.streams,
    clients: opts.clients,
    rounds: opts.rounds,
    repeat: opts.repeat,
    node: process.version,
    cpus: os.cpus().length,
    edsDebounce: false,
    results,
  };
  runs[String(opts.streams)] = run;
  if (results.xdsim && results.raw) {
    ratios[`fanout_${opts.streams}_vs_raw_floor`] = round2(results.xdsim.allAckMs.p50 / results.raw.allAckMs.p50);
    ratios[`rss_per_conn_${opts.streams}_vs_raw_floor`] = round2(results.xdsim.rssPerConnBytes / results.raw.rssPerConnBytes);
    ratios[`server_cpu_${opts.streams}_vs_raw_floor`] = round2(results.xdsim.serverCpuMsPerChange / results.raw.serverCpuMsPerChange);
  }
  // The headline RSS ratio comes from the largest run on file.
  const largest = Math.max(...Object.keys(runs).map(Number));
  if (ratios[`rss_per_conn_${largest}_vs_raw_floor`] !== undefined) ratios['rss_per_conn_vs_raw_floor'] = ratios[`rss_per_conn_${largest}_vs_raw_floor`]!;
  const out = {
    description:
      'xDS push fan-out: one endpoint change to N ADS streams (one HTTP/2 connection each), time until all ACK; xdsim vs a raw grpc-js server writing the same bytes. EDS debounce off (PILOT_ENABLE_EDS_DEBOUNCE=false).',
    goal: { fanout_5000_vs_raw_floor: '<= 1.5', rss_per_conn_vs_raw_floor: '<= 1.5' },
    ratios,
    runs,
  };
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, JSON.stringify(out, null, 2) + '\n');
  mergeIntoLatest({ fanout: out }, ratios);
  process.stdout.write(JSON.stringify({ streams: opts.streams, ratios, results }, null, 2) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`xds-fanout failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
