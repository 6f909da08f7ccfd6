import { afterEach, describe, expect, it } from 'vitest';
import { TYPE_URL } from '../../src/proto/index.js';
import type { ControlPlane } from '../../src/server/control-plane.js';
import { API, apiMesh, failoverRule } from '../xds/fixtures.js';
import { admin, node, SotwClient, startPlane, waitFor } from '../xds/helpers.js';

let plane: ControlPlane | undefined;
const clients: SotwClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await plane?.close();
  plane = undefined;
});

const GOOD_ENTRY = `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: api-new, namespace: pay, labels: { app: api } }
spec: { address: 10.0.0.9, locality: r1/z1/s1 }
`;
const BAD_ENTRY = `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: api-bad, namespace: pay }
spec: { address: 10.0.0.10, weight: -3 }
`;

describe('admin HTTP', () => {
  it('/ready, /metrics with istiod names, 404 and 405', async () => {
    plane = await startPlane(apiMesh());
    expect((await admin(plane, '/ready')).status).toBe(200);
    const m = (await admin(plane, '/metrics')).text;
    for (const name of ['pilot_xds ', 'pilot_xds_pushes', 'pilot_xds_push_time', 'pilot_proxy_convergence_time', 'pilot_xds_cds_reject', 'pilot_xds_eds_reject', 'xdsim_xds_rejected_requests_total']) {
      expect(m, name).toContain(`# HELP ${name.trim()} `);
    }
    expect((await admin(plane, '/nope')).status).toBe(404);
    expect((await admin(plane, '/apply')).status).toBe(405);
    expect((await admin(plane, '/debug/adsz', { method: 'POST', body: 'x' })).status).toBe(405);
  });

  it('POST /apply triggers a push; a bad document rejects the whole request', async () => {
    plane = await startPlane(apiMesh());
    const c = new SotwClient(plane.xdsPort);
    clients.push(c);
    c.send({ node: node('p1', 'r1/z1/s1'), type_url: TYPE_URL.ENDPOINT, resource_names: [API] });
    const r1 = await c.recv();
    c.ack(r1.raw, [API]);

    const bad = await admin(plane, '/apply', { method: 'POST', body: `${GOOD_ENTRY}---\n${BAD_ENTRY}` });
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/request:\d+ \(document 2\) WorkloadEntry pay\/api-bad spec\.weight/);
    expect(plane.store.get('WorkloadEntry/pay/api-new')).toBeUndefined();
    expect(await c.none(100)).toBe(true);

    const ok = await admin(plane, '/apply', { method: 'POST', body: GOOD_ENTRY });
    expect(ok.status).toBe(200);
    expect(ok.json()).toMatchObject({ applied: [{ key: 'WorkloadEntry/pay/api-new', type: 'added' }] });
    const r2 = await c.recv();
    expect(JSON.stringify(r2.resources)).toContain('10.0.0.9');

    const again = await admin(plane, '/apply', { method: 'POST', body: GOOD_ENTRY });
    expect(again.json()).toMatchObject({ applied: [], unchanged: 1 });

    const del = await admin(plane, '/delete', { method: 'POST', body: 'kind: WorkloadEntry\nmetadata: { name: api-new, namespace: pay }\n' });
    expect(del.status).toBe(200);
    expect(del.json()).toEqual({ deleted: ['WorkloadEntry/pay/api-new'], missing: [] });
    const r3 = await c.recv();
    expect(JSON.stringify(r3.resources)).not.toContain('10.0.0.9');

    const badDel = await admin(plane, '/delete', { method: 'POST', body: 'kind: Frobnicator\nmetadata: { name: x }\n' });
    expect(badDel.status).toBe(400);
    const rejected = (await admin(plane, '/metrics')).text;
    expect(rejected).toMatch(/xdsim_config_rejected_total\{endpoint="apply"\} 1/);
  });

  it('refuses oversized bodies with 413', async () => {
    plane = await startControlPlaneWithSmallBody();
    const r = await admin(plane, '/apply', { method: 'POST', body: 'x'.repeat(100_000) });
    expect(r.status).toBe(413);
  });

  it('/debug/adsz, /debug/syncz, /debug/edsz, /debug/configz', async () => {
    plane = await startPlane([...apiMesh(), failoverRule]);
    const c = new SotwClient(plane.xdsPort);
    clients.push(c);
    c.send({ node: node('sidecar~10.9.0.1~vm.pay~pay.svc.cluster.local', 'r2/z1/s1', { NETWORK: 'n1', LABELS: { app: 'vm' } }), type_url: TYPE_URL.ENDPOINT, resource_names: [API] });
    const r = await c.recv();
    c.ack(r.raw, [API]);
    const adsz = await waitFor(async () => {
      const j = (await admin(plane!, '/debug/adsz')).json() as { totalClients: number; clients: Record<string, unknown>[] };
      return (j.clients[0]?.['watches'] as { ackedNonce: string }[] | undefined)?.[0]?.ackedNonce ? j : undefined;
    });
    expect(adsz!.totalClients).toBe(1);
    expect(adsz!.clients[0]).toMatchObject({
      proxyId: 'sidecar~10.9.0.1~vm.pay~pay.svc.cluster.local',
      namespace: 'pay',
      locality: 'r2/z1/s1',
      network: 'n1',
      labels: { app: 'vm' },
      watches: [{ type: 'eds', subscriptions: [API], ackedVersion: r.raw.version_info }],
    });
    const syncz = (await admin(plane, '/debug/syncz')).json() as { streams: { state: string }[] };
    expect(syncz.streams[0]!.state).toBe('SYNCED');

    const eds = (await admin(plane, `/debug/edsz?proxyID=${encodeURIComponent('sidecar~10.9.0.1~vm.pay~pay.svc.cluster.local')}&cluster=${encodeURIComponent(API)}`)).json() as {
      clusterName: string;
      endpoints: { locality: { region: string }; priority?: number }[];
    };
    expect(eds.clusterName).toBe(API);
    expect(eds.endpoints.find((g) => !g.priority)!.locality.region).toBe('r2');
    expect((await admin(plane, '/debug/edsz?proxyID=nobody')).status).toBe(404);
    const all = (await admin(plane, '/debug/edsz')).json() as unknown[];
    expect(all.length).toBe(2);

    const cfg = (await admin(plane, '/debug/configz?kind=WorkloadEntry&namespace=pay')).json() as { metadata: { name: string } }[];
    expect(cfg.map((x) => x.metadata.name)).toEqual(['api-a', 'api-b', 'api-c', 'web-a']);
    expect((await admin(plane, '/debug/configz?kind=Nope')).status).toBe(400);
    expect(((await admin(plane, '/debug/configz')).json() as unknown[]).length).toBe(7);
  });
});

async function startControlPlaneWithSmallBody(): Promise<ControlPlane> {
  // The admin limit is an AdminOptions knob; exercise it through a plane started by hand.
  const { startAdmin } = await import('../../src/admin/server.js');
  const p = await startPlane([], { adminAddress: null });
  const a = await startAdmin('127.0.0.1:0', { store: p.store, xds: p.xds, metrics: p.metrics, log: p.log, ready: () => true, maxBodyBytes: 1000 });
  return { ...p, adminPort: a.port, close: async () => { await a.close(); await p.close(); } };
}
