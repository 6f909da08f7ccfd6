// The go-control-plane peer serves what it is handed: the ClusterLoadAssignment xdsim computes for
// the fan-out mesh goes in over HTTP, and an ADS stream gets the same message back (same size; Go
// writes some fields in another order), then the next version on the same stream after a change
// (the fan-out bench relies on both).
import http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { change, CLUSTER, LOCALITY, mesh, movingAddress } from '../../bench/xds-fanout-shared.js';
import { ConfigStore } from '../../src/config/store.js';
import { EdsCache } from '../../src/eds/eds-cache.js';
import { proxyView } from '../../src/eds/proxy.js';
import { parseLocality } from '../../src/model/locality.js';
import { Registry } from '../../src/model/registry.js';
import { getType, TYPE_URL, types } from '../../src/proto/index.js';
import { METHOD_PATH } from '../../src/proto/services.js';
import { startGcpPeer, type GcpPeer } from './gcp-peer.js';

/** Decoded, so field order on the wire (Go marshals some fields in another order) does not matter. */
const asJson = (b: Uint8Array) => getType('ClusterLoadAssignment').toObject(getType('ClusterLoadAssignment').decode(b), { longs: String, defaults: false });

interface Response {
  version_info: string;
  nonce: string;
  resources: { value: Uint8Array }[];
}

describe('go-control-plane peer', () => {
  let peer: GcpPeer;
  const store = new ConfigStore();
  store.commit(mesh().map((resource) => ({ op: 'apply' as const, resource })));
  const eds = new EdsCache(new Registry(store));
  const view = proxyView({ locality: parseLocality(`${LOCALITY.region}/${LOCALITY.zone}/${LOCALITY.sub_zone}`) });
  const cla = () => eds.view(CLUSTER, view)!.bytes;

  beforeAll(async () => {
    peer = await startGcpPeer();
  });
  afterAll(async () => {
    await peer?.stop();
  });

  it('serves the posted ClusterLoadAssignment and pushes the next one on the open stream', async () => {
    await peer.setCla(cla());
    const session = http2.connect(`http://${peer.xds}`);
    try {
      const stream = session.request({ ':method': 'POST', ':path': METHOD_PATH.ADS_STREAM, 'content-type': 'application/grpc', te: 'trailers' });
      const got: Response[] = [];
      let buf = Buffer.alloc(0);
      let wake: (() => void) | undefined;
      stream.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 5 && buf.length >= 5 + buf.readUInt32BE(1)) {
          const len = buf.readUInt32BE(1);
          got.push(types.DiscoveryResponse.decode(buf.subarray(5, 5 + len)) as unknown as Response);
          buf = buf.subarray(5 + len);
          wake?.();
        }
      });
      const send = (obj: Record<string, unknown>) => {
        const msg = types.DiscoveryRequest.encode(types.DiscoveryRequest.fromObject(obj)).finish();
        const f = Buffer.alloc(5 + msg.length);
        f.writeUInt32BE(msg.length, 1);
        f.set(msg, 5);
        stream.write(f);
      };
      const nth = async (n: number): Promise<Response> => {
        const deadline = Date.now() + 10_000;
        while (got.length < n && Date.now() < deadline) await new Promise<void>((r) => ((wake = r), setTimeout(r, 200)));
        expect(got.length).toBeGreaterThanOrEqual(n);
        return got[n - 1]!;
      };
      send({ node: { id: 'sidecar~10.1.0.1~c.bench~bench.svc.cluster.local' }, type_url: TYPE_URL.ENDPOINT, resource_names: [CLUSTER] });
      const first = await nth(1);
      expect(first.resources[0]!.value.length).toBe(cla().length);
      expect(asJson(first.resources[0]!.value)).toEqual(asJson(cla()));
      send({ type_url: TYPE_URL.ENDPOINT, version_info: first.version_info, response_nonce: first.nonce, resource_names: [CLUSTER] });

      store.apply(change(1));
      await peer.setCla(cla());
      const second = await nth(2);
      expect(second.version_info).not.toBe(first.version_info);
      expect(asJson(second.resources[0]!.value)).toEqual(asJson(cla()));
      expect(Buffer.from(second.resources[0]!.value).includes(Buffer.from(movingAddress(1)))).toBe(true);
      expect(await peer.streams()).toBe(1);
      stream.close();
    } finally {
      session.destroy();
    }
  });
});
