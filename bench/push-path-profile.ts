// Push-path A/B: server CPU per change per stream for several server builds in one run. Every
// server is up at once, each with its own N streams from the same client processes, and the
// changes alternate between them (change 1 on A, B, C, change 2 on B, C, A, ...), so box noise
// (other work on the same cores) falls on every build alike.
//
//   npx tsx bench/push-path-profile.ts --streams 2000 --rounds 20 --repeat 3 \
//     --server raw=bench --server before=/tmp/before/bench:xdsim --server after=bench:xdsim [--profile <dir>]
//
// A --server is `label=<bench dir>[:mode]`: the fan-out bench's server process
// (<dir>/xds-fanout-server.ts, mode raw|http2|xdsim, default raw) from that tree, so an older
// checkout (git archive of a commit, node_modules linked) runs its own src/. CPU per change is
// the server's process.cpuUsage() from just before the store write until every stream ACKed
// (user+system, microseconds), divided by the streams; --profile writes a CPU profile of each
// server's measured changes (bench/push-path-attribute.ts reads them).
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { Command } from 'commander';
import { forkTs, nextMessage } from './child.js';
import { CLUSTER, LOCALITY } from './xds-fanout-shared.js';

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));

const program = new Command('push-path-profile')
  .option('--streams <n>', 'ADS streams', (v) => Number(v), 2000)
  .option('--clients <n>', 'client processes', (v) => Number(v), 2)
  .option('--rounds <n>', 'measured changes per server and repetition', (v) => Number(v), 20)
  .option('--warmup <n>', 'unmeasured changes first', (v) => Number(v), 3)
  .option('--repeat <n>', 'blocks of --rounds changes per server (reported apart)', (v) => Number(v), 3)
  .option('--server <spec>', 'label=<bench dir>[:raw|http2|xdsim] (repeatable)', (v, acc: string[]) => [...acc, v], [] as string[])
  .option('--profile <dir>', 'CPU profiles of the measured rounds')
  .option('--node-args <args>', 'extra node flags for the servers, space-separated (e.g. --trace-gc)', '')
  .parse();
const opts = program.opts<{ streams: number; clients: number; rounds: number; warmup: number; repeat: number; server: string[]; profile?: string; nodeArgs: string }>();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2 : NaN;
};

interface Spec {
  label: string;
  script: string;
  mode: string;
}
const specs: Spec[] = opts.server.map((s) => {
  const m = /^([^=]+)=([^:]+)(?::(raw|http2|xdsim))?$/.exec(s);
  if (!m) throw new Error(`--server ${s}: expected label=<bench dir>[:mode]`);
  return { label: m[1]!, script: resolve(m[2]!, 'xds-fanout-server.ts'), mode: m[3] ?? 'raw' };
});
if (specs.length === 0) throw new Error('at least one --server');

interface Running {
  spec: Spec;
  server: ChildProcess;
  perStreamUs: number[];
  /** CPU ms of the main thread and of the others over the measured changes. */
  threads: Map<string, number>;
}

/**
 * utime+stime (ms, 10 ms ticks) of the main thread of `pid` and of its other threads (V8's GC
 * and compiler workers, libuv's pool; Node 20 leaves them all named `node`), from /proc: a CPU
 * profile sees only the main thread. Empty where /proc is not there.
 */
function threadCpuMs(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const name = tid === String(pid) ? 'main' : 'other threads';
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) * 10);
    } catch {
      // The thread ended in between.
    }
  }
  return out;
}

function addInto(acc: Map<string, number>, a: Map<string, number>, b: Map<string, number>): void {
  for (const [k, v] of b) acc.set(k, (acc.get(k) ?? 0) + v - (a.get(k) ?? 0));
}

async function start(spec: Spec, clients: ChildProcess[]): Promise<Running> {
  const server = forkTs(spec.script, [spec.mode], ['--expose-gc', '--max-old-space-size=4096', ...opts.nodeArgs.split(' ').filter(Boolean)]);
  const { port } = (await nextMessage(server, 'listening', 60_000)) as unknown as { port: number };
  for (const c of clients) c.send({ cmd: 'open', port });
  const readies = await Promise.all(clients.map((c) => nextMessage(c, 'ready', 600_000)));
  const failures = readies.reduce((s, r) => s + (r['failures'] as number), 0);
  if (failures > 0) throw new Error(`${spec.label}: ${failures} client connections failed`);
  return { spec, server, perStreamUs: [], threads: new Map() };
}

