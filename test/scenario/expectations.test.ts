// The expectations engine on synthetic observations, and LB shares through the EDS cache and
// the client model (no server needed).
import { describe, expect, it } from 'vitest';
import type { Shares } from '../../src/lb/index.js';
import { compareShares, evaluatePoint, evaluateTotals, shareOf, type PointObservation, type RunTotals } from '../../src/scenario/expectations.js';
import type { EdsCache } from '../../src/eds/eds-cache.js';
import { proxyView } from '../../src/eds/proxy.js';
import { clusterLbOptions, computeShares, type ClaJson } from '../../src/lb/index.js';
import { parseLocality } from '../../src/model/locality.js';
import type { Registry } from '../../src/model/registry.js';
import { toCanonicalJson } from '../../src/proto/index.js';
import { buildCluster } from '../../src/xds/resources/cluster.js';
import type { Expectation, ExpectationSpec, LbSharesSpec } from '../../src/scenario/model.js';
import { dr, mesh, svc, we } from '../helpers/mesh.js';

const x = (spec: ExpectationSpec, name = 'check'): Expectation => ({ name, spec, line: 7, index: 0 });

function shares(localities: [string, number, number][]): Shares {
  const prio = new Map<number, number>();
  for (const [, p, v] of localities) prio.set(p, (prio.get(p) ?? 0) + v);
  return {
    client: 'envoy',
    clusterName: 'c',
    endpoints: [],
    localities: localities.map(([locality, priority, share]) => ({ locality, priority, share })),
    priorities: [...prio].map(([priority, share]) => ({ priority, share })),
    notes: [],
  };
}

const lb = (over: Partial<LbSharesSpec> = {}): LbSharesSpec => ({
  kind: 'lbShares',
  cluster: 'c',
  proxy: { locality: 'r1/z1/s1', network: '', labels: {} },
  client: 'envoy',
  localities: [],
  priorities: [],
  tolerance: 0.01,
  failing: [],
  ...over,
});

function obs(over: Partial<PointObservation> = {}): PointObservation {
  return {
    atMs: 12_000,
    connected: 190,
    registered: 200,
    endpointCount: (c) => (c === 'c' ? 42 : undefined),
    lbShares: () => shares([['r1/z1/s1', 0, 0.7], ['r1/z2/s1', 1, 0.3]]),
    ...over,
  };
}

const totals = (over: Partial<RunTotals> = {}): RunTotals => ({
  convergence: { count: 10, p50Ms: 120, p90Ms: 300, p99Ms: 900, maxMs: 950, meanMs: 200 },
  nacks: 0,
  errors: 0,
  errorsByKind: {},
  leakedEntries: 0,
  ...over,
});

