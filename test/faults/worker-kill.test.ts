// A fleet worker thread dies hard mid-run (terminated from outside, as kill -9 would a process):
// the other worker's agents go on undisturbed, the dead worker's connections close so the server
// expires their entries after the grace period, and the summary reports those agents as lost.
import { afterEach, describe, expect, it } from 'vitest';
import { agentIdentity, fleetConfig, workerIndexes } from '../../src/fleet/config.js';
import { Fleet, type FleetProgress } from '../../src/fleet/fleet.js';
import { startTestServer, type TestServer } from '../fleet/helpers.js';
import { GROUP, LABELS, NS, sleep, waitUntil } from './helpers.js';

const COUNT = 200;

let server: TestServer | undefined;
let fleet: Fleet | undefined;
afterEach(async () => {
  fleet?.stop();
  fleet = undefined;
  await server?.close();
  server = undefined;
});

describe('fleet worker killed', () => {
  it('the other worker goes on and the summary reports the lost agents', { timeout: 60_000 }, async () => {
    // No probe: an entry is in EDS as soon as it exists, so the test is about connections only.
    server = await startTestServer({ groups: [{ name: GROUP, namespace: NS, labels: LABELS, probe: false }], gracePeriodMs: 1_000 });
    const config = fleetConfig({
      xds: server.target,
      count: COUNT,
      namespace: NS,
      group: GROUP,
      labels: LABELS,
      durationMs: 40_000,
      workers: 2,
      probe: null,
      progressIntervalMs: 100,
    });
    const ipsOf = (w: number) => new Set(workerIndexes({ start: 0, end: COUNT }, 2, w).map((i) => agentIdentity(config, i, 0).ip));
    const survivors = ipsOf(0);
    let last: FleetProgress | undefined;
    fleet = new Fleet(config);
    const run = fleet.run({ onProgress: (p) => (last = p) });
    const s = server;
    const up = await waitUntil(() => last?.connected === COUNT && s.entries(NS).length === COUNT && s.cp.xds.connections.size === COUNT, 30_000, 50);
    expect(up, `connected ${last?.connected}, entries ${s.entries(NS).length}`).toBe(true);

    expect(await fleet.killWorker(1)).toBe(true);
    // Its connections die with the thread; its entries go after the grace period.
    const gone = await waitUntil(() => s.cp.xds.connections.size === COUNT / 2 && s.entries(NS).length === COUNT / 2, 10_000, 50);
    expect(gone, `server connections ${s.cp.xds.connections.size}, entries ${s.entries(NS).length}`).toBe(true);
    expect(s.entries(NS).every((e) => survivors.has(e.spec.address ?? ''))).toBe(true);
    expect(last?.connected).toBe(COUNT / 2);

    // The survivor goes on: still connected a while later, and still answers a churn command.
    fleet.churn({ kind: 'storm', atMs: 0, fraction: 1, downMs: 0 });
    await sleep(1_500);
    expect(await waitUntil(() => last?.connected === COUNT / 2 && s.cp.xds.connections.size === COUNT / 2, 10_000, 50)).toBe(true);
    expect(s.entries(NS).length).toBe(COUNT / 2);

    fleet.stop();
    const summary = await run;
    expect(summary.agents).toMatchObject({ target: COUNT, connected: COUNT / 2, registered: COUNT / 2, lost: COUNT / 2, failed: 0 });
    expect(summary.counters.churn.storm).toBe(COUNT / 2);
    expect(summary.errorSamples.some((e) => /worker 1 died .*100 agents are lost/.test(e.detail))).toBe(true);
    expect(summary.memory.workers.map((w) => w.worker).sort()).toEqual([0, 1]);
  });
});
