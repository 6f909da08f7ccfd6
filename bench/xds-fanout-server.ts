// Bench server process, one of three modes sharing one mesh and one change sequence:
//   xdsim: the real control plane (EDS debounce off, so the change goes straight to the push);
//   raw:   the floor, a bare grpc-js server with a pass-through serializer that writes the same
//          encoded DiscoveryResponse to every stream and counts the ACKs;
//   http2: the floor under that, plain node:http2 writing the same gRPC-framed bytes (no gRPC
//          library at all): what a push costs Node's HTTP/2 itself.
// Both report, per change, when each stream ACKed, measured from just before the store write.
import * as grpc from '@grpc/grpc-js';
import { writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { Session } from 'node:inspector';
import { pino } from 'pino';
import type { Resource } from '../src/config/resources.js';
import { ConfigStore } from '../src/config/store.js';
import { EdsCache } from '../src/eds/eds-cache.js';
import { proxyView } from '../src/eds/proxy.js';
import { Registry } from '../src/model/registry.js';
import { parseLocality } from '../src/model/locality.js';
import { types, TYPE_URL } from '../src/proto/index.js';
import { METHOD_PATH } from '../src/proto/services.js';
import { startControlPlane } from '../src/server/control-plane.js';
import { endpointResource } from '../src/xds/resources/endpoint.js';
import { encodeSotwResponse } from '../src/xds/stream/wire.js';

const mode = process.argv[2] as 'xdsim' | 'raw' | 'http2';
const LOCALITY = 'r1/z1/s1';
import { CLUSTER, mesh, change } from './xds-fanout-shared.js';

interface Measure {
  t0: number;
  times: number[];
  expected: number;
  resolve: (times: number[]) => void;
}
let measure: Measure | undefined;
// Optional CPU profile of the measured rounds only (XDSIM_BENCH_PROFILE=<dir> in the parent).
const profiler = new Session();

function settled(at: number): void {
  if (!measure) return;
  measure.times.push(at - measure.t0);
  if (measure.times.length >= measure.expected) {
    const m = measure;
    measure = undefined;
    m.resolve(m.times);
  }
}

function rss(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss;
}

async function main(): Promise<void> {
  let streams: () => number;
  let apply: (r: Resource) => void;
  let port: number;
  if (mode === 'xdsim') {
    const plane = await startControlPlane({
      resources: mesh(),
      xdsAddress: '127.0.0.1:0',
      adminAddress: null,
      logger: pino({ level: 'silent' }),
      processMetrics: false,
      debounce: { enableEdsDebounce: false },
    });
    plane.xds.engine.onStreamSettled((_id, start, seconds) => settled(start + seconds * 1000));
    port = plane.xdsPort;
    streams = () => plane.xds.connections.size;
    apply = (r) => plane.store.apply(r);
  } else if (mode === 'http2') {
    const store = new ConfigStore();
    store.commit(mesh().map((resource) => ({ op: 'apply' as const, resource })));
    const eds = new EdsCache(new Registry(store));
    const view = proxyView({ locality: parseLocality(LOCALITY) });
    let version = 1;
    const framed = (): { bytes: Buffer; nonce: string } => {
      const nonce = String(version);
      const msg = encodeSotwResponse(TYPE_URL.ENDPOINT, nonce, [endpointResource(eds.view(CLUSTER, view)!)], nonce);
      const out = Buffer.allocUnsafe(5 + msg.length);
      out[0] = 0;
      out.writeUInt32BE(msg.length, 1);
      out.set(msg, 5);
      return { bytes: out, nonce };
    };
    let current = framed();
    const live = new Set<http2.ServerHttp2Stream>();
    const server = http2.createServer({ settings: { maxConcurrentStreams: 100 } });
    server.on('stream', (stream, headers) => {
      if (headers[':path'] !== METHOD_PATH.ADS_STREAM) {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true });
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      stream.on('error', () => live.delete(stream));
      stream.on('close', () => live.delete(stream));
      let buf: Buffer = Buffer.alloc(0);
      stream.on('data', (chunk: Buffer) => {
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
        while (buf.length >= 5) {
          const len = buf.readUInt32BE(1);
          if (buf.length < 5 + len) break;
          const req = types.DiscoveryRequest.decode(buf.subarray(5, 5 + len)) as unknown as { response_nonce: string };
          buf = buf.subarray(5 + len);
          if (req.response_nonce === '') {
            live.add(stream);
            stream.write(current.bytes);
          } else if (req.response_nonce === current.nonce) settled(performance.now());
        }
      });
    });
    port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
    streams = () => live.size;
    apply = (r) => {
      store.apply(r);
      version++;
      current = framed();
      for (const st of live) st.write(current.bytes);
    };
  } else {
    const store = new ConfigStore();
    store.commit(mesh().map((resource) => ({ op: 'apply' as const, resource })));
    const eds = new EdsCache(new Registry(store));
    const view = proxyView({ locality: parseLocality(LOCALITY) });
    let version = 1;
    let current = encodeResponse();
    function encodeResponse(): { bytes: Buffer; nonce: string } {
      const nonce = String(version);
      return { bytes: encodeSotwResponse(TYPE_URL.ENDPOINT, nonce, [endpointResource(eds.view(CLUSTER, view)!)], nonce), nonce };
    }
    const calls = new Set<grpc.ServerDuplexStream<unknown, Buffer>>();
    const server = new grpc.Server();
    const pass = (b: Buffer) => b;
    server.addService(
      {
        Stream: {
          path: METHOD_PATH.ADS_STREAM,
          requestStream: true,
          responseStream: true,
          requestSerialize: pass,
          requestDeserialize: (b: Buffer) => types.DiscoveryRequest.decode(b),
          responseSerialize: pass,
          responseDeserialize: pass,
        },
      },
      {
        Stream: (call: grpc.ServerDuplexStream<{ response_nonce: string }, Buffer>) => {
          call.on('data', (req: { response_nonce: string }) => {
            if (req.response_nonce === '') {
              calls.add(call);
              call.write(current.bytes);
            } else if (req.response_nonce === current.nonce) settled(performance.now());
          });
          call.on('end', () => call.end());
          call.on('cancelled', () => calls.delete(call));
          call.on('error', () => calls.delete(call));
        },
      },
    );
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    streams = () => calls.size;
    apply = (r) => {
      store.apply(r);
      version++;
      current = encodeResponse();
      for (const c of calls) c.write(current.bytes);
    };
  }

  process.on('message', (m: { cmd: string; round?: number; expected?: number; timeoutMs?: number }) => {
    if (m.cmd === 'rss') process.send!({ type: 'rss', rss: rss(), streams: streams() });
    else if (m.cmd === 'change') {
      const cpu0 = process.cpuUsage();
      const done = new Promise<number[]>((resolve) => {
        measure = { t0: performance.now(), times: [], expected: m.expected!, resolve };
      });
      const timeout = new Promise<number[]>((resolve) => setTimeout(() => resolve(measure?.times ?? []), m.timeoutMs ?? 60_000));
      apply(change(m.round!));
      void Promise.race([done, timeout]).then((times) => {
        measure = undefined;
        const cpu = process.cpuUsage(cpu0);
        process.send!({ type: 'changed', times, cpuMs: (cpu.user + cpu.system) / 1000 });
      });
    } else if (m.cmd === 'profile-start') {
      profiler.connect();
      profiler.post('Profiler.enable', () => profiler.post('Profiler.start'));
    } else if (m.cmd === 'profile-stop') {
      profiler.post('Profiler.stop', (err, res) => {
        if (!err) writeFileSync((m as { file?: string }).file!, JSON.stringify(res.profile));
        process.send!({ type: 'profiled' });
      });
    } else if (m.cmd === 'exit') process.exit(0);
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ type: 'listening', port, rss: rss() });
}

void main();
