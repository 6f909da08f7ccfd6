// Observers over a real xDS stream: the embedded control plane on loopback, a proxy identity per
// observer, the client model over what arrives. A zone going unhealthy moves the observed shares;
// token auth is honoured; a missing cluster says so.
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { shareOf } from '../../src/scenario/expectations.js';
import { markHealth } from '../../src/scenario/health-marks.js';
import type { LbSharesSpec } from '../../src/scenario/model.js';
import { clusterNamespace, endpointsProxy, lbSharesProxy, Observers } from '../../src/scenario/observer.js';
import { TokenIssuer } from '../../src/security/token-issuer.js';
import { startControlPlane, type ControlPlane } from '../../src/server/control-plane.js';
import type { Shares } from '../../src/lb/index.js';
import { dr, svc, we } from '../helpers/mesh.js';

const CLUSTER = 'outbound|80||app.pay.svc.cluster.local';
const RESOURCES = [
  svc('app', { app: 'app' }, [{ name: 'http', port: 80, targetPort: 8080 }]),
  dr('app', { host: 'app.pay.svc.cluster.local', trafficPolicy: { outlierDetection: { consecutive5xxErrors: 5 }, loadBalancer: { localityLbSetting: { enabled: true } } } }),
  we('a1', { address: '10.0.0.1', labels: { app: 'app' }, locality: 'r1/z1/s1' }),
  we('a2', { address: '10.0.0.2', labels: { app: 'app' }, locality: 'r1/z1/s1' }),
  we('b1', { address: '10.0.0.3', labels: { app: 'app' }, locality: 'r1/z2/s1' }),
  we('c1', { address: '10.0.0.4', labels: { app: 'app' }, locality: 'r2/z1/s1' }),
];

const spec: LbSharesSpec = {
  kind: 'lbShares',
  cluster: CLUSTER,
  proxy: { locality: 'r1/z1/s1', network: '', labels: {} },
  client: 'envoy',
  localities: [],
  priorities: [],
  tolerance: 0.01,
  failing: [],
};

const planes: ControlPlane[] = [];
const sets: Observers[] = [];
afterAll(async () => {
  for (const o of sets) o.stop();
  for (const cp of planes) await cp.close();
});

async function plane(issuer?: TokenIssuer): Promise<ControlPlane> {
  const cp = await startControlPlane({
    resources: RESOURCES,
    xdsAddress: '127.0.0.1:0',
    adminAddress: null,
    registration: true,
    validateIdentity: !!issuer,
    ...(issuer ? { tokenAuth: issuer.authOptions() } : {}),
    logger: pino({ level: 'silent' }),
    processMetrics: false,
  });
  planes.push(cp);
  return cp;
}

const waitFor = async (ok: () => boolean, ms = 5000): Promise<boolean> => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (ok()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return ok();
};

describe('observers', () => {
  it('the namespace of a cluster is its host\'s', () => {
    expect(clusterNamespace(CLUSTER)).toBe('pay');
    expect(clusterNamespace('outbound|80|v1|a.b.svc.cluster.local')).toBe('b');
    expect(clusterNamespace('something')).toBe('default');
  });

  it('shares follow a zone going unhealthy and coming back; endpoints count what arrives', async () => {
    const cp = await plane();
    const obs = new Observers({ xds: `127.0.0.1:${cp.xdsPort}` });
    sets.push(obs);
    const local = obs.add(CLUSTER, lbSharesProxy(spec));
    const remote = obs.add(CLUSTER, lbSharesProxy({ ...spec, proxy: { ...spec.proxy, locality: 'r2/z1/s1' } }));
    const count = obs.add(CLUSTER, endpointsProxy(CLUSTER));
    // The same cluster and proxy share one observer.
    expect(obs.add(CLUSTER, lbSharesProxy(spec))).toBe(local);
    expect(await obs.start(5000)).toEqual({ ready: 3, total: 3 });

    const r1z1 = () => shareOf(local.lbShares(spec) as Shares, 'r1/z1');
    expect(r1z1()).toBeCloseTo(1);
    expect(shareOf(remote.lbShares(spec) as Shares, 'r2')).toBeCloseTo(1);
    expect(count.endpointCount()).toBe(4);

    const before = local.responses;
    markHealth(cp.store, { locality: 'r1/z1' }, false);
    expect(await waitFor(() => r1z1() < 0.01)).toBe(true);
    expect(local.responses).toBeGreaterThan(before);
    expect(shareOf(local.lbShares(spec) as Shares, 'r1/z2')).toBeCloseTo(1);
    // Unhealthy endpoints stay out of EDS (istio's default).
    expect(await waitFor(() => count.endpointCount() === 2)).toBe(true);

    markHealth(cp.store, { locality: 'r1/z1' }, true);
    expect(await waitFor(() => r1z1() > 0.99)).toBe(true);
    expect(await waitFor(() => count.endpointCount() === 4)).toBe(true);
  });

  it('a cluster the server does not have is reported as missing', async () => {
    const cp = await plane();
    const obs = new Observers({ xds: `127.0.0.1:${cp.xdsPort}` });
    sets.push(obs);
    const o = obs.add('outbound|80||nope.pay.svc.cluster.local', endpointsProxy('outbound|80||nope.pay.svc.cluster.local'));
    expect(await obs.start(5000)).toEqual({ ready: 1, total: 1 });
    expect(o.endpointCount()).toBeUndefined();
    expect(o.lbShares(spec)).toEqual({ error: 'cluster outbound|80||nope.pay.svc.cluster.local does not exist (any more)' });
  });

  it('with token auth: no token, no answer (and why); a token for the namespace is accepted', async () => {
    const issuer = TokenIssuer.generate();
    const cp = await plane(issuer);
    const without = new Observers({ xds: `127.0.0.1:${cp.xdsPort}` });
    sets.push(without);
    const refused = without.add(CLUSTER, lbSharesProxy(spec));
    expect(await without.start(1000)).toEqual({ ready: 0, total: 1 });
    const e = refused.lbShares(spec);
    expect('error' in e && e.error).toMatch(/received no CDS.*UNAUTHENTICATED/);
    without.stop();

    const minted: string[] = [];
    const withToken = new Observers({ xds: `127.0.0.1:${cp.xdsPort}`, token: (ns) => (minted.push(ns), issuer.mint(ns, 'default')) });
    sets.push(withToken);
    const ok = withToken.add(CLUSTER, lbSharesProxy(spec));
    expect(await withToken.start(5000)).toEqual({ ready: 1, total: 1 });
    expect(minted).toEqual(['pay']);
    expect(shareOf(ok.lbShares(spec) as Shares, 'r1/z1')).toBeCloseTo(1);
  });
});
