import { afterEach, describe, expect, it } from 'vitest';
import { TYPE_URL } from '../../src/proto/index.js';
import type { ControlPlane } from '../../src/server/control-plane.js';
import { svc, we } from '../helpers/mesh.js';
import { API, API_HOST, apiMesh, failoverRule, WEB } from './fixtures.js';
import { acked, admin, node, SotwClient, startPlane, waitFor } from './helpers.js';

let plane: ControlPlane | undefined;
const clients: SotwClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await plane?.close();
  plane = undefined;
});

function client(service: 'ads' | 'eds' = 'ads'): SotwClient {
  const c = new SotwClient(plane!.xdsPort, service);
  clients.push(c);
  return c;
}

type Cla = { cluster_name: string; endpoints: { locality: { region: string; zone: string }; priority?: number; lb_endpoints: { endpoint: { address: { socket_address: { address: string } } } }[] }[] };

function addresses(cla: Cla): string[] {
  return cla.endpoints.flatMap((g) => g.lb_endpoints.map((e) => e.endpoint.address.socket_address.address)).sort();
}

async function metric(name: string): Promise<number> {
  const text = (await admin(plane!, '/metrics')).text;
  const line = text.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('SotW ADS', () => {
  it('serves CDS by wildcard and does not resend after ACK', async () => {
    plane = await startPlane(apiMesh());
    const c = client();
    c.send({ node: node('sidecar~10.1.0.1~vm.pay~pay.svc.cluster.local', 'r1/z1/s1'), type_url: TYPE_URL.CLUSTER });
    const r = await c.recv();
    expect(r.raw.type_url).toBe(TYPE_URL.CLUSTER);
    expect(r.raw.nonce).not.toBe('');
    const names = r.resources.map((x) => x['name']).sort();
    expect(names).toEqual([API, WEB].sort());
    const cluster = r.resources.find((x) => x['name'] === API)!;
    expect(cluster['type']).toBe('EDS');
    // istiod's default algorithm when the rule sets no loadBalancer.simple (defaultLBAlgorithm).
    expect(cluster['lb_policy']).toBe('LEAST_REQUEST');
    expect((cluster['eds_cluster_config'] as { eds_config: { ads: unknown } }).eds_config.ads).toBeDefined();
    c.ack(r.raw, []);
    expect(await c.none()).toBe(true);
  });

  it('ACK, push on endpoint change, no resend of unchanged resources', async () => {
    plane = await startPlane(apiMesh());
    const c = client();
    c.send({ node: node('p1', 'r1/z1/s1'), type_url: TYPE_URL.ENDPOINT, resource_names: [API] });
    const r1 = await c.recv();
    expect(addresses(r1.resources[0] as unknown as Cla)).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    c.ack(r1.raw, [API]);
    await acked(plane, r1.raw.nonce!);
    // A change to another cluster: nothing for this stream.
    plane.store.apply(we('web-b', { address: '10.0.1.2', labels: { app: 'web' } }));
    expect(await c.none(200)).toBe(true);
    plane.store.apply(we('api-d', { address: '10.0.0.4', locality: 'r1/z1/s1', labels: { app: 'api' } }));
    const r2 = await c.recv();
    expect(r2.raw.version_info).not.toBe(r1.raw.version_info);
    expect(r2.raw.nonce).not.toBe(r1.raw.nonce);
    expect(addresses(r2.resources[0] as unknown as Cla)).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']);
    c.ack(r2.raw, [API]);
    expect(await c.none()).toBe(true);
    const syncz = (await admin(plane, '/debug/syncz')).json() as { streams: { type: string; state: string; ackedVersion: string }[] };
    expect(syncz.streams[0]).toMatchObject({ type: 'eds', state: 'SYNCED', ackedVersion: r2.raw.version_info });
  });

  it('NACK keeps the last good version, is counted, and the bad version is not resent', async () => {
    plane = await startPlane(apiMesh());
    const c = client();
    c.send({ node: node('p1'), type_url: TYPE_URL.ENDPOINT, resource_names: [API] });
    const r1 = await c.recv();
    c.ack(r1.raw, [API]);
    await acked(plane, r1.raw.nonce!);
    plane.store.apply(we('api-d', { address: '10.0.0.4', labels: { app: 'api' } }));
    const r2 = await c.recv();
    c.send({
      type_url: TYPE_URL.ENDPOINT,
      version_info: r1.raw.version_info!,
      response_nonce: r2.raw.nonce!,
      resource_names: [API],
      error_detail: { code: 3, message: 'bad endpoints' },
    });
    expect(await c.none()).toBe(true);
    await waitFor(async () => (await metric('pilot_xds_eds_reject')) === 1, 2000, 'reject metric');
    // istiod's current name for it, labelled by type.
    expect(await metric('pilot_total_xds_rejects{type="eds"}')).toBe(1);
    const syncz = (await admin(plane, '/debug/syncz')).json() as { streams: { state: string; ackedVersion: string; nack: { message: string } }[] };
    expect(syncz.streams[0]).toMatchObject({ state: 'NACKED', ackedVersion: r1.raw.version_info, nack: { message: 'bad endpoints' } });
    // A later change is sent again.
    plane.store.apply(we('api-e', { address: '10.0.0.5', labels: { app: 'api' } }));
    const r3 = await c.recv();
    expect(addresses(r3.resources[0] as unknown as Cla)).toContain('10.0.0.5');
  });

  it('ignores requests with a stale nonce', async () => {
    plane = await startPlane(apiMesh());
    const c = client();
    c.send({ node: node('p1'), type_url: TYPE_URL.ENDPOINT, resource_names: [API] });
    const r1 = await c.recv();
    c.ack(r1.raw, [API]);
    await acked(plane, r1.raw.nonce!);
    plane.store.apply(we('api-d', { address: '10.0.0.4', labels: { app: 'api' } }));
    const r2 = await c.recv();
    // Answers r1 (superseded by r2) and asks for WEB: ignored entirely.
    c.send({ type_url: TYPE_URL.ENDPOINT, version_info: r1.raw.version_info!, response_nonce: r1.raw.nonce!, resource_names: [API, WEB] });
    expect(await c.none()).toBe(true);
    await waitFor(async () => (await metric('pilot_xds_expired_nonce')) === 1, 2000, 'expired nonce metric');
    c.send({ type_url: TYPE_URL.ENDPOINT, version_info: r2.raw.version_info!, response_nonce: r2.raw.nonce!, resource_names: [API, WEB] });
    const r3 = await c.recv();
    expect(r3.resources.map((x) => x['cluster_name'])).toEqual([WEB]);
  });

  it('unsubscribe stops pushes; a re-subscription sends the resource again', async () => {
    plane = await startPlane(apiMesh());
    const c = client();
    c.send({ node: node('p1'), type_url: TYPE_URL.ENDPOINT, resource_names: [API] });
    const r1 = await c.recv();
    c.ack(r1.raw, [API]);
    c.send({ type_url: TYPE_URL.ENDPOINT, version_info: r1.raw.version_info!, response_nonce: r1.raw.nonce!, resource_names: [] });
    expect(await c.none()).toBe(true);
    plane.store.apply(we('api-d', { address: '10.0.0.4', labels: { app: 'api' } }));
    expect(await c.none(200)).toBe(true);
    c.send({ type_url: TYPE_URL.ENDPOINT, version_info: r1.raw.version_info!, response_nonce: r1.raw.nonce!, resource_names: [API] });
    const r2 = await c.recv();
    expect(addresses(r2.resources[0] as unknown as Cla)).toContain('10.0.0.4');
  });

  it('answers an unknown EDS name with an empty assignment, then sends the real one when it appears', async () => {
    plane = await startPlane(apiMesh());
    const c = client();
    const later = 'outbound|7070||later.pay.svc.cluster.local';
    c.send({ node: node('p1'), type_url: TYPE_URL.ENDPOINT, resource_names: [later] });
    // istiod: BuildClusterLoadAssignment -> buildEmptyClusterLoadAssignment (cluster_name only).
    const r0 = await c.recv();
    expect(r0.resources).toEqual([{ cluster_name: later }]);
    c.ack(r0.raw, [later]);
    plane.store.commit([
      { op: 'apply', resource: svc('later', { app: 'later' }, [{ name: 'grpc', port: 7070 }]) },
      { op: 'apply', resource: we('later-a', { address: '10.0.2.1', labels: { app: 'later' } }) },
    ]);
    const r = await c.recv();
    expect(r.resources.map((x) => x['cluster_name'])).toEqual([later]);
    expect(addresses(r.resources[0] as unknown as Cla)).toEqual(['10.0.2.1']);
  });

  it('sends CDS, EDS, LDS, RDS in that order on one push', async () => {
    plane = await startPlane(apiMesh());
    const c = client();
    const api2 = `outbound|8081||${API_HOST}`;
    const route2 = `${API_HOST}:8081`;
    c.send({ node: node('p1'), type_url: TYPE_URL.CLUSTER });
    const cds = await c.recv();
    c.ack(cds.raw, []);
    c.send({ type_url: TYPE_URL.ENDPOINT, resource_names: [API, api2] });
    const eds = await c.recv();
    c.ack(eds.raw, [API, api2]);
    c.send({ type_url: TYPE_URL.LISTENER });
    const lds = await c.recv();
    expect(lds.resources.map((x) => x['name']).sort()).toEqual([`${API_HOST}:8080`, 'web.pay.svc.cluster.local:80']);
    c.ack(lds.raw, []);
    c.send({ type_url: TYPE_URL.ROUTE, resource_names: [route2] });
    expect(await c.none()).toBe(true);
    plane.store.apply(svc('api', { app: 'api' }, [{ name: 'grpc', port: 8080 }, { name: 'grpc2', port: 8081 }]));
    const order: string[] = [];
    for (let i = 0; i < 4; i++) order.push((await c.recv()).raw.type_url!);
    expect(order).toEqual([TYPE_URL.CLUSTER, TYPE_URL.ENDPOINT, TYPE_URL.LISTENER, TYPE_URL.ROUTE]);
  });

  it('gives each locality its own view and identical bytes to identical views', async () => {
    plane = await startPlane([...apiMesh(), failoverRule]);
    const a1 = client();
    const a2 = client();
    const b = client();
    a1.send({ node: node('a1', 'r1/z1/s1'), type_url: TYPE_URL.ENDPOINT, resource_names: [API] });
    a2.send({ node: node('a2', 'r1/z1/s1'), type_url: TYPE_URL.ENDPOINT, resource_names: [API] });
    b.send({ node: node('b', 'r2/z1/s1'), type_url: TYPE_URL.ENDPOINT, resource_names: [API] });
    const [ra1, ra2, rb] = await Promise.all([a1.recv(), a2.recv(), b.recv()]);
    const p0 = (r: typeof ra1) => (r.resources[0] as unknown as Cla).endpoints.find((g) => !g.priority)!.locality.region;
    expect(p0(ra1)).toBe('r1');
    expect(p0(rb)).toBe('r2');
    expect(ra1.raw.nonce).toBe(ra2.raw.nonce);
  });

  it('serves the standalone EDS service and ignores other types there', async () => {
    plane = await startPlane(apiMesh());
    const c = client('eds');
    c.send({ node: node('p1'), type_url: TYPE_URL.CLUSTER });
    expect(await c.none()).toBe(true);
    c.send({ node: node('p1'), resource_names: [API] });
    const r = await c.recv();
    expect(r.raw.type_url).toBe(TYPE_URL.ENDPOINT);
    expect(addresses(r.resources[0] as unknown as Cla)).toHaveLength(3);
    expect(await metric('xdsim_xds_rejected_requests_total')).toBe(1);
  });

  it('serves proxyless listeners and routes for the dialed host', async () => {
    plane = await startPlane(apiMesh());
    const c = client();
    const names = [`${API_HOST}:8080`, 'api:8080', 'api.pay:8080'];
    c.send({ node: node('p1', '', { NAMESPACE: 'pay' }), type_url: TYPE_URL.LISTENER, resource_names: names });
    const lds = await c.recv();
    expect(lds.resources.map((x) => x['name']).sort()).toEqual([`${API_HOST}:8080`, 'api.pay:8080', 'api:8080']);
    c.ack(lds.raw, names);
    c.send({ type_url: TYPE_URL.ROUTE, resource_names: [`${API_HOST}:8080`] });
    const rds = await c.recv();
    const vh = (rds.resources[0] as { virtual_hosts: { domains: string[]; routes: { route: { cluster: string } }[] }[] }).virtual_hosts[0]!;
    expect(vh.domains).toEqual(expect.arrayContaining([API_HOST, `${API_HOST}:8080`, 'api', 'api:8080', 'api.pay:8080']));
    expect(vh.routes[0]!.route.cluster).toBe(API);
  });
});
