import { afterEach, describe, expect, it } from 'vitest';
import { TYPE_URL } from '../../src/proto/index.js';
import type { ControlPlane } from '../../src/server/control-plane.js';
import { Debouncer, debounceFromEnv, parseDuration } from '../../src/xds/push/debounce.js';
import type { PushSummary } from '../../src/xds/push/push.js';
import type { ResourceChange } from '../../src/xds/cache/xds-cache.js';
import { svc, we } from '../helpers/mesh.js';
import { API, apiMesh } from './fixtures.js';
import { acked, node, SotwClient, startPlane, waitFor } from './helpers.js';

let plane: ControlPlane | undefined;
const clients: SotwClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await plane?.close();
  plane = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('debounce', () => {
  it('merges changes until a quiet period', async () => {
    const fired: number[][] = [];
    const d = new Debouncer<number[]>({ debounceAfterMs: 200, debounceMaxMs: 10_000, enableEdsDebounce: true }, (a, b) => [...a, ...b], (x) => fired.push(x.value));
    for (let i = 0; i < 5; i++) {
      d.add([i], performance.now(), false);
      await sleep(5);
    }
    expect(fired).toEqual([]);
    await waitFor(() => fired.length === 1, 1000);
    expect(fired[0]).toEqual([0, 1, 2, 3, 4]);
    d.close();
  });

  it('fires by PILOT_DEBOUNCE_MAX under a steady stream of changes', async () => {
    const fired: number[] = [];
    const d = new Debouncer<number>({ debounceAfterMs: 200, debounceMaxMs: 300, enableEdsDebounce: true }, (a, b) => a + b, () => fired.push(performance.now()));
    const start = performance.now();
    const until = start + 2000;
    while (performance.now() < until && fired.length === 0) {
      d.add(1, performance.now(), false);
      await sleep(10);
    }
    expect(fired.length).toBe(1);
    expect(fired[0]! - start).toBeGreaterThanOrEqual(290);
    expect(fired[0]! - start).toBeLessThan(1500);
    d.close();
  });

  it('lets endpoint-only changes skip debouncing when EDS debounce is off', async () => {
    const fired: string[] = [];
    const d = new Debouncer<string>({ debounceAfterMs: 10_000, debounceMaxMs: 10_000, enableEdsDebounce: false }, (a, b) => a + b, (x) => fired.push(x.value));
    d.add('e', performance.now(), true);
    d.add('f', performance.now(), false);
    await waitFor(() => fired.length === 1, 500);
    expect(fired).toEqual(['e']);
    d.close();
  });

  it('reads istiod flags', () => {
    expect(parseDuration('100ms')).toBe(100);
    expect(parseDuration('10s')).toBe(10_000);
    expect(parseDuration('1.5m')).toBe(90_000);
    expect(() => parseDuration('soon')).toThrow(/invalid duration/);
    expect(debounceFromEnv({ PILOT_DEBOUNCE_AFTER: '1s', PILOT_ENABLE_EDS_DEBOUNCE: 'false' })).toEqual({
      debounceAfterMs: 1000,
      debounceMaxMs: 10_000,
      enableEdsDebounce: false,
    });
  });
});

async function subscribed(n: number, locality = 'r1/z1/s1'): Promise<{ c: SotwClient; nonce: string; version: string }[]> {
  const out = [];
  for (let i = 0; i < n; i++) {
    const c = new SotwClient(plane!.xdsPort);
    clients.push(c);
    c.send({ node: node(`p${i}`, locality), type_url: TYPE_URL.ENDPOINT, resource_names: [API] });
    const r = await c.recv();
    c.ack(r.raw, [API]);
    await acked(plane!, r.raw.nonce!);
    out.push({ c, nonce: r.raw.nonce!, version: r.raw.version_info! });
  }
  return out;
}

