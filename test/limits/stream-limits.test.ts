// Per-stream limits: request size at its boundary, resource names per request and accumulated
// over delta requests, and the write path's bound: clients that never read cost the server a few
// responses each however many pushes go by, and are closed after the stall timeout.
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { encode, TYPE_URL } from '../../src/proto/index.js';
import { METHOD_PATH } from '../../src/proto/services.js';
import { we } from '../helpers/mesh.js';
import { API, apiMesh } from '../xds/fixtures.js';
import { DeltaClient, node, planePerTest, rejectedCount, SotwClient, startPlane, waitFor } from '../xds/helpers.js';

const scope = planePerTest();

const rejected = (reason: string): Promise<number> => rejectedCount(scope.plane!, reason);

function sotw(): SotwClient {
  const c = new SotwClient(scope.plane!.xdsPort);
  scope.cleanups.push(() => c.close());
  return c;
}

const identity = (b: Buffer) => b;

/** A raw stream: requests are bytes, so sizes are exact. */
function rawStream(): { call: grpc.ClientDuplexStream<Buffer, Buffer>; status: Promise<grpc.StatusObject>; got: () => number } {
  const client = new grpc.Client(`127.0.0.1:${scope.plane!.xdsPort}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_send_message_length': -1 });
  scope.cleanups.push(() => client.close());
  const call = client.makeBidiStreamRequest<Buffer, Buffer>(METHOD_PATH.ADS_STREAM, identity, identity);
  let got = 0;
  call.on('data', () => got++);
  call.on('error', () => {});
  return { call, status: new Promise((resolve) => call.on('status', resolve)), got: () => got };
}

/** An EDS request for API padded with an unknown field to exactly `size` bytes. */
function requestOfSize(size: number): Buffer {
  const head = Buffer.from(encode('DiscoveryRequest', { node: node('sized'), type_url: TYPE_URL.ENDPOINT, resource_names: [API] }));
  // Unknown field 999 (tag: 2 bytes), length varint, padding.
  for (let lenBytes = 1; lenBytes <= 4; lenBytes++) {
    const pad = size - head.length - 2 - lenBytes;
    if (pad < 0 || pad >= 2 ** (7 * lenBytes) || (lenBytes > 1 && pad < 2 ** (7 * (lenBytes - 1)))) continue;
    const len: number[] = [];
    for (let v = pad; ; ) {
      if (v > 127) {
        len.push((v & 127) | 128);
        v >>>= 7;
      } else {
        len.push(v);
        break;
      }
    }
    return Buffer.concat([head, Buffer.from([0xba, 0x3e]), Buffer.from(len), Buffer.alloc(pad, 0x61)]);
  }
  throw new Error(`cannot pad to ${size}`);
}

describe('stream limits', () => {
  it('maxRequestBytes: a request of exactly the limit is served, one byte more is refused and counted', async () => {
    scope.plane = await startPlane(apiMesh(), { limits: { maxRequestBytes: 20_000 } });
    const ok = rawStream();
    const exact = requestOfSize(20_000);
    expect(exact.length).toBe(20_000);
    ok.call.write(exact);
    await waitFor(() => ok.got() === 1, 3000, 'response to a request at the limit');

    const big = rawStream();
    big.call.write(requestOfSize(20_001));
    const st = await big.status;
    expect(st.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(st.details).toContain('exceeds 20000');
    expect(await rejected('oversized')).toBe(1);
  });

  it('maxResourceNames: one SotW request over it closes the stream; at it, served', async () => {
    scope.plane = await startPlane(apiMesh(), { limits: { maxResourceNames: 100 } });
    const names = (n: number) => [API, ...Array.from({ length: n - 1 }, (_, i) => `outbound|1||nope-${i}.svc`)];
    const ok = sotw();
    ok.send({ node: node('ok'), type_url: TYPE_URL.ENDPOINT, resource_names: names(100) });
    // Every EDS name is answered, the unknown ones with an empty assignment (as istiod).
    expect((await ok.recv()).resources).toHaveLength(100);

    const over = sotw();
    over.send({ node: node('over'), type_url: TYPE_URL.ENDPOINT, resource_names: names(101) });
    const st = await over.status;
    expect(st.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(st.details).toMatch(/101 resource names .* exceed the limit of 100/);
    expect(await rejected('too_many_names')).toBe(1);
  });

  it('maxResourceNames: delta subscriptions that add up past it close the stream', async () => {
    scope.plane = await startPlane(apiMesh(), { limits: { maxResourceNames: 100 } });
    const c = new DeltaClient(scope.plane.xdsPort);
    scope.cleanups.push(() => c.close());
    const batch = (k: number, n = 40) => Array.from({ length: n }, (_, i) => `outbound|1||b${k}-${i}.svc`);
    c.send({ node: node('d'), type_url: TYPE_URL.ENDPOINT, resource_names_subscribe: batch(0) });
    await c.recv();
    c.send({ type_url: TYPE_URL.ENDPOINT, resource_names_subscribe: batch(1) });
    // 80 watched; unsubscribing 20 leaves 60; 40 more make 100: at the limit, still served.
    c.send({ type_url: TYPE_URL.ENDPOINT, resource_names_unsubscribe: batch(1).slice(0, 20) });
    c.send({ type_url: TYPE_URL.ENDPOINT, resource_names_subscribe: batch(2) });
    const early = await Promise.race([c.status, new Promise<undefined>((r) => setTimeout(() => r(undefined), 300))]);
    expect(early).toBeUndefined();
    expect(await rejected('too_many_names')).toBe(0);
    // One more is over.
    c.send({ type_url: TYPE_URL.ENDPOINT, resource_names_subscribe: batch(3, 1) });
    const st = await Promise.race([c.status, new Promise<undefined>((r) => setTimeout(() => r(undefined), 3000))]);
    expect(st?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(st?.details).toMatch(/exceed the limit of 100/);
    expect(await rejected('too_many_names')).toBe(1);
  });

  it('clients that never read: at most 4 responses each in flight, however many pushes; closed after the stall timeout; heap bounded', async () => {
    // Endpoints enough that each response is tens of kilobytes.
    const entries = Array.from({ length: 600 }, (_, i) => we(`api-x${i}`, { address: `10.8.${i >> 8}.${i & 255}`, labels: { app: 'api' }, locality: `r${i % 3}/z1/s1` }));
    scope.plane = await startPlane([...apiMesh(), ...entries], { limits: { stallTimeoutMs: 2500 } });
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;

    const good = sotw();
    good.send({ node: node('good'), type_url: TYPE_URL.ENDPOINT, resource_names: [API] });
    let last = await good.recv();
    good.ack(last.raw, [API]);

    // Raw HTTP/2 clients advertising a zero window: the server can never send them a byte.
    const N = 20;
    const closed: Promise<number>[] = [];
    for (let i = 0; i < N; i++) {
      const session = http2.connect(`http://127.0.0.1:${scope.plane.xdsPort}`, { settings: { initialWindowSize: 0 } });
      session.on('error', () => {});
      scope.cleanups.push(() => session.destroy());
      const stream = session.request({ ':method': 'POST', ':path': METHOD_PATH.ADS_STREAM, 'content-type': 'application/grpc', te: 'trailers' });
      stream.on('error', () => {});
      closed.push(new Promise((resolve) => stream.on('close', () => resolve(stream.rstCode ?? -1))));
      const msg = encode('DiscoveryRequest', { node: node(`slow-${i}`, `r${i % 3}/z1/s1`), type_url: TYPE_URL.ENDPOINT, resource_names: [API] });
      const frame = Buffer.alloc(5 + msg.length);
      frame.writeUInt32BE(msg.length, 1);
      frame.set(msg, 5);
      stream.write(frame);
    }
    await waitFor(() => scope.plane!.xds.connections.size === N + 1, 5000, 'slow clients connected');
    gc();
    const heapBefore = process.memoryUsage().heapUsed;

    const PUSHES = 30;
    for (let p = 0; p < PUSHES; p++) {
      scope.plane.store.apply(we(`api-p${p}`, { address: `10.9.0.${p}`, labels: { app: 'api' } }));
      last = await good.recv(5000);
      good.ack(last.raw, [API]);
    }
    // The good client kept converging; each slow one was written at most 4 responses.
    expect(JSON.stringify(last.resources)).toContain(`10.9.0.${PUSHES - 1}`);
    const slow = [...scope.plane.xds.connections].filter((c) => c.node.id.startsWith('slow-'));
    for (const c of slow) expect(c.responses).toBeLessThanOrEqual(4);
    gc();
    const grown = process.memoryUsage().heapUsed - heapBefore;
    // Unbounded queues would hold ~N x PUSHES responses of tens of kB each; bounded, a few MB at most.
    expect(grown).toBeLessThan(16 * 2 ** 20);

    const codes = await Promise.all(closed.map((p) => Promise.race([p, new Promise<number>((r) => setTimeout(() => r(-2), 8000))])));
    expect(codes.filter((c) => c === -2)).toHaveLength(0);
    expect(await rejected('slow_client')).toBe(N);
    await waitFor(() => scope.plane!.xds.connections.size === 1, 3000, 'slow clients dropped');
  });
});
