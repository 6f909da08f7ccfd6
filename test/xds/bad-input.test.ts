// Misbehaving clients are logged, counted and cut off; everyone else keeps being served.
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import { describe, expect, it } from 'vitest';
import { encode, TYPE_URL } from '../../src/proto/index.js';
import { METHOD_PATH } from '../../src/proto/services.js';
import { we } from '../helpers/mesh.js';
import { API, apiMesh } from './fixtures.js';
import { node, planePerTest, rejectedCount, SotwClient, startPlane, waitFor } from './helpers.js';

const scope = planePerTest();

function client(): SotwClient {
  const c = new SotwClient(scope.plane!.xdsPort);
  scope.cleanups.push(() => c.close());
  return c;
}

const rejected = (reason: string): Promise<number> => rejectedCount(scope.plane!, reason);

/** The server still answers a fresh, well-behaved client. */
async function stillServing(): Promise<void> {
  const c = client();
  c.send({ node: node('good'), type_url: TYPE_URL.ENDPOINT, resource_names: [API] });
  const r = await c.recv();
  expect(r.resources).toHaveLength(1);
}

const raw = (b: Buffer) => b;
const RawAds = grpc.makeGenericClientConstructor(
  {
    Stream: {
      path: METHOD_PATH.ADS_STREAM,
      requestStream: true,
      responseStream: true,
      requestSerialize: raw,
      requestDeserialize: raw,
      responseSerialize: raw,
      responseDeserialize: raw,
    },
  },
  'RawAds',
);

function rawStream(): { call: grpc.ClientDuplexStream<Buffer, Buffer>; status: Promise<grpc.StatusObject> } {
  const c = new RawAds(`127.0.0.1:${scope.plane!.xdsPort}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  const call = (c as unknown as { Stream: () => grpc.ClientDuplexStream<Buffer, Buffer> }).Stream();
  call.on('data', () => {});
  call.on('error', () => {});
  scope.cleanups.push(() => c.close());
  return { call, status: new Promise((resolve) => call.on('status', resolve)) };
}

describe('bad input', () => {
  it('ignores unknown and missing type URLs, counts them, keeps the stream', async () => {
    scope.plane = await startPlane(apiMesh());
    const c = client();
    c.send({ node: node('p1'), type_url: 'type.googleapis.com/not.a.Type', resource_names: ['x'] });
    c.send({ node: node('p1'), resource_names: ['x'] });
    expect(await c.none()).toBe(true);
    expect(await rejected('unknown_type')).toBe(1);
    expect(await rejected('missing_type_url')).toBe(1);
    c.send({ type_url: TYPE_URL.ENDPOINT, resource_names: [API] });
    expect((await c.recv()).resources).toHaveLength(1);
  });

  it('closes a stream sending malformed bytes with INVALID_ARGUMENT', async () => {
    scope.plane = await startPlane(apiMesh());
    const s = rawStream();
    s.call.write(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0xff]));
    const st = await s.status;
    expect(st.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await rejected('malformed')).toBe(1);
    await stillServing();
  });

  it('closes a stream sending an oversized request with RESOURCE_EXHAUSTED', async () => {
    scope.plane = await startPlane(apiMesh(), { limits: { maxRequestBytes: 10_000 } });
    const s = rawStream();
    const big = encode('DiscoveryRequest', { type_url: TYPE_URL.ENDPOINT, resource_names: Array.from({ length: 500 }, (_, i) => `outbound|${i}||x.y.svc.cluster.local`) });
    s.call.write(Buffer.from(big));
    const st = await s.status;
    expect(st.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(await rejected('oversized')).toBe(1);
    await stillServing();
  });

  it('cuts off a NACK storm', async () => {
    scope.plane = await startPlane(apiMesh(), { limits: { requestsPerSecond: 20, requestBurst: 50 } });
    const c = client();
    c.send({ node: node('storm'), type_url: TYPE_URL.ENDPOINT, resource_names: [API] });
    const r = await c.recv();
    for (let i = 0; i < 300; i++) {
      c.send({ type_url: TYPE_URL.ENDPOINT, response_nonce: r.raw.nonce!, resource_names: [API], error_detail: { code: 3, message: `no ${i}` } });
    }
    const st = await Promise.race([c.status, new Promise<undefined>((res) => setTimeout(() => res(undefined), 5000))]);
    expect(st?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(await rejected('rate_limited')).toBe(1);
    // One NACK per response: repeats of the same nonce are counted as duplicates, not as new rejections.
    expect((await scope.plane.metrics.rejects.eds.get()).values[0]!.value).toBe(1);
    expect(await rejected('duplicate_nack')).toBeGreaterThan(10);
    await stillServing();
  });

  it('closes a client that never reads, with bounded buffering, and keeps pushing to others', async () => {
    scope.plane = await startPlane(apiMesh(), { limits: { stallTimeoutMs: 300 } });
    const good = client();
    good.send({ node: node('good'), type_url: TYPE_URL.ENDPOINT, resource_names: [API] });
    const g0 = await good.recv();
    good.ack(g0.raw, [API]);

    // A raw HTTP/2 client that advertises a zero window: the server can never send it DATA.
    const session = http2.connect(`http://127.0.0.1:${scope.plane.xdsPort}`, { settings: { initialWindowSize: 0 } });
    session.on('error', () => {});
    scope.cleanups.push(() => session.destroy());
    const stream = session.request({ ':method': 'POST', ':path': METHOD_PATH.ADS_STREAM, 'content-type': 'application/grpc', te: 'trailers' });
    stream.on('error', () => {});
    const closed = new Promise<number>((resolve) => stream.on('close', () => resolve(stream.rstCode ?? -1)));
    const msg = encode('DiscoveryRequest', { node: node('slow'), type_url: TYPE_URL.ENDPOINT, resource_names: [API] });
    const frame = Buffer.alloc(5 + msg.length);
    frame.writeUInt32BE(msg.length, 1);
    frame.set(msg, 5);
    stream.write(frame);
    await waitFor(() => scope.plane!.xds.connections.size === 2, 2000, 'slow client connected');

    let last = g0;
    for (let i = 0; i < 8; i++) {
      scope.plane.store.apply(we(`api-s${i}`, { address: `10.0.4.${i}`, labels: { app: 'api' } }));
      last = await good.recv();
      good.ack(last.raw, [API]);
    }
    expect(JSON.stringify(last.resources)).toContain('10.0.4.7');
    const slow = [...scope.plane.xds.connections].find((c) => c.node.id === 'slow');
    // Blocked after a few responses; later changes only mark it dirty (at most 4 in flight).
    expect(slow === undefined || slow.responses <= 4).toBe(true);
    const code = await Promise.race([closed, new Promise<number>((res) => setTimeout(() => res(-2), 5000))]);
    expect(code).not.toBe(-2);
    expect(await rejected('slow_client')).toBe(1);
    await waitFor(() => scope.plane!.xds.connections.size === 1, 2000, 'slow client dropped');
    await stillServing();
  });
});