describe('push engine', () => {
  it('tracks a push until every stream ACKs, and shares one encoding', async () => {
    plane = await startPlane(apiMesh());
    const subs = await subscribed(4);
    const done: PushSummary[] = [];
    plane.xds.engine.onPushDone((s) => done.push(s));
    const missesBefore = plane.xds.responses.misses;
    plane.store.apply(we('api-d', { address: '10.0.0.4', locality: 'r1/z1/s1', labels: { app: 'api' } }));
    const rs = await Promise.all(subs.map((s) => s.c.recv()));
    expect(new Set(rs.map((r) => r.raw.nonce)).size).toBe(1);
    expect(plane.xds.responses.misses - missesBefore).toBe(1);
    expect(done).toEqual([]);
    rs.forEach((r, i) => subs[i]!.c.ack(r.raw, [API]));
    await waitFor(() => done.length === 1, 2000, 'push done');
    expect(done[0]).toMatchObject({ streamsSent: 4, acks: 4, nacks: 0, closed: 0, timedOut: false, changes: { eds: 1 } });
    expect(done[0]!.convergedMs).toBeGreaterThan(0);
    const conv = await plane.metrics.proxyConvergence.get();
    expect(conv.values.find((v) => v.metricName === 'pilot_proxy_convergence_time_count')!.value).toBe(4);
    const pushConv = await plane.metrics.pushConvergence.get();
    expect(pushConv.values.find((v) => v.metricName === 'xdsim_push_convergence_seconds_count')!.value).toBe(1);
    const pushes = await plane.metrics.pushes.get();
    expect(pushes.values.find((v) => v.labels['type'] === 'eds')!.value).toBe(8);
  });

  it('counts NACKs and closed streams as settled', async () => {
    plane = await startPlane(apiMesh());
    const subs = await subscribed(3);
    const done: PushSummary[] = [];
    plane.xds.engine.onPushDone((s) => done.push(s));
    plane.store.apply(we('api-d', { address: '10.0.0.4', labels: { app: 'api' } }));
    const rs = await Promise.all(subs.map((s) => s.c.recv()));
    subs[0]!.c.ack(rs[0]!.raw, [API]);
    subs[1]!.c.send({ type_url: TYPE_URL.ENDPOINT, response_nonce: rs[1]!.raw.nonce!, resource_names: [API], error_detail: { code: 3, message: 'x' } });
    subs[2]!.c.close();
    await waitFor(() => done.length === 1, 2000, 'push done');
    expect(done[0]).toMatchObject({ streamsSent: 3, acks: 1, nacks: 1, closed: 1 });
  });

  it('a stream that gets nothing from a push does not hold it open', async () => {
    plane = await startPlane(apiMesh());
    await subscribed(2);
    const done: PushSummary[] = [];
    plane.xds.engine.onPushDone((s) => done.push(s));
    plane.store.apply(we('web-b', { address: '10.0.1.2', labels: { app: 'web' } }));
    await waitFor(() => done.length === 1, 2000, 'push done');
    expect(done[0]).toMatchObject({ streamsSent: 0, acks: 0 });
  });

  it('coalesces changes arriving while a stream is waiting: one response with the latest state', async () => {
    plane = await startPlane(apiMesh(), { debounce: { debounceAfterMs: 50, debounceMaxMs: 1000 } });
    const [s] = await subscribed(1);
    for (let i = 0; i < 10; i++) plane.store.apply(we(`api-x${i}`, { address: `10.0.3.${i}`, labels: { app: 'api' } }));
    const r = await s!.c.recv();
    expect(JSON.stringify(r.resources)).toContain('10.0.3.9');
    s!.c.ack(r.raw, [API]);
    expect(await s!.c.none(200)).toBe(true);
  });
});

describe('change batching', () => {
  it('announces one config batch as one change, endpoints and clusters together', async () => {
    plane = await startPlane(apiMesh());
    const seen: ResourceChange[] = [];
    plane.cache.onChange((c) => seen.push(c));
    plane.store.commit([
      { op: 'apply', resource: svc('api', { app: 'api' }, [{ name: 'grpc', port: 8080 }, { name: 'grpc2', port: 8081 }]) },
      { op: 'apply', resource: we('api-d', { address: '10.0.0.4', labels: { app: 'api' } }) },
    ]);
    await waitFor(() => seen.length > 0, 1000);
    await sleep(20);
    expect(seen).toHaveLength(1);
    expect([...seen[0]!.types.keys()].sort()).toEqual(['cds', 'eds', 'lds', 'rds']);
  });

  it('with PILOT_ENABLE_EDS_DEBOUNCE off, endpoint changes skip a long debounce', async () => {
    plane = await startPlane(apiMesh(), { debounce: { debounceAfterMs: 5_000, debounceMaxMs: 10_000, enableEdsDebounce: false } });
    const [s] = await subscribed(1);
    const t0 = performance.now();
    plane.store.apply(we('api-d', { address: '10.0.0.4', labels: { app: 'api' } }));
    const r = await s!.c.recv(2000);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(JSON.stringify(r.resources)).toContain('10.0.0.4');
  });
});