/** One change on one server; CPU per stream (us) from the server's own process.cpuUsage(). */
async function change(r: Running, round: number): Promise<number> {
  const changed = nextMessage(r.server, 'changed', 130_000);
  r.server.send({ cmd: 'change', round, expected: opts.streams, timeoutMs: 120_000 });
  const m = await changed;
  const times = m['times'] as number[];
  if (times.length < opts.streams) throw new Error(`${r.spec.label}: only ${times.length} of ${opts.streams} streams ACKed round ${round}`);
  return ((m['cpuMs'] as number) * 1000) / opts.streams;
}

async function stop(r: Running): Promise<void> {
  r.server.send({ cmd: 'exit' });
  await Promise.race([new Promise((res) => r.server.once('exit', res)), sleep(3000)]);
  r.server.kill();
}

async function main(): Promise<void> {
  const per = Math.ceil(opts.streams / opts.clients);
  const clients: ChildProcess[] = [];
  for (let i = 0; i < opts.clients; i++) {
    const count = Math.min(per, opts.streams - i * per);
    if (count > 0) clients.push(forkTs(here('./xds-fanout-client.ts'), [JSON.stringify({ count, prefix: `pp-${i}`, cluster: CLUSTER, locality: LOCALITY })]));
  }
  const running: Running[] = [];
  try {
    // Every server up with its own streams at once (the clients hold them all); idle servers
    // cost nothing, and interleaving per change puts box noise on every build alike.
    for (const spec of specs) running.push(await start(spec, clients));
    await sleep(1000);
    const total = opts.warmup + opts.rounds * opts.repeat;
    for (let r = 0; r < total; r++) {
      const measured = r >= opts.warmup;
      if (opts.profile && r === opts.warmup) for (const x of running) x.server.send({ cmd: 'profile-start' });
      // Rotate who goes first, so no build always follows the same one.
      for (let k = 0; k < running.length; k++) {
        const x = running[(r + k) % running.length]!;
        const t0 = measured ? threadCpuMs(x.server.pid!) : undefined;
        const us = await change(x, r + 1);
        if (t0) {
          x.perStreamUs.push(us);
          addInto(x.threads, t0, threadCpuMs(x.server.pid!));
        }
        await sleep(100);
      }
      if (measured && (r - opts.warmup + 1) % opts.rounds === 0) {
        process.stderr.write(`after ${r - opts.warmup + 1} changes (load ${os.loadavg()[0]!.toFixed(2)}): ${running.map((x) => `${x.spec.label} ${median(x.perStreamUs.slice(-opts.rounds)).toFixed(2)}`).join(', ')} us/stream/change\n`);
      }
    }
    if (opts.profile) {
      for (const x of running) {
        x.server.send({ cmd: 'profile-stop', file: `${opts.profile}/${x.spec.label}.cpuprofile` });
        await nextMessage(x.server, 'profiled', 60_000);
      }
    }
  } finally {
    for (const c of clients) {
      c.send({ cmd: 'exit' });
      c.kill();
    }
    for (const x of running) await stop(x);
  }
  const out: Record<string, unknown> = { streams: opts.streams, changesPerServer: opts.rounds * opts.repeat, blocks: opts.repeat };
  const first = running[0]!;
  const base = median(first.perStreamUs);
  for (const x of running) {
    const blocks = Array.from({ length: opts.repeat }, (_, b) => +median(x.perStreamUs.slice(b * opts.rounds, (b + 1) * opts.rounds)).toFixed(2));
    const all = median(x.perStreamUs);
    const perThread: Record<string, number> = {};
    const n = x.perStreamUs.length * opts.streams;
    for (const [k, ms] of [...x.threads].sort((a, b) => b[1] - a[1])) perThread[k] = +((ms * 1000) / n).toFixed(2);
    out[x.spec.label] = { usPerStreamPerChange: +all.toFixed(2), perBlock: blocks, [`vs_${first.spec.label}`]: +(all / base).toFixed(3), usPerStreamPerChangeByThread: perThread };
  }
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`push-path-profile failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
