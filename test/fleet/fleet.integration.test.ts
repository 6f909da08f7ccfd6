// The piscina fleet against the real control plane: hundreds of agents on worker threads.
import { afterEach, describe, expect, it } from 'vitest';
import { fleetConfig, probeModelFor } from '../../src/fleet/config.js';
import { Fleet, type FleetProgress } from '../../src/fleet/fleet.js';
import { mergeSummaries } from '../../src/fleet/summary.js';
import { REGISTRATION_AVAILABLE, startTestServer, waitFor, type TestServer } from './helpers.js';

const NS = 'fleet';
const LABELS = { app: 'checkout' };

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('piscina fleet', () => {
  it('600 agents on 2 workers register, report health, ACK; entries go after the grace period', async () => {
    server = await startTestServer({ groups: [{ name: 'checkout', namespace: NS, labels: LABELS }], gracePeriodMs: 1000 });
    const config = fleetConfig({
      xds: server.target,
      count: 600,
      namespace: NS,
      group: 'checkout',
      labels: LABELS,
      // Generous: under CPU contention the last agents of the ramp need seconds to get CDS.
      durationMs: 14000,
      rampPerSec: 300,
      unhealthyFraction: 0.1,
      workers: 2,
      localities: [
        { locality: { region: 'r1', zone: 'z1', subZone: 's1' }, weight: 1 },
        { locality: { region: 'r2', zone: 'z1', subZone: 's1' }, weight: 1 },
      ],
      probe: { initialDelayMs: 0, periodMs: 500, timeoutMs: 100, successThreshold: 1, failureThreshold: 1 },
      progressIntervalMs: 250,
    });
    const healthy = Array.from({ length: 600 }, (_, i) => i).filter((i) => probeModelFor(config, i).kind === 'healthy').length;
    const progress: FleetProgress[] = [];
    let sawAllEntries = false;
    const summary = await new Fleet(config).run({
      onProgress: (p) => {
        progress.push(p);
        if (server!.entries(NS).length === 600) sawAllEntries = true;
      },
    });

    expect(summary.errorSamples).toEqual([]);
    expect(summary.agents).toMatchObject({ target: 600, started: 600, connected: 600, failed: 0, errors: 0 });
    expect(summary.memory.workers.length).toBe(2);
    expect(summary.latency.connect.count).toBe(600);
    expect(summary.counters.responses.cds).toBeGreaterThanOrEqual(600);
    expect(summary.counters.responses.eds).toBeGreaterThanOrEqual(600);
    expect(summary.counters.acks).toBe(summary.counters.responses.cds + summary.counters.responses.eds);
    expect(summary.counters.nacks).toBe(0);
    expect(progress.some((p) => p.connected > 0 && p.connected < 600)).toBe(true); // it ramped
    expect(summary.bytes.received).toBeGreaterThan(0);
    if (!REGISTRATION_AVAILABLE) return;

    expect(sawAllEntries).toBe(true);
    // Exactly the healthy agents are in EDS; the unhealthy tenth is left out.
    expect(summary.agents.registered).toBe(healthy);
    expect(summary.counters.healthReports.unhealthy).toBe(600 - healthy);
    expect(summary.latency.edsVisible.count).toBe(healthy);
    expect(summary.latency.edsVisible.p50Ms).toBeGreaterThan(0);
    // The fleet stopped: every entry is deleted once the grace period has passed.
    expect(await waitFor(() => server!.entries(NS).length === 0, 8000)).toBe(true);
  }, 60_000);

  it('shards split one fleet; their summaries merge into the whole', async () => {
    // A group without a probe: entries need no health report to be in EDS.
    server = await startTestServer({ groups: [{ name: 'checkout', namespace: NS, labels: LABELS, probe: false }] });
    const base = { xds: server.target, count: 90, namespace: NS, group: 'checkout', labels: LABELS, durationMs: 3000, workers: 0, probe: null, shardCount: 3 };
    const shards = await Promise.all([0, 1, 2].map((shardIndex) => new Fleet(fleetConfig({ ...base, shardIndex })).run()));
    expect(shards.map((s) => s.agents.target)).toEqual([30, 30, 30]);
    const merged = mergeSummaries(shards);
    expect(merged.agents.target).toBe(90);
    expect(merged.agents.connected).toBe(90);
    expect(merged.latency.connect.count).toBe(90);
    expect(merged.shards.map((s) => s.index)).toEqual([0, 1, 2]);
    if (REGISTRATION_AVAILABLE) expect(merged.agents.registered).toBe(90);
    // 90 distinct identities: no two shards claimed the same IP.
    if (REGISTRATION_AVAILABLE) expect(new Set(server.entries(NS).map((e) => e.spec.address)).size).toBe(90);
  });

  it('churn: disconnects, IP changes and a storm are applied and survived; observer mode measures visibility', async () => {
    server = await startTestServer({ groups: [{ name: 'checkout', namespace: NS, labels: LABELS }], gracePeriodMs: 500 });
    const config = fleetConfig({
      xds: server.target,
      count: 100,
      namespace: NS,
      group: 'checkout',
      labels: LABELS,
      durationMs: 5000,
      workers: 1,
      watch: 'observer',
      subscription: { cds: false, eds: ['none'] },
      probe: { initialDelayMs: 0, periodMs: 300, timeoutMs: 100, successThreshold: 1, failureThreshold: 1 },
      backoff: { initialMs: 50, maxMs: 500, multiplier: 2, jitter: 0.5, maxAttempts: 20 },
      churn: [
        { kind: 'disconnect', fraction: 0.2, everyMs: 1000, downMs: 200, startMs: 1000 },
        { kind: 'ip-change', fraction: 0.1, everyMs: 2000, downMs: 0, startMs: 1500, times: 1 },
        { kind: 'storm', atMs: 3000, fraction: 1, downMs: 100 },
      ],
    });
    const s = await new Fleet(config).run();
    expect(s.counters.churn.disconnect).toBeGreaterThan(0);
    expect(s.counters.churn.ipChange).toBe(10);
    expect(s.counters.churn.storm).toBeGreaterThan(50);
    expect(s.agents.failed).toBe(0);
    expect(s.agents.connected).toBeGreaterThanOrEqual(95);
    if (REGISTRATION_AVAILABLE) {
      // 100 first identities + 10 new ones after the IP change, seen by the observer stream.
      expect(s.counters.registrations).toBeGreaterThanOrEqual(110);
      expect(s.agents.registered).toBeGreaterThanOrEqual(90);
    }
  });

  it('scale down and up, probe flapping (in-process runner)', async () => {
    server = await startTestServer({ groups: [{ name: 'checkout', namespace: NS, labels: LABELS }], gracePeriodMs: 300 });
    const config = fleetConfig({
      xds: server.target,
      count: 40,
      namespace: NS,
      group: 'checkout',
      labels: LABELS,
      durationMs: 4000,
      workers: 0,
      probe: { initialDelayMs: 0, periodMs: 100, timeoutMs: 50, successThreshold: 1, failureThreshold: 1 },
      churn: [
        { kind: 'scale', atMs: 1000, to: 0.5 },
        { kind: 'scale', atMs: 2000, to: 1 },
        { kind: 'flap', fraction: 0.25, periodMs: 600, atMs: 500 },
      ],
    });
    let minConnected = Infinity;
    const s = await new Fleet({ ...config, progressIntervalMs: 100 }).run({
      onProgress: (p) => {
        if (p.elapsedMs > 1300 && p.elapsedMs < 1900) minConnected = Math.min(minConnected, p.connected);
      },
    });
    expect(s.counters.churn).toMatchObject({ scaleDown: 20, scaleUp: 20, flap: 10 });
    expect(minConnected).toBe(20);
    expect(s.agents.connected).toBe(40);
    // Flapping agents report both states several times.
    expect(s.counters.healthReports.unhealthy).toBeGreaterThanOrEqual(20);
    if (REGISTRATION_AVAILABLE) {
      // Scaled-up agents came back as new VMs: 20 more identities registered.
      expect(await waitFor(() => new Set(server!.entries(NS).map((e) => e.spec.address)).size >= 40)).toBe(true);
      expect(s.counters.registrations).toBeGreaterThanOrEqual(40);
    }
  });

  it('stops early on abort and still returns a summary', async () => {
    server = await startTestServer({ groups: [{ name: 'checkout', namespace: NS, labels: LABELS }] });
    const ac = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ac.abort(), 1500);
    const s = await new Fleet(fleetConfig({ xds: server.target, count: 50, namespace: NS, group: 'checkout', durationMs: 60_000, workers: 1, probe: null })).run({ signal: ac.signal });
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(s.agents.started).toBe(50);
  });
  it('prepared agents (a reconnect storm): built before the clock starts, connected on the ramp, health on the first stream', async () => {
    server = await startTestServer({ groups: [{ name: 'checkout', namespace: NS, labels: LABELS }], gracePeriodMs: 1000 });
    const config = fleetConfig({
      xds: server.target,
      count: 200,
      namespace: NS,
      group: 'checkout',
      labels: LABELS,
      durationMs: 8000,
      rampPerSec: 400,
      workers: 1,
      prepare: true,
      // A long period: without prepare, health (and so EDS) could wait up to 30 s for the first probe.
      probe: { initialDelayMs: 0, periodMs: 30_000, timeoutMs: 100, successThreshold: 1, failureThreshold: 1 },
      progressIntervalMs: 100,
    });
    let readyAt = 0;
    let connectionsAtReady = -1;
    let allVisibleAt = 0;
    const summary = await new Fleet(config).run({
      onReady: () => {
        readyAt = Date.now();
        connectionsAtReady = server!.cp.xds.connections.size;
      },
      onProgress: (p) => {
        if (!allVisibleAt && p.visible === 200) allVisibleAt = Date.now();
      },
    });
    // Nothing connects while agents are being prepared.
    expect(connectionsAtReady).toBe(0);
    expect(summary.errorSamples).toEqual([]);
    expect(summary.agents).toMatchObject({ target: 200, started: 200, connected: 200, failed: 0, errors: 0 });
    expect(summary.counters.healthReports.healthy).toBe(200);
    if (!REGISTRATION_AVAILABLE) return;
    // The first stream carried the primed probe result: all in EDS long before a probe period.
    expect(summary.agents.registered).toBe(200);
    expect(allVisibleAt - readyAt).toBeLessThan(6000);
    expect(summary.latency.healthConverged.count).toBe(200);
  }, 60_000);
});