describe('point-in-time checks', () => {
  it('registered / connected bounds', () => {
    expect(evaluatePoint(x({ kind: 'registered', min: 200 }), obs())).toEqual({ name: 'check', kind: 'registered', pass: true, detail: 'registered entries: 200 (>= 200)', atMs: 12_000, line: 7 });
    expect(evaluatePoint(x({ kind: 'connected', min: 200 }), obs()).detail).toBe('connected agents: expected at least 200, got 190');
    expect(evaluatePoint(x({ kind: 'connected', min: 100, max: 150 }), obs()).detail).toBe('connected agents: expected at most 150, got 190');
    expect(evaluatePoint(x({ kind: 'registered', min: 200, max: 200 }), obs()).detail).toBe('registered entries: 200 (= 200)');
  });

  it('endpoints of a cluster, and of a cluster that is gone', () => {
    expect(evaluatePoint(x({ kind: 'endpoints', cluster: 'c', min: 40, max: 50 }), obs())).toMatchObject({ pass: true, detail: 'endpoints of c: 42 (in 40..50)' });
    expect(evaluatePoint(x({ kind: 'endpoints', cluster: 'gone', min: 1 }), obs())).toMatchObject({ pass: false, detail: 'cluster gone does not exist' });
  });

  it('lbShares within tolerance, and a readable miss', () => {
    expect(evaluatePoint(x(lb({ localities: [['r1/z1', 0.7], ['r1', 1]] })), obs())).toMatchObject({
      pass: true,
      detail: 'r1/z1 70.0% (expected 70.0%), r1 100.0% (expected 100.0%)',
    });
    const miss = evaluatePoint(x(lb({ localities: [['r1/z1', 1]], priorities: [[0, 1]] })), obs());
    expect(miss.pass).toBe(false);
    expect(miss.detail).toBe(
      'r1/z1 70.0% (expected 100.0%), priority 0 70.0% (expected 100.0%) beyond ±1.0%; traffic went to: r1/z1/s1 P0 70.0%, r1/z2/s1 P1 30.0%',
    );
    expect(evaluatePoint(x(lb()), obs({ lbShares: () => ({ error: 'cluster c does not exist (any more)' }) }))).toMatchObject({ pass: false, detail: 'cluster c does not exist (any more)' });
  });

  it('tolerance is absolute and inclusive', () => {
    const s = shares([['a/b/c', 0, 0.695], ['a/d/e', 0, 0.305]]);
    expect(compareShares(lb({ localities: [['a/b', 0.7]], tolerance: 0.005 }), s).pass).toBe(true);
    expect(compareShares(lb({ localities: [['a/b', 0.7]], tolerance: 0.004 }), s).pass).toBe(false);
  });

  it('locality patterns match like Istio (missing parts and * match anything)', () => {
    const s = shares([['r1/z1/s1', 0, 0.5], ['r1/z2/s1', 0, 0.25], ['r2/z1/s1', 1, 0.25], ['//', 0, 0]]);
    expect(shareOf(s, 'r1')).toBe(0.75);
    expect(shareOf(s, 'r1/z1')).toBe(0.5);
    expect(shareOf(s, '*/z1')).toBe(0.75);
    expect(shareOf(s, '*')).toBe(1);
    expect(shareOf(s, 'r3')).toBe(0);
  });

  it('refuses whole-run kinds', () => {
    expect(() => evaluatePoint(x({ kind: 'nacks', max: 0 }), obs())).toThrow();
  });
});

describe('whole-run checks', () => {
  it('convergence bounds, each reported', () => {
    expect(evaluateTotals(x({ kind: 'convergence', bounds: { p50Ms: 200, p99Ms: 1000 } }), totals())).toMatchObject({ pass: true, detail: 'p50 120ms, p99 900ms (over 10 push(es))' });
    expect(evaluateTotals(x({ kind: 'convergence', bounds: { p90Ms: 250, maxMs: 900 } }), totals())).toMatchObject({
      pass: false,
      detail: 'push convergence too slow: p90 300ms > 250ms, max 950ms > 900ms (over 10 push(es))',
    });
  });

  it('a convergence window uses only its pushes; no push is a failure, not a pass', () => {
    const windowed = x({ kind: 'convergence', bounds: { p99Ms: 100 }, fromMs: 10_000 });
    const between = (from: number, until: number) => ({ count: from === 10_000 && until === Infinity ? 2 : 0, p50Ms: 50, p90Ms: 60, p99Ms: 70, maxMs: 70, meanMs: 55 });
    expect(evaluateTotals(windowed, totals({ convergenceBetween: between }))).toMatchObject({ pass: true, detail: 'p99 70ms (over 2 push(es))' });
    expect(evaluateTotals(x({ kind: 'convergence', bounds: { p99Ms: 100 }, fromMs: 5, untilMs: 6 }), totals({ convergenceBetween: between }))).toMatchObject({
      pass: false,
      detail: 'no push converged in that window, so there is nothing to measure',
    });
    expect(evaluateTotals(x({ kind: 'convergence', bounds: { p99Ms: 100 } }), totals({ convergence: { count: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0, meanMs: 0 } })).pass).toBe(false);
  });

  it('nacks, errors with their kinds, leaked entries', () => {
    expect(evaluateTotals(x({ kind: 'nacks', max: 0 }), totals({ nacks: 3 }))).toMatchObject({ pass: false, detail: 'expected at most 0 NACK(s), got 3' });
    expect(evaluateTotals(x({ kind: 'errors', max: 1 }), totals({ errors: 5, errorsByKind: { 'agent connect-timeout': 4, timeline: 1 } }))).toMatchObject({
      pass: false,
      detail: 'expected at most 1 error(s), got 5 (agent connect-timeout 4, timeline 1)',
    });
    expect(evaluateTotals(x({ kind: 'leakedEntries', max: 0 }), totals({ leakedEntries: 2 })).detail).toBe('expected at most 0 auto-registered entr(ies) left after the grace period, got 2');
    expect(evaluateTotals(x({ kind: 'leakedEntries', max: 0 }), totals({ leakedEntries: null })).pass).toBe(false);
  });
});

