// xdsim's own push-path bookkeeping, without grpc-js or HTTP/2: N SotW streams on fake calls (an
// EventEmitter whose write() records the bytes and completes on the next turn), one endpoint
// change per round; timed from the store write until every stream has written the response,
// had the write complete and handled its ACK. What is left is xdsim: the push engine's fan-out,
// the stream's write path and push tracking, response selection, ACK handling, metrics.
//
//   npx tsx bench/push-path-micro.ts [--streams 2000] [--rounds 200]
//
// The ACKs are decoded before the clock starts (request decoding is protobufjs's, paid alike by
// the raw floor). Prints us per stream per push, median over rounds, and the time with the
// bookkeeping's two halves apart (fan-out + writes, ACKs).
import { EventEmitter } from 'node:events';
import { Command } from 'commander';
import { pino } from 'pino';
import { TYPE_URL, types } from '../src/proto/index.js';
import { startControlPlane } from '../src/server/control-plane.js';
import { SotwStream } from '../src/xds/stream/sotw.js';
import type { StreamContext } from '../src/xds/stream/connection.js';
import { CLUSTER, LOCALITY, change, mesh } from './xds-fanout-shared.js';

const opts = new Command('push-path-micro')
  .option('--streams <n>', 'streams', (v) => Number(v), 2000)
  .option('--rounds <n>', 'measured changes', (v) => Number(v), 200)
  .option('--warmup <n>', 'unmeasured changes first', (v) => Number(v), 50)
  .parse()
  .opts<{ streams: number; rounds: number; warmup: number }>();

/** Just enough of a grpc-js ServerDuplexStream for XdsConnection. */
class FakeCall extends EventEmitter {
  last: Buffer | undefined;
  writes = 0;
  getPeer(): string {
    return 'ipv4:127.0.0.1:1';
  }
  write(b: Buffer, cb: () => void): boolean {
    this.last = b;
    this.writes++;
    pendingCallbacks.push(cb);
    return true;
  }
  pause(): void {}
  resume(): void {}
  end(): void {}
}
let pendingCallbacks: (() => void)[] = [];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const turn = () => new Promise<void>((r) => setImmediate(r));

async function main(): Promise<void> {
  const plane = await startControlPlane({
    resources: mesh(),
    xdsAddress: '127.0.0.1:0',
    adminAddress: null,
    logger: pino({ level: 'silent' }),
    processMetrics: false,
    debounce: { enableEdsDebounce: false },
  });
  try {
    const ctx = (plane.xds as unknown as { ctx: StreamContext }).ctx;
    const calls: FakeCall[] = [];
    for (let i = 0; i < opts.streams; i++) {
      const call = new FakeCall();
      new SotwStream(ctx, call as never, 'sotw', 'ads');
      const ip = `10.100.${(i >> 8) & 255}.${i & 255}`;
      call.emit('data', types.DiscoveryRequest.fromObject({ node: { id: `sidecar~${ip}~pp-${i}.bench~bench.svc.cluster.local`, cluster: 'bench', locality: LOCALITY }, type_url: TYPE_URL.ENDPOINT, resource_names: [CLUSTER] }));
      calls.push(call);
    }
    const ackAll = () => {
      const acks = calls.map((c) => {
        const r = types.DiscoveryResponse.decode(c.last!) as unknown as { version_info: string; nonce: string };
        return types.DiscoveryRequest.decode(types.DiscoveryRequest.encode({ type_url: TYPE_URL.ENDPOINT, version_info: r.version_info, response_nonce: r.nonce, resource_names: [CLUSTER] }).finish());
      });
      return acks;
    };
    const completeWrites = () => {
      const cbs = pendingCallbacks;
      pendingCallbacks = [];
      for (const cb of cbs) cb();
    };
    await turn();
    completeWrites();
    for (const [i, a] of ackAll().entries()) calls[i]!.emit('data', a);
    if (plane.xds.connections.size !== opts.streams) throw new Error(`${plane.xds.connections.size} of ${opts.streams} streams`);

    const fanout: number[] = [];
    const acking: number[] = [];
    const total = opts.warmup + opts.rounds;
    for (let r = 0; r < total; r++) {
      const before = calls[0]!.writes;
      const t0 = performance.now();
      plane.store.apply(change(r + 1));
      // Bounded: the push goes out on the next turns (EDS debounce off).
      for (let k = 0; k < 100 && calls[calls.length - 1]!.writes === before; k++) await turn();
      const t1 = performance.now();
      if (calls.some((c) => c.writes !== before + 1)) throw new Error(`round ${r}: not every stream wrote once`);
      completeWrites();
      const t2 = performance.now();
      const acks = ackAll();
      const t3 = performance.now();
      for (let i = 0; i < calls.length; i++) calls[i]!.emit('data', acks[i]);
      const t4 = performance.now();
      if (r >= opts.warmup) {
        fanout.push(((t2 - t0) * 1000) / opts.streams);
        acking.push(((t4 - t3) * 1000) / opts.streams);
      }
    }
    const open = plane.xds.engine.openPushes().length;
    const sum = fanout.map((f, i) => f + acking[i]!);
    process.stdout.write(
      JSON.stringify({ streams: opts.streams, rounds: opts.rounds, usPerStreamPerPush: +median(sum).toFixed(3), fanoutAndWrites: +median(fanout).toFixed(3), acks: +median(acking).toFixed(3), openPushesAtEnd: open }) + '\n',
    );
  } finally {
    await plane.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`push-path-micro failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
