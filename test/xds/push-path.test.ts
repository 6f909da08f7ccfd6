// The pre-framed write path (docs/xds-server.md, "Push path"): responses are framed once and
// grpc-js passes them through on every stream. If a grpc-js upgrade moves what preframe() relies
// on, streams fall back to letting grpc-js frame each write, and the second test fails: the
// fallback keeps working but is not silent.
import { describe, expect, it } from 'vitest';
import { TYPE_URL } from '../../src/proto/index.js';
import { frameMessage } from '../../src/xds/cache/response-cache.js';
import { we } from '../helpers/mesh.js';
import { API, apiMesh } from './fixtures.js';
import { acked, DeltaClient, node, planePerTest, SotwClient, startPlane } from './helpers.js';

const scope = planePerTest();

function framedWrites(plane: NonNullable<typeof scope.plane>): boolean[] {
  return [...plane.xds.connections].map((c) => (c as unknown as { framedWrites: boolean }).framedWrites);
}

describe('pre-framed responses', () => {
  it('frames a message as gRPC does: flag 0, big-endian length, the bytes', () => {
    const msg = Buffer.from('hello');
    const f = frameMessage(msg);
    expect([...f.subarray(0, 5)]).toEqual([0, 0, 0, 0, 5]);
    expect(f.subarray(5).equals(msg)).toBe(true);
    expect(frameMessage(new Uint8Array(0)).length).toBe(5);
  });

  it('every stream of the pinned grpc-js writes the shared framed bytes, and clients decode them (SotW and delta)', async () => {
    const plane = (scope.plane = await startPlane(apiMesh()));
    const a = new SotwClient(plane.xdsPort);
    const b = new SotwClient(plane.xdsPort);
    const d = new DeltaClient(plane.xdsPort);
    scope.cleanups.push(() => a.close(), () => b.close(), () => d.close());
    for (const [i, c] of [a, b].entries()) c.send({ node: node(`sidecar~10.0.0.${i + 1}~p${i}.pay~pay.svc.cluster.local`, 'r1/z1/s1'), type_url: TYPE_URL.ENDPOINT, resource_names: [API] });
    d.send({ node: node('sidecar~10.0.0.9~d.pay~pay.svc.cluster.local', 'r1/z1/s1'), type_url: TYPE_URL.ENDPOINT, resource_names_subscribe: [API] });
    const [ra, rb, rd] = await Promise.all([a.recv(), b.recv(), d.recv()]);
    expect(ra.resources[0]!['cluster_name']).toBe(API);
    expect(rb.resources[0]!['cluster_name']).toBe(API);
    expect(rd.resources[0]!['cluster_name']).toBe(API);
    // One shared response for both SotW streams.
    expect(ra.raw.nonce).toBe(rb.raw.nonce);
    expect(framedWrites(plane)).toEqual([true, true, true]);

    // A push goes out framed too.
    a.ack(ra.raw, [API]);
    b.ack(rb.raw, [API]);
    await acked(plane, ra.raw.nonce!);
    plane.store.apply(we('api-extra', { address: '10.9.9.9', locality: 'r1/z1/s1', labels: { app: 'api' } }));
    const [pa, pb] = await Promise.all([a.recv(), b.recv()]);
    for (const p of [pa, pb]) expect(JSON.stringify(p.resources[0])).toContain('10.9.9.9');
  });
});