describe('LB shares from the EDS cache and the client model', () => {
  const C = 'outbound|80||app.pay.svc.cluster.local';
  const entries = [
    we('a1', { address: '10.0.0.1', labels: { app: 'app' }, locality: 'us-east/1a/r1' }),
    we('a2', { address: '10.0.0.2', labels: { app: 'app' }, locality: 'us-east/1a/r1' }),
    we('b1', { address: '10.0.0.3', labels: { app: 'app' }, locality: 'us-east/1b/r1' }),
    we('c1', { address: '10.0.0.4', labels: { app: 'app' }, locality: 'us-west/2a/r1' }),
  ];
  const service = svc('app', { app: 'app' }, [{ name: 'http', port: 80, targetPort: 8080 }]);
  const failover = (outlier: boolean) =>
    dr('app', {
      host: 'app.pay.svc.cluster.local',
      trafficPolicy: {
        ...(outlier ? { outlierDetection: { consecutive5xxErrors: 5 } } : {}),
        loadBalancer: { localityLbSetting: { enabled: true, failover: [{ from: 'us-east', to: 'us-west' }] } },
      },
    });
  const spec = lb({ cluster: C, proxy: { locality: 'us-east/1a/r1', network: '', labels: {} }, localities: [['us-east/1a', 1]] });

  it('with outlierDetection, a us-east/1a proxy stays local', () => {
    const m = mesh([service, failover(true), ...entries]);
    const s = lbSharesFromMesh(spec, m.eds, m.registry);
    expect('error' in s).toBe(false);
    expect(compareShares(spec, s as Shares)).toEqual({ pass: true, detail: 'us-east/1a 100.0% (expected 100.0%)' });
  });

  it('without outlierDetection istiod sets no priorities: the same expectation fails, saying where traffic went', () => {
    const m = mesh([service, failover(false), ...entries]);
    const r = compareShares(spec, lbSharesFromMesh(spec, m.eds, m.registry) as Shares);
    expect(r.pass).toBe(false);
    expect(r.detail).toMatch(/^us-east\/1a 50\.0% \(expected 100\.0%\) beyond ±1\.0%; traffic went to: us-east\/1a\/r1 P0 50\.0%, /);
  });

  it('failing endpoints move Envoy traffic by overprovisioning; gRPC just skips them', () => {
    const m = mesh([service, failover(true), ...entries]);
    const envoy = lbSharesFromMesh({ ...spec, failing: ['10.0.0.1:8080'] }, m.eds, m.registry) as Shares;
    // 1 of 2 healthy in P0: health min(100, 1.4 x 50) = 70.
    expect(shareOf(envoy, 'us-east/1a')).toBeCloseTo(0.7, 9);
    const grpc = lbSharesFromMesh({ ...spec, client: 'grpc', failing: ['10.0.0.1:8080'] }, m.eds, m.registry) as Shares;
    expect(shareOf(grpc, 'us-east/1a')).toBeCloseTo(1, 9);
  });

  it('an unknown cluster is an error, not a crash', () => {
    const m = mesh([service, ...entries]);
    expect(lbSharesFromMesh({ ...spec, cluster: 'nope' }, m.eds, m.registry)).toEqual({ error: 'cluster nope does not exist (any more)' });
  });
});

// The shares a proxy would compute from what the embedded control plane holds (the observers
// read the same over the wire): the comparison logic checked without a server.
/** Shares of the client model for the spec's proxy, from what the control plane would send it. */
function lbSharesFromMesh(spec: LbSharesSpec, eds: EdsCache, registry: Registry): Shares | { error: string } {
  const cluster = registry.cluster(spec.cluster);
  if (!cluster || !eds.has(spec.cluster)) return { error: `cluster ${spec.cluster} does not exist (any more)` };
  const proxy = proxyView({ locality: parseLocality(spec.proxy.locality), network: spec.proxy.network, labels: spec.proxy.labels });
  const view = eds.view(spec.cluster, proxy);
  if (!view) return { error: `cluster ${spec.cluster} has no endpoints view` };
  const cla = toCanonicalJson('ClusterLoadAssignment', view.bytes) as unknown as ClaJson;
  // Model what istiod sends for this cluster: its panic threshold and locality weighting.
  const cds = buildCluster(cluster, eds.options);
  return computeShares(cla, { client: spec.client, unhealthy: spec.failing, ...clusterLbOptions(cds) });
}

