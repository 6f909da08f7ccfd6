// The control plane and the fleet on two hosts of a real (virtual) network: `xdsim serve` in one
// network namespace, `xdsim agents` in others, joined by links with delay, loss, a rate limit or
// a partition (test/netns/netns.ts). Each test prints its figures ([netns] lines on stderr).
// Run with `npm run test:netns` (root; skipped with the reason otherwise).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkloadEntry } from '../../src/config/resources.js';
import { ANNOTATION_CONNECTED_AT, ANNOTATION_DISCONNECTED_AT } from '../../src/registration/annotations.js';
import {
  assertNoDuplicates,
  entries,
  healthOf,
  histogramQuantile,
  IDLE_CLUSTER,
  metric,
  metrics,
  say,
  sleep,
  startAgents,
  startServer,
  stop,
  waitUntil,
  type Agents,
  type Server,
} from './hosts.js';
import { Net, netnsUnavailable } from './netns.js';

const unavailable = netnsUnavailable();
if (unavailable) process.stderr.write(`[netns] skipped: ${unavailable}\n`);

let net: Net | undefined;
const running: (Server | Agents)[] = [];
beforeAll(async () => {
  if (!unavailable) net = await Net.create(2);
}, 30_000);
afterAll(() => {
  for (const p of running) if (p.proc.exitCode === null) p.proc.kill('SIGKILL');
  const n = net;
  net = undefined;
  n?.destroy();
  if (n) expect(n.leftovers()).toEqual([]);
});

async function cleanup(): Promise<void> {
  for (const p of running.splice(0)) await stop(p.proc);
  if (net) for (let k = 1; k <= net.links.length; k++) await net.shape(k, {});
}
const server = async (args: string[]) => {
  const s = await startServer(net!, args);
  running.push(s);
  return s;
};
const agents = (k: number, args: string[]) => {
  const a = startAgents(net!, k, args);
  running.push(a);
  return a;
};

const connected = (e: WorkloadEntry) => {
  const a = e.metadata.annotations ?? {};
  return a[ANNOTATION_CONNECTED_AT] !== undefined && a[ANNOTATION_DISCONNECTED_AT] === undefined;
};
const mib = (b: number | undefined) => Math.round((b ?? 0) / 1048576);

describe.skipIf(!!unavailable)('control plane and fleet in separate network namespaces', () => {
  it('60 ms RTT, 2% loss: the fleet registers, health flips converge, no NACK, no duplicate', { timeout: 120_000 }, async () => {
    const N = Number(process.env['XDSIM_NETNS_AGENTS'] ?? 1000);
    const FLAP = 0.05;
    try {
      // 30 ms +-5 ms each way and 2% loss each way.
      await net!.shape(1, { delayMs: 30, jitterMs: 5, lossPct: 2 });
      const s = await server(['--grace-period', '10s']);
      const t0 = Date.now();
      // Agents watch a small idle cluster; one observer stream per worker times visibility of the
      // VM cluster (N agents each receiving N endpoints would measure the fleet, not the link).
      const a = agents(1, ['--count', String(N), '--ramp', '250', '--duration', '45s', '--workers', '0', '--no-cds', '--clusters', IDLE_CLUSTER, '--watch', 'observer',
        '--probe-period', '1s', '--connect-timeout', '20s', '--seed', '7', '--churn', `flap:fraction=${FLAP * 100}%,period=8s,at=15s`]);
      let list: WorkloadEntry[] = [];
      const registered = await waitUntil(async () => {
        list = await entries(s);
        return list.length === N && list.every((e) => healthOf(e) === 'True') && a.progress.connected === N;
      }, 40_000, 500);
      const registeredS = (Date.now() - t0) / 1000;
      expect(registered, `entries ${list.length}, healthy ${list.filter((e) => healthOf(e) === 'True').length}, connected ${a.progress.connected}\n${a.log().slice(-1500)}`).toBe(true);
      assertNoDuplicates(list);

      // Flaps start at 15 s: count entries reported unhealthy while they run.
      let maxUnhealthy = 0;
      let samples = 0;
      while (Date.now() - t0 < 40_000) {
        list = await entries(s);
        assertNoDuplicates(list);
        expect(list.length).toBe(N);
        maxUnhealthy = Math.max(maxUnhealthy, list.filter((e) => healthOf(e) === 'False').length);
        samples++;
        await sleep(500);
      }
      const m = await metrics(s);
      const summary = await a.done;
      const conv = histogramQuantile(m, 'pilot_proxy_convergence_time', 0.99);
      const link = await net!.stats(1);
      say('60ms-2%', {
        agents: N,
        allRegisteredS: registeredS,
        flapping: Math.round(FLAP * N),
        maxUnhealthySeen: maxUnhealthy,
        edsVisibleMs: { p50: summary.latency.edsVisible.p50Ms, p99: summary.latency.edsVisible.p99Ms },
        healthConvergedMs: { n: summary.latency.healthConverged.count, p50: summary.latency.healthConverged.p50Ms, p99: summary.latency.healthConverged.p99Ms, max: summary.latency.healthConverged.maxMs },
        serverConvergenceP99S: conv.value,
        serverPushes: conv.count,
        nacks: summary.counters.nacks,
        serverRejects: metric(m, 'pilot_total_xds_rejects') ?? 0,
        agentErrors: summary.counters.errors,
        packets: link,
        serverRssMiB: mib(metric(m, 'process_resident_memory_bytes')),
      });
      expect(summary.agents).toMatchObject({ target: N, failed: 0, lost: 0 });
      expect(summary.counters.nacks).toBe(0);
      expect(maxUnhealthy).toBeGreaterThan(0);
      expect(maxUnhealthy).toBeLessThanOrEqual(Math.round(FLAP * N));
      expect(summary.latency.healthConverged.count).toBeGreaterThanOrEqual(Math.round(FLAP * N));
      // Generous: a probe period plus debounce plus a few RTTs and retransmissions on a busy box.
      expect(summary.latency.healthConverged.p99Ms).toBeLessThan(10_000);
      expect(link.down.lost + link.up.lost).toBeGreaterThan(0);
    } finally {
      await cleanup();
    }
  });
});
