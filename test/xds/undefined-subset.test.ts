// A subset name the DestinationRule does not define, of a service port that exists: istiod's EDS
// builder (pilot/pkg/xds/endpoints EndpointBuilder, no subset labels found) sends the service
// port's endpoints under the asked-for name, and keeps pushing them there. Found by the
// differential against the istiod peer (a stream subscribed to a subset whose rule was deleted).
import { describe, expect, it } from 'vitest';
import { TYPE_URL } from '../../src/proto/index.js';
import { dr, we } from '../helpers/mesh.js';
import { API, API_HOST, apiMesh } from './fixtures.js';
import { acked, admin, node, planePerTest, SotwClient, startPlane } from './helpers.js';

const scope = planePerTest();

type Cla = { cluster_name: string; endpoints?: { lb_endpoints?: { endpoint: { address: { socket_address: { address: string } } } }[] }[] };
const addresses = (c: Cla) => (c.endpoints ?? []).flatMap((g) => (g.lb_endpoints ?? []).map((e) => e.endpoint.address.socket_address.address)).sort();

describe('EDS for an undefined subset', () => {
  it('answers with the service port endpoints under the asked name, follows their changes, and switches to the real subset once defined', async () => {
    const plane = (scope.plane = await startPlane(apiMesh()));
    const c = new SotwClient(plane.xdsPort);
    scope.cleanups.push(() => c.close());
    const v9 = `outbound|8080|v9|${API_HOST}`;
    const unknownPort = `outbound|9999|v9|${API_HOST}`;
    c.send({ node: node('sidecar~10.9.9.9~p.pay~pay.svc.cluster.local', 'r1/z1/s1'), type_url: TYPE_URL.ENDPOINT, resource_names: [v9, unknownPort, API] });
    const first = await c.recv();
    const byName = Object.fromEntries((first.resources as Cla[]).map((r) => [r.cluster_name, r]));
    expect(addresses(byName[v9]!)).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    expect(addresses(byName[v9]!)).toEqual(addresses(byName[API]!));
    expect(byName[unknownPort]).toEqual({ cluster_name: unknownPort });
    c.ack(first.raw, [v9, unknownPort, API]);
    await acked(plane, first.raw.nonce!);

    // A new entry of the service reaches the undefined-subset name too.
    const r1 = await admin(plane, '/apply', { method: 'POST', body: JSON.stringify(we('api-d', { address: '10.0.0.4', locality: 'r1/z1/s1', labels: { app: 'api', version: 'v9' } })) });
    expect(r1.status).toBe(200);
    const pushed = await c.recv();
    const p = Object.fromEntries((pushed.resources as Cla[]).map((r) => [r.cluster_name, r]));
    expect(addresses(p[v9]!)).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']);
    c.ack(pushed.raw, [v9, unknownPort, API]);
    await acked(plane, pushed.raw.nonce!);

    // Once a rule defines v9, the name is the real subset: only version=v9.
    const r2 = await admin(plane, '/apply', { method: 'POST', body: JSON.stringify(dr('api', { host: 'api', subsets: [{ name: 'v9', labels: { version: 'v9' } }] })) });
    expect(r2.status).toBe(200);
    let real: Cla | undefined;
    for (let i = 0; i < 3 && !real; i++) {
      const r = await c.recv();
      real = (r.resources as Cla[]).find((x) => x.cluster_name === v9);
      c.ack(r.raw, [v9, unknownPort, API]);
    }
    expect(addresses(real!)).toEqual(['10.0.0.4']);
  });
});
