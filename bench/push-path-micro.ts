// xdsim's own push-path bookkeeping, without grpc-js or HTTP/2: N SotW streams on fake calls (an
// EventEmitter whose write() records the bytes and completes on the next turn), one endpoint
// change per round; timed from the store write until every stream has written the response,
// had the write complete and handled its ACK. What is left is xdsim: the push engine's fan-out,
// the stream's write path and push tracking, response selection, ACK handling, metrics.
//
//   npx tsx bench/push-path-micro.ts [--streams 2000] [--rounds 200] [--tree before=/tmp/before --tree after=.]
//
// The ACKs are decoded before the clock starts (request decoding is protobufjs's, paid alike by
// the raw floor). Prints us per stream per push, median over rounds, and the time with the
// bookkeeping's two halves apart (fan-out + writes, ACKs). Each --tree is a checkout whose src/
// is loaded in this same process (its own module graph), with its own control plane and
// streams; rounds alternate between them, so an A/B sees the same machine state.
import { EventEmitter } from 'node:events';
import { Command } from 'commander';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { TYPE_URL, types } from '../src/proto/index.js';
import type { ControlPlane, startControlPlane as StartControlPlane } from '../src/server/control-plane.js';
import type { SotwStream as SotwStreamClass } from '../src/xds/stream/sotw.js';
import type { StreamContext } from '../src/xds/stream/connection.js';
import { CLUSTER, LOCALITY, change, mesh } from './xds-fanout-shared.js';

const opts = new Command('push-path-micro')
  .option('--streams <n>', 'streams', (v) => Number(v), 2000)
  .option('--rounds <n>', 'measured changes', (v) => Number(v), 200)
  .option('--warmup <n>', 'unmeasured changes first', (v) => Number(v), 50)
  .option('--tree <spec>', 'label=<checkout dir> (repeatable; default this checkout)', (v, acc: string[]) => [...acc, v], [] as string[])
  .parse()
  .opts<{ streams: number; rounds: number; warmup: number; tree: string[] }>();

/** Just enough of a grpc-js ServerDuplexStream for XdsConnection. */
class FakeCall extends EventEmitter {
  last: Buffer | undefined;
  writes = 0;
  constructor(private readonly pending: (() => void)[]) {
    super();
  }
  getPeer(): string {
    return 'ipv4:127.0.0.1:1';
  }
  write(b: Buffer, cb: () => void): boolean {
    this.last = b;
    this.writes++;
    this.pending.push(cb);
    return true;
  }
  pause(): void {}
  resume(): void {}
  end(): void {}
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const turn = () => new Promise<void>((r) => setImmediate(r));

interface Harness {
  label: string;
  plane: ControlPlane;
  calls: FakeCall[];
  pending: (() => void)[];
  fanout: number[];
  acks: number[];
}

async function harness(label: string, dir: string): Promise<Harness> {
  const src = (f: string) => pathToFileURL(resolve(dir, 'src', f)).href;
  const { startControlPlane } = (await import(src('server/control-plane.ts'))) as { startControlPlane: typeof StartControlPlane };
  const { SotwStream } = (await import(src('xds/stream/sotw.ts'))) as { SotwStream: typeof SotwStreamClass };
  const plane = await startControlPlane({
    resources: mesh(),
    xdsAddress: '127.0.0.1:0',
    adminAddress: null,
    logger: pino({ level: 'silent' }),
    processMetrics: false,
    debounce: { enableEdsDebounce: false },
  });
  const h: Harness = { label, plane, calls: [], pending: [], fanout: [], acks: [] };
  const ctx = (plane.xds as unknown as { ctx: StreamContext }).ctx;
  for (let i = 0; i < opts.streams; i++) {
    const call = new FakeCall(h.pending);
    new SotwStream(ctx as never, call as never, 'sotw', 'ads');
    const ip = `10.100.${(i >> 8) & 255}.${i & 255}`;
    call.emit('data', types.DiscoveryRequest.fromObject({ node: { id: `sidecar~${ip}~pp-${i}.bench~bench.svc.cluster.local`, cluster: 'bench', locality: LOCALITY }, type_url: TYPE_URL.ENDPOINT, resource_names: [CLUSTER] }));
    h.calls.push(call);
  }
  await turn();
  completeWrites(h);
  const acks = ackAll(h);
  for (let i = 0; i < h.calls.length; i++) h.calls[i]!.emit('data', acks[i]);
  if (plane.xds.connections.size !== opts.streams) throw new Error(`${label}: ${plane.xds.connections.size} of ${opts.streams} streams`);
  return h;
}

/** Each stream's ACK of the response it was last written, decoded afresh as grpc-js would hand it over. */
function ackAll(h: Harness): unknown[] {
  return h.calls.map((c) => {
    const r = types.DiscoveryResponse.decode(c.last!) as unknown as { version_info: string; nonce: string };
    return types.DiscoveryRequest.decode(types.DiscoveryRequest.encode({ type_url: TYPE_URL.ENDPOINT, version_info: r.version_info, response_nonce: r.nonce, resource_names: [CLUSTER] }).finish());
  });
}

function completeWrites(h: Harness): void {
  const cbs = h.pending.splice(0);
  for (const cb of cbs) cb();
}

async function round(h: Harness, r: number, measured: boolean): Promise<void> {
  const calls = h.calls;
  const before = calls[0]!.writes;
  const t0 = performance.now();
  h.plane.store.apply(change(r + 1));
  // Bounded: the push goes out on the next turns (EDS debounce off).
  for (let k = 0; k < 100 && calls[calls.length - 1]!.writes === before; k++) await turn();
  const t1 = performance.now();
  if (calls.some((c) => c.writes !== before + 1)) throw new Error(`${h.label} round ${r}: not every stream wrote once`);
  completeWrites(h);
  const t2 = performance.now();
  void t1;
  const acks = ackAll(h);
  const t3 = performance.now();
  for (let i = 0; i < calls.length; i++) calls[i]!.emit('data', acks[i]);
  const t4 = performance.now();
  if (measured) {
    h.fanout.push(((t2 - t0) * 1000) / opts.streams);
    h.acks.push(((t4 - t3) * 1000) / opts.streams);
  }
}

async function main(): Promise<void> {
  const trees = opts.tree.length ? opts.tree : [`this=${resolve(new URL('..', import.meta.url).pathname)}`];
  const hs: Harness[] = [];
  try {
    for (const t of trees) {
      const [label, dir] = t.split('=') as [string, string];
      hs.push(await harness(label, dir));
    }
    const total = opts.warmup + opts.rounds;
    for (let r = 0; r < total; r++) {
      // Alternate who goes first.
      for (let k = 0; k < hs.length; k++) await round(hs[(r + k) % hs.length]!, r, r >= opts.warmup);
    }
    for (const h of hs) {
      const sum = h.fanout.map((f, i) => f + h.acks[i]!);
      process.stdout.write(
        JSON.stringify({ tree: h.label, streams: opts.streams, rounds: opts.rounds, usPerStreamPerPush: +median(sum).toFixed(3), fanoutAndWrites: +median(h.fanout).toFixed(3), acks: +median(h.acks).toFixed(3), openPushesAtEnd: h.plane.xds.engine.openPushes().length }) + '\n',
      );
    }
  } finally {
    for (const h of hs) await h.plane.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`push-path-micro failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
