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
  removeTempDirs,
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
// CI on a box that can make namespaces sets XDSIM_REQUIRE_NETNS=1: there a skip is a failure.
if (unavailable && process.env['XDSIM_REQUIRE_NETNS'] === '1') throw new Error(`XDSIM_REQUIRE_NETNS=1 but ${unavailable}`);
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
  removeTempDirs();
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

  it('partitions shorter and longer than the grace period: entries survive, then go and come back exactly once', { timeout: 150_000 }, async () => {
    const N = 200;
    const GRACE_S = 8;
    const CLEANUP_PER_S = 20;
    try {
      await net!.shape(1, { delayMs: 30 });
      // Keepalive on both sides (1 s + 2 s) so both notice a black hole; pings every second are
      // allowed by --min-ping-interval.
      const s = await server(['--grace-period', `${GRACE_S}s`, '--cleanup-rate', String(CLEANUP_PER_S), '--keepalive-time', '1s', '--keepalive-timeout', '2s', '--min-ping-interval', '500ms']);
      const a = agents(1, ['--count', String(N), '--ramp', '200', '--duration', '120s', '--workers', '0', '--no-cds', '--clusters', IDLE_CLUSTER, '--watch', 'observer',
        '--probe-period', '1s', '--keepalive', '1s', '--keepalive-timeout', '2s', '--connect-timeout', '3s', '--backoff-max', '2s', '--max-attempts', '500', '--seed', '3']);
      let list: WorkloadEntry[] = [];
      const allBack = async () => {
        list = await entries(s);
        return list.length === N && list.every((e) => connected(e) && healthOf(e) === 'True') && a.progress.connected === N;
      };
      expect(await waitUntil(allBack, 30_000), `entries ${list.length}, connected ${a.progress.connected}`).toBe(true);
      assertNoDuplicates(list);
      const names = list.map((e) => e.metadata.name).sort();
      const connectedAt = new Map(list.map((e) => [e.metadata.name, e.metadata.annotations?.[ANNOTATION_CONNECTED_AT]]));

      // Short: 4 s, both directions black-holed.
      const SHORT_MS = 4_000;
      let minCount = N;
      let maxAway = 0;
      let minConnected = N;
      const short = net!.partition(1, 'both', SHORT_MS, { delayMs: 30 });
      const shortEnd = Date.now() + SHORT_MS;
      while (Date.now() < shortEnd) {
        list = await entries(s);
        minCount = Math.min(minCount, list.length);
        maxAway = Math.max(maxAway, list.filter((e) => !connected(e)).length);
        minConnected = Math.min(minConnected, a.progress.connected);
        await sleep(250);
      }
      await short;
      const healed = Date.now();
      expect(await waitUntil(allBack, 30_000, 250), `entries ${list.length}, connected ${a.progress.connected}`).toBe(true);
      const resumeS = (Date.now() - healed) / 1000;
      assertNoDuplicates(list);
      expect(list.map((e) => e.metadata.name).sort()).toEqual(names);
      const reconnected = list.filter((e) => e.metadata.annotations?.[ANNOTATION_CONNECTED_AT] !== connectedAt.get(e.metadata.name)).length;
      say('partition-short', { agents: N, graceS: GRACE_S, partitionS: SHORT_MS / 1000, minEntries: minCount, maxEntriesMarkedDisconnected: maxAway, minAgentsConnected: minConnected, allBackAfterHealS: resumeS, entriesReconnected: reconnected });
      expect(minCount).toBe(N);

      // Long: until every entry is gone (keepalive notice + grace + N deletions at the cleanup rate).
      const expectGoneS = 3 + GRACE_S + N / CLEANUP_PER_S;
      const cut = Date.now();
      await net!.shapeDir(1, 'both', { lossPct: 100 });
      let goneS = NaN;
      try {
        const gone = await waitUntil(async () => (list = await entries(s)).length === 0, (expectGoneS + 20) * 1000, 250);
        goneS = (Date.now() - cut) / 1000;
        expect(gone, `entries left: ${list.length}`).toBe(true);
      } finally {
        await net!.shape(1, { delayMs: 30 });
      }
      const healed2 = Date.now();
      let maxCount = 0;
      const back = await waitUntil(async () => {
        const ok = await allBack();
        assertNoDuplicates(list);
        maxCount = Math.max(maxCount, list.length);
        return ok;
      }, 40_000, 250);
      const backS = (Date.now() - healed2) / 1000;
      expect(back, `entries ${list.length}, connected ${a.progress.connected}`).toBe(true);
      // And nothing more turns up afterwards.
      await sleep(3_000);
      list = await entries(s);
      assertNoDuplicates(list);
      maxCount = Math.max(maxCount, list.length);
      const summary = await (async () => {
        await stop(a.proc);
        return a.done;
      })();
      say('partition-long', { agents: N, graceS: GRACE_S, cleanupPerS: CLEANUP_PER_S, allGoneAfterS: goneS, expectedGoneS: expectGoneS, allBackAfterHealS: backS, maxEntriesSeen: maxCount, fleetConnects: summary.counters.connects, agentErrors: summary.counters.errors });
      expect(list.map((e) => e.metadata.name).sort()).toEqual(names);
      expect(maxCount).toBe(N);
      // Connects: the first, one after each partition, and no storm: at most 10% extra.
      expect(summary.counters.connects).toBeLessThanOrEqual(Math.ceil(3 * N * 1.1));
      expect(summary.agents.failed).toBe(0);
      // Deletions are paced: not sooner than grace + N at the cleanup rate allows.
      expect(goneS).toBeGreaterThanOrEqual(GRACE_S + N / CLEANUP_PER_S - 1);
    } finally {
      await cleanup();
    }
  });

  it('one-way partition (server -> fleet dropped): keepalive notices on both sides, nothing half-open stays connected', { timeout: 120_000 }, async () => {
    const N = 100;
    const KA_S = 1;
    const KA_TIMEOUT_S = 2;
    try {
      await net!.shape(1, { delayMs: 30 });
      // A grace period longer than the test: entries must show the disconnect, not vanish.
      const s = await server(['--grace-period', '60s', '--keepalive-time', `${KA_S}s`, '--keepalive-timeout', `${KA_TIMEOUT_S}s`, '--min-ping-interval', '500ms']);
      const a = agents(1, ['--count', String(N), '--ramp', '200', '--duration', '90s', '--workers', '0', '--no-cds', '--clusters', IDLE_CLUSTER, '--watch', 'observer',
        '--probe-period', '1s', '--keepalive', `${KA_S}s`, '--keepalive-timeout', `${KA_TIMEOUT_S}s`, '--connect-timeout', '3s', '--backoff-max', '2s', '--max-attempts', '500', '--seed', '5']);
      let list: WorkloadEntry[] = [];
      const allBack = async () => {
        list = await entries(s);
        return list.length === N && list.every((e) => connected(e)) && a.progress.connected === N && (metric(await metrics(s), 'pilot_xds') ?? 0) >= N; // the observer stream counts too
      };
      expect(await waitUntil(allBack, 30_000), `entries ${list.length}, connected ${a.progress.connected}`).toBe(true);

      const HOLD_MS = 12_000;
      const cut = Date.now();
      await net!.shapeDir(1, 'down', { lossPct: 100 });
      let agentsNoticedS = NaN;
      let serverNoticedS = NaN;
      let halfOpen = 0;
      let stillConnectedEntries = 0;
      try {
        while (Date.now() - cut < HOLD_MS) {
          const t = (Date.now() - cut) / 1000;
          const xds = metric(await metrics(s), 'pilot_xds') ?? -1;
          if (Number.isNaN(agentsNoticedS) && a.progress.connected === 0 && a.progress.at > cut) agentsNoticedS = t;
          if (Number.isNaN(serverNoticedS) && xds === 0) serverNoticedS = t;
          // Once the server has noticed, nothing may come back as connected while the path is cut.
          if (!Number.isNaN(serverNoticedS)) {
            halfOpen = Math.max(halfOpen, xds);
            list = await entries(s);
            stillConnectedEntries = Math.max(stillConnectedEntries, list.filter(connected).length);
          }
          await sleep(100);
        }
      } finally {
        await net!.shape(1, { delayMs: 30 });
      }
      const healed = Date.now();
      const back = await waitUntil(allBack, 30_000, 250);
      const backS = (Date.now() - healed) / 1000;
      say('one-way', { agents: N, keepaliveS: KA_S, keepaliveTimeoutS: KA_TIMEOUT_S, agentsAllDisconnectedAfterS: agentsNoticedS, serverAllDisconnectedAfterS: serverNoticedS, maxServerStreamsAfterNotice: halfOpen, maxEntriesConnectedAfterNotice: stillConnectedEntries, allBackAfterHealS: backS });
      // Bound: interval + timeout, plus 3 s for progress/metric polling and a busy box.
      const bound = KA_S + KA_TIMEOUT_S + 3;
      expect(agentsNoticedS).toBeLessThanOrEqual(bound);
      expect(serverNoticedS).toBeLessThanOrEqual(bound);
      expect(halfOpen).toBe(0);
      expect(stillConnectedEntries).toBe(0);
      expect(back, `entries ${list.length}, connected ${a.progress.connected}`).toBe(true);
      assertNoDuplicates(list);
      expect(list.length).toBe(N);
    } finally {
      await cleanup();
    }
  });

  it('a 1 Mbit/s link to some agents does not hold back the others, and server memory stays bounded', { timeout: 180_000 }, async () => {
    const FAST = 300;
    const SLOW = 50;
    const FLAP = 0.1;
    const RATE = 1_000_000;
    try {
      await net!.shape(1, { delayMs: 30 });
      await net!.shape(2, { delayMs: 30, rateBps: RATE });
      const s = await server(['--grace-period', '5s']);
      let peakRss = 0;
      const rssSamples: number[] = [];
      const sampler = setInterval(() => {
        metrics(s)
          .then((m) => {
            const r = metric(m, 'process_resident_memory_bytes') ?? 0;
            rssSamples.push(r);
            peakRss = Math.max(peakRss, r);
          })
          .catch(() => undefined);
      }, 1_000);
      // Fast agents watch the idle cluster; their observer times visibility and health of the VM
      // cluster. The flapping fast agents change the VM cluster every few seconds.
      const fastArgs = (seed: string) => ['--count', String(FAST), '--ramp', '300', '--duration', '30s', '--workers', '0', '--no-cds', '--clusters', IDLE_CLUSTER, '--watch', 'observer',
        '--probe-period', '1s', '--seed', seed, '--churn', `flap:fraction=${FLAP * 100}%,period=6s,at=5s`];
      try {
        // Baseline: the fast fleet alone.
        const base = await agents(1, fastArgs('11')).done;
        const basePeak = peakRss;
        await waitUntil(async () => (await entries(s)).length === 0, 30_000, 500);

        // The slow fleet subscribes to everything (CDS, every EDS cluster, the VM cluster with all
        // 350 endpoints): each of its agents gets every push over the 1 Mbit/s link.
        const slow = agents(2, ['--count', String(SLOW), '--ramp', '50', '--duration', '55s', '--workers', '0', '--ip-base', '10.201.0.0', '--name-prefix', 'slow',
          '--probe-period', '1s', '--connect-timeout', '30s', '--seed', '12']);
        expect(await waitUntil(() => slow.progress.connected === SLOW, 30_000), `slow connected ${slow.progress.connected}\n${slow.log().slice(-1500)}`).toBe(true);
        const withSlow = await agents(1, fastArgs('11')).done;
        const list = await entries(s);
        assertNoDuplicates(list);
        const slowSummary = await slow.done;
        const link = await net!.stats(2);
        say('slow-link', {
          fastAgents: FAST,
          slowAgents: SLOW,
          slowLinkBps: RATE,
          fastHealthConvergedMs: {
            alone: { n: base.latency.healthConverged.count, p50: base.latency.healthConverged.p50Ms, p99: base.latency.healthConverged.p99Ms },
            withSlow: { n: withSlow.latency.healthConverged.count, p50: withSlow.latency.healthConverged.p50Ms, p99: withSlow.latency.healthConverged.p99Ms },
          },
          slow: {
            connected: slowSummary.agents.connected,
            edsVisibleP99Ms: slowSummary.latency.edsVisible.p99Ms,
            pushGapP99Ms: slowSummary.latency.push.p99Ms,
            receivedMiB: +(slowSummary.bytes.received / 1048576).toFixed(1),
            errors: slowSummary.counters.errors,
          },
          slowLinkPackets: link,
          serverRssMiB: { peakFastAlone: mib(basePeak), peak: mib(peakRss), last: mib(rssSamples.at(-1)) },
        });
        expect(withSlow.agents).toMatchObject({ target: FAST, failed: 0, lost: 0 });
        expect(withSlow.counters.nacks + slowSummary.counters.nacks).toBe(0);
        expect(withSlow.latency.healthConverged.count).toBeGreaterThanOrEqual(Math.round(FLAP * FAST));
        // Stated bound: the slow link may cost the fast agents at most 2x their p99 alone + 1 s.
        expect(withSlow.latency.healthConverged.p99Ms).toBeLessThanOrEqual(2 * base.latency.healthConverged.p99Ms + 1_000);
        // Memory: pushes queued for slow agents must not pile up; at most 150 MiB over the baseline peak.
        expect(peakRss).toBeLessThanOrEqual(basePeak + 150 * 1048576);
        expect(slowSummary.agents.failed).toBe(0);
      } finally {
        clearInterval(sampler);
      }
    } finally {
      await cleanup();
    }
  });
});
