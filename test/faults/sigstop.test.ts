// The control plane hangs for 5 s (SIGSTOP, then SIGCONT): its sockets stay open, so only HTTP/2
// keepalive pings can tell. Agents with keepalive drop their connections within ping interval +
// timeout, keep retrying (bounded by the connect timeout, as a stopped server never finishes the
// handshake) and are all back and registered soon after SIGCONT. A control group without
// keepalive never notices - proof that the pings, not TCP, detected the hang.
import { afterEach, describe, expect, it } from 'vitest';
import type { WorkloadEntry } from '../../src/config/resources.js';
import { fleetConfig, type FleetConfig } from '../../src/fleet/config.js';
import { Fleet, type FleetProgress } from '../../src/fleet/fleet.js';
import { ANNOTATION_CONNECTED_AT, ANNOTATION_DISCONNECTED_AT } from '../../src/registration/annotations.js';
import { killAll, serveProcess, servingPorts } from '../helpers/serve-process.js';
import { GROUP, LABELS, listEntries, meshDir, metricValue, NS, registrySnapshot, sleep, waitUntil } from './helpers.js';

const WITH_KEEPALIVE = 100;
const WITHOUT = 20;
const STOP_MS = 5_000;

const fleets: Fleet[] = [];
afterEach(() => {
  for (const f of fleets.splice(0)) f.stop();
  killAll();
});

describe('server SIGSTOP for 5 s', () => {
  it('keepalive notices, agents recover and end connected and registered', { timeout: 60_000 }, async () => {
    const { mesh } = meshDir();
    // Pings every second are what notices a 5 s hang; like gRPC servers, xdsim counts pings closer
    // than its minimum interval as abuse (GOAWAY too_many_pings), so this server allows them.
    const serve = serveProcess(['-f', mesh, '--grace-period', '3s', '--min-ping-interval', '500ms', '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--log-level', 'info']);
    const { xds, admin } = await servingPorts(serve);
    const pid = serve.proc.pid!;

    const base: Partial<FleetConfig> & Pick<FleetConfig, 'xds' | 'count'> = {
      xds: `127.0.0.1:${xds}`,
      count: 1,
      namespace: NS,
      group: GROUP,
      labels: LABELS,
      durationMs: 50_000,
      workers: 0,
      probe: { initialDelayMs: 0, periodMs: 1_000, timeoutMs: 200, successThreshold: 1, failureThreshold: 1 },
      connectTimeoutMs: 2_000,
      backoff: { initialMs: 200, maxMs: 1_000, multiplier: 2, jitter: 0.5, maxAttempts: 40 },
      progressIntervalMs: 100,
    };
    const pinging = new Fleet(fleetConfig({ ...base, count: WITH_KEEPALIVE, keepaliveMs: 1_000, keepaliveTimeoutMs: 1_000, namePrefix: 'ka' }));
    // Disjoint IPs (and so entries) for the control group.
    const silent = new Fleet(fleetConfig({ ...base, count: WITHOUT, ipBase: '10.201.0.0', namePrefix: 'quiet' }));
    fleets.push(pinging, silent);
    let ka: FleetProgress | undefined;
    let quiet: FleetProgress | undefined;
    const runs = [pinging.run({ onProgress: (p) => (ka = p) }), silent.run({ onProgress: (p) => (quiet = p) })];
    const total = WITH_KEEPALIVE + WITHOUT;

    let entries: WorkloadEntry[] = [];
    const settled = (): boolean =>
      entries.length === total &&
      entries.every((e) => e.metadata.annotations?.[ANNOTATION_CONNECTED_AT] && !e.metadata.annotations[ANNOTATION_DISCONNECTED_AT] && e.status?.conditions?.length);
    const up = await waitUntil(async () => {
      entries = await listEntries(admin);
      return ka?.connected === WITH_KEEPALIVE && quiet?.connected === WITHOUT && settled();
    }, 30_000);
    expect(up, `connected ${ka?.connected}+${quiet?.connected}, entries ${entries.length}`).toBe(true);
    const before = registrySnapshot(entries);
    // Pings flow for a few seconds first: the server accepts them, nobody is dropped.
    await sleep(3_000);
    expect(ka?.connected).toBe(WITH_KEEPALIVE);

    process.kill(pid, 'SIGSTOP');
    const stoppedAt = Date.now();
    let droppedAfterMs: number | undefined;
    let quietMin = WITHOUT;
    try {
      while (Date.now() - stoppedAt < STOP_MS) {
        if (droppedAfterMs === undefined && ka?.connected === 0) droppedAfterMs = Date.now() - stoppedAt;
        quietMin = Math.min(quietMin, quiet?.connected ?? 0);
        await sleep(50);
      }
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    // Ping every 1 s, 1 s to answer: all dropped well inside the 5 s; the silent ones never knew.
    expect(droppedAfterMs, 'keepalive agents still connected at SIGCONT').toBeDefined();
    expect(droppedAfterMs!).toBeLessThan(STOP_MS);
    expect(quietMin).toBe(WITHOUT);

    const contAt = Date.now();
    const back = await waitUntil(async () => {
      entries = await listEntries(admin);
      return ka?.connected === WITH_KEEPALIVE && quiet?.connected === WITHOUT && settled();
    }, 30_000);
    expect(back, `connected ${ka?.connected}+${quiet?.connected}, entries ${entries.length}`).toBe(true);
    const recoveredMs = Date.now() - contAt;
    expect(registrySnapshot(entries)).toEqual(before);

    const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
    expect(metricValue(metrics, 'xdsim_xds_rejected_requests_total{reason="too_many_pings"}') ?? 0).toBe(0);

    for (const f of fleets) f.stop();
    const [withKa, without] = await Promise.all(runs);
    expect(withKa!.agents).toMatchObject({ target: WITH_KEEPALIVE, connected: WITH_KEEPALIVE, failed: 0 });
    // Exactly one broken stream per agent: the hang, nothing else.
    expect(withKa!.counters.errors['stream-reset']).toBe(WITH_KEEPALIVE);
    expect(without!.agents).toMatchObject({ target: WITHOUT, connected: WITHOUT, failed: 0, errors: 0 });
    process.stderr.write(`sigstop: keepalive dropped all after ${droppedAfterMs} ms; recovered ${recoveredMs} ms after SIGCONT; errors ${JSON.stringify(withKa!.counters.errors)}\n`);
    serve.proc.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
  });
});
