import { afterEach, describe, expect, it } from 'vitest';
import { TYPE_URL } from '../../src/proto/index.js';
import type { ControlPlane } from '../../src/server/control-plane.js';
import { we } from '../helpers/mesh.js';
import { API, apiMesh, WEB } from './fixtures.js';
import { DeltaClient, node, startPlane } from './helpers.js';

let plane: ControlPlane | undefined;
const clients: DeltaClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await plane?.close();
  plane = undefined;
});

function client(service: 'ads' | 'eds' = 'ads'): DeltaClient {
  const c = new DeltaClient(plane!.xdsPort, service);
  clients.push(c);
  return c;
}

const MISSING = 'outbound|1||missing.pay.svc.cluster.local';

describe('delta ADS', () => {
  it('wildcard CDS, then removed_resources when a cluster goes away', async () => {
    plane = await startPlane(apiMesh());
    const c = client();
    c.send({ node: node('d1'), type_url: TYPE_URL.CLUSTER });
    const r1 = await c.recv();
    expect(r1.raw.resources!.map((r) => r.name).sort()).toEqual([API, WEB].sort());
    expect(r1.raw.resources!.every((r) => r.version)).toBe(true);
    expect(r1.raw.removed_resources).toEqual([]);
    c.send({ type_url: TYPE_URL.CLUSTER, response_nonce: r1.raw.nonce! });
    expect(await c.none()).toBe(true);
    plane.store.delete('Service/pay/web');
    const r2 = await c.recv();
    expect(r2.raw.resources).toEqual([]);
    expect(r2.raw.removed_resources).toEqual([WEB]);
  });

  it('subscribe, an empty assignment for unknown names (as istiod), unsubscribe', async () => {
    plane = await startPlane(apiMesh());
    const c = client();
    c.send({ node: node('d1'), type_url: TYPE_URL.ENDPOINT, resource_names_subscribe: [API, MISSING] });
    const r1 = await c.recv();
    // istiod's EdsGenerator.GenerateDeltas builds every watched name and deletes none.
    expect(r1.raw.resources!.map((r) => r.name)).toEqual([API, MISSING]);
    expect(r1.resources[1]).toEqual({ cluster_name: MISSING });
    expect(r1.raw.removed_resources).toEqual([]);
    c.send({ type_url: TYPE_URL.ENDPOINT, response_nonce: r1.raw.nonce! });
    expect(await c.none()).toBe(true);
    // Unsubscribe API: its changes no longer reach us; WEB subscription gets WEB.
    c.send({ type_url: TYPE_URL.ENDPOINT, response_nonce: r1.raw.nonce!, resource_names_unsubscribe: [API], resource_names_subscribe: [WEB] });
    const r2 = await c.recv();
    expect(r2.raw.resources!.map((r) => r.name)).toEqual([WEB]);
    c.send({ type_url: TYPE_URL.ENDPOINT, response_nonce: r2.raw.nonce! });
    plane.store.apply(we('api-d', { address: '10.0.0.4', labels: { app: 'api' } }));
    expect(await c.none(200)).toBe(true);
  });

  it('honours subscription changes even with a stale nonce', async () => {
    plane = await startPlane(apiMesh());
    const c = client();
    c.send({ node: node('d1'), type_url: TYPE_URL.ENDPOINT, resource_names_subscribe: [API] });
    const r1 = await c.recv();
    c.send({ type_url: TYPE_URL.ENDPOINT, response_nonce: r1.raw.nonce! });
    plane.store.apply(we('api-d', { address: '10.0.0.4', labels: { app: 'api' } }));
    const r2 = await c.recv();
    expect(r2.raw.resources!.map((r) => r.name)).toEqual([API]);
    c.send({ type_url: TYPE_URL.ENDPOINT, response_nonce: r1.raw.nonce!, resource_names_subscribe: [WEB] });
    const r3 = await c.recv();
    expect(r3.raw.resources!.map((r) => r.name)).toEqual([WEB]);
  });

  it('initial_resource_versions: what the client already has is not resent', async () => {
    plane = await startPlane(apiMesh());
    const first = client();
    first.send({ node: node('d1'), type_url: TYPE_URL.ENDPOINT, resource_names_subscribe: [API, WEB] });
    const r1 = await first.recv();
    const versions = Object.fromEntries(r1.raw.resources!.map((r) => [r.name!, r.version!]));
    first.close();
    // Reconnect: API unchanged, WEB stale, plus a name that no longer exists.
    const again = client();
    again.send({
      node: node('d1'),
      type_url: TYPE_URL.ENDPOINT,
      resource_names_subscribe: [API, WEB],
      initial_resource_versions: { [API]: versions[API]!, [WEB]: 'old', [MISSING]: 'x' },
    });
    const r2 = await again.recv();
    expect(r2.raw.resources!.map((r) => r.name)).toEqual([WEB]);
    expect(r2.raw.removed_resources).toEqual([MISSING]);
  });

  it('EDS: a subscribed cluster that goes away becomes an empty assignment, then comes back', async () => {
    plane = await startPlane(apiMesh());
    const c = client();
    c.send({ node: node('d1'), type_url: TYPE_URL.ENDPOINT, resource_names_subscribe: [WEB] });
    const r1 = await c.recv();
    expect((r1.resources[0]!['endpoints'] as unknown[]).length).toBeGreaterThan(0);
    c.send({ type_url: TYPE_URL.ENDPOINT, response_nonce: r1.raw.nonce! });
    const web = apiMesh().find((r) => r.kind === 'Service' && r.metadata.name === 'web')!;
    plane.store.delete('Service/pay/web');
    const r2 = await c.recv();
    expect(r2.raw.removed_resources).toEqual([]);
    expect(r2.resources).toEqual([{ cluster_name: WEB }]);
    c.send({ type_url: TYPE_URL.ENDPOINT, response_nonce: r2.raw.nonce! });
    plane.store.apply(web);
    const r3 = await c.recv();
    expect(r3.raw.resources!.map((r) => r.name)).toEqual([WEB]);
    expect((r3.resources[0]!['endpoints'] as unknown[]).length).toBeGreaterThan(0);
  });

  it('NACK is counted and not answered', async () => {
    plane = await startPlane(apiMesh());
    const c = client();
    c.send({ node: node('d1'), type_url: TYPE_URL.ENDPOINT, resource_names_subscribe: [API] });
    const r1 = await c.recv();
    c.send({ type_url: TYPE_URL.ENDPOINT, response_nonce: r1.raw.nonce!, error_detail: { code: 3, message: 'nope' } });
    expect(await c.none()).toBe(true);
    expect(await plane.metrics.rejects.eds.get()).toMatchObject({ values: [{ value: 1 }] });
  });

  it('serves DeltaEndpoints on the EDS service', async () => {
    plane = await startPlane(apiMesh());
    const c = client('eds');
    c.send({ node: node('d1'), resource_names_subscribe: [API] });
    const r1 = await c.recv();
    expect(r1.raw.type_url).toBe(TYPE_URL.ENDPOINT);
    expect(r1.raw.resources!.map((r) => r.name)).toEqual([API]);
    expect(r1.resources[0]!['cluster_name']).toBe(API);
  });
});
