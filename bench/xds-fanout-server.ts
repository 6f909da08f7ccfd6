// Bench server process, one of two modes sharing one mesh and one change sequence:
//   xdsim: the real control plane (EDS debounce off, so the change goes straight to the push);
//   raw:   the floor, a bare grpc-js server with a pass-through serializer that writes the same
//          encoded DiscoveryResponse to every stream and counts the ACKs.
// Both report, per change, when each stream ACKed, measured from just before the store write.
import * as grpc from '@grpc/grpc-js';
import { writeFileSync } from 'node:fs';
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
import { encodeSotwResponse } from '../src/xds/wire.js';

const mode = process.argv[2] as 'xdsim' | 'raw';
const LOCALITY = 'r1/z1/s1';
import { CLUSTER } from './xds-fanout-shared.js';

function mesh(): Resource[] {
  const out: Resource[] = [
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'api', namespace: 'bench' }, spec: { selector: { app: 'api' }, ports: [{ name: 'grpc', port: 8080 }] } },
  ];
  const localities = ['r1/z1/s1', 'r1/z2/s1', 'r2/z1/s1'];
  for (let i = 0; i < 30; i++) {
    out.push({
      apiVersion: 'networking.istio.io/v1',
      kind: 'WorkloadEntry',
      metadata: { name: `api-${i}`, namespace: 'bench', labels: { app: 'api' } },
      spec: { address: `10.0.${i >> 8}.${i & 255}`, locality: localities[i % 3]! },
    });
  }
  return out;
}

function change(round: number): Resource {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'WorkloadEntry',
    metadata: { name: 'api-moving', namespace: 'bench', labels: { app: 'api' } },
    spec: { address: `10.9.${(round >> 8) & 255}.${round & 255}`, locality: LOCALITY },
  };
}

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
