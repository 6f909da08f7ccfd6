// kill -9 the control plane under a registered fleet and restart it on the same address with the
// same --state-dir: every agent notices, backs off, reconnects and re-registers, and the registry
// converges to exactly the set it had (names, addresses, labels, health) - none lost, none
// duplicated - and stays that way past the grace period and the restart sweep.
import { hostname } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import type { WorkloadEntry } from '../../src/config/resources.js';
import { fleetConfig, probeModelFor } from '../../src/fleet/config.js';
import { Fleet, type FleetProgress } from '../../src/fleet/fleet.js';
import { ANNOTATION_CONNECTED_AT, ANNOTATION_DISCONNECTED_AT, ANNOTATION_WORKLOAD_CONTROLLER } from '../../src/registration/annotations.js';
import { killAll, serveProcess, servingPorts, type ServeProcess } from '../helpers/serve-process.js';
import { freePort, GROUP, LABELS, listEntries, meshDir, NS, registrySnapshot, sleep, waitUntil } from './helpers.js';

const COUNT = 200;
const GRACE_MS = 3_000;

let fleet: Fleet | undefined;
afterEach(() => {
  fleet?.stop();
  fleet = undefined;
  killAll();
});

/** Every entry claims a live connection held by this server process (re-registered, not just restored). */
function allReconnectedTo(entries: readonly WorkloadEntry[], serve: ServeProcess): boolean {
  const controller = `xdsim-${hostname()}-${serve.proc.pid}`;
  return entries.every((e) => {
    const a = e.metadata.annotations ?? {};
    return a[ANNOTATION_CONNECTED_AT] !== undefined && a[ANNOTATION_DISCONNECTED_AT] === undefined && a[ANNOTATION_WORKLOAD_CONTROLLER] === controller;
  });
}

describe('server kill -9 and restart', () => {
  it(`${COUNT} agents reconnect with backoff and the registry converges to the same entries`, { timeout: 90_000 }, async () => {
    const { mesh, state } = meshDir();
    const port = await freePort();
    const args = ['-f', mesh, '--state-dir', state, '--grace-period', `${GRACE_MS}ms`, '--xds-address', `127.0.0.1:${port}`, '--admin-address', '127.0.0.1:0', '--log-level', 'info'];
    const first = serveProcess(args);
    const a1 = (await servingPorts(first)).admin;

    const config = fleetConfig({
      xds: `127.0.0.1:${port}`,
      count: COUNT,
      namespace: NS,
      group: GROUP,
      labels: LABELS,
      durationMs: 80_000,
      rampPerSec: 400,
      unhealthyFraction: 0.2,
      workers: 0,
      probe: { initialDelayMs: 0, periodMs: 500, timeoutMs: 200, successThreshold: 1, failureThreshold: 1 },
      connectTimeoutMs: 3_000,
      // Short, jittered steps so a 1-3 s outage is ridden out in a few attempts; bounded attempts.
      backoff: { initialMs: 200, maxMs: 2_000, multiplier: 2, jitter: 0.5, maxAttempts: 30 },
      progressIntervalMs: 100,
    });
    const unhealthy = Array.from({ length: COUNT }, (_, i) => i).filter((i) => probeModelFor(config, i).kind === 'unhealthy').length;
    let last: FleetProgress | undefined;
    fleet = new Fleet(config);
    const run = fleet.run({ onProgress: (p) => (last = p) });

    // Registered, with health, on the first server.
    let entries: WorkloadEntry[] = [];
    const registered = await waitUntil(async () => {
      entries = await listEntries(a1);
      return entries.length === COUNT && entries.every((e) => e.status?.conditions?.some((c) => c.type === 'Healthy')) && last?.connected === COUNT;
    }, 30_000);
    expect(registered, `registered ${entries.length}/${COUNT}, connected ${last?.connected}`).toBe(true);
    const before = registrySnapshot(entries);
    expect(before.filter((e) => e.healthy === 'False').length).toBe(unhealthy);
    expect(before.every((e) => e.labels['app'] === 'vm')).toBe(true);

    // kill -9: no goodbye to anyone.
    first.proc.kill('SIGKILL');
    expect(await first.exited).toBe(null);
    const noticed = await waitUntil(() => last?.connected === 0, 10_000, 50);
    expect(noticed, `still connected: ${last?.connected}`).toBe(true);
    // Down long enough that reconnect attempts hit a closed port and back off.
    await sleep(1_500);

    const second = serveProcess(args);
    const a2 = (await servingPorts(second)).admin;
    const restartedAt = Date.now();
    const converged = await waitUntil(async () => {
      entries = await listEntries(a2);
      return last?.connected === COUNT && entries.length === COUNT && allReconnectedTo(entries, second);
    }, 30_000);
    expect(converged, `connected ${last?.connected}, entries ${entries.length}, reconnected ${allReconnectedTo(entries, second)}`).toBe(true);
    expect(registrySnapshot(entries)).toEqual(before);
    const convergedS = (Date.now() - restartedAt) / 1000;

    // Past the grace period and a restart sweep: nothing reconnected is deleted or marked away.
    await sleep(GRACE_MS * 2 + 500);
    entries = await listEntries(a2);
    expect(registrySnapshot(entries)).toEqual(before);
    expect(allReconnectedTo(entries, second)).toBe(true);
    const metrics = await (await fetch(`http://127.0.0.1:${a2}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^pilot_xds ${COUNT}$`, 'm'));

    fleet.stop();
    const summary = await run;
    expect(summary.agents).toMatchObject({ target: COUNT, connected: COUNT, failed: 0, lost: 0 });
    // Every agent's stream broke once, and attempts against the dead port failed and backed off.
    const e = summary.counters.errors;
    expect(e['stream-reset'] + e['stream-closed']).toBeGreaterThanOrEqual(COUNT);
    expect(e['connect-failed'] + e['connect-timeout']).toBeGreaterThan(0);
    expect(summary.counters.connects).toBeGreaterThanOrEqual(2 * COUNT);
    process.stderr.write(`server-kill: converged ${convergedS.toFixed(1)} s after restart; errors ${JSON.stringify(e)}\n`);
    second.proc.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});
