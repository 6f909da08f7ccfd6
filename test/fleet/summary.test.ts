import { describe, expect, it } from 'vitest';
import { fleetConfig } from '../../src/fleet/config.js';
import { encodeHistogram, newHistogram, recordMs } from '../../src/fleet/histogram.js';
import type { RunnerResult } from '../../src/fleet/runner.js';
import { emptyCounters } from '../../src/fleet/stats.js';
import { buildSummary, isFleetSummary, mergeSummaries } from '../../src/fleet/summary.js';

function result(worker: number, agents: number, connectMs: number[]): RunnerResult {
  const h = newHistogram();
  for (const v of connectMs) recordMs(h, v);
  const counters = emptyCounters();
  counters.connects = connectMs.length;
  counters.errors['connect-failed'] = worker;
  counters.bytesReceived = 1000 * agents;
  const empty = encodeHistogram(newHistogram());
  return {
    worker,
    progress: { worker, target: agents, started: agents, connected: agents - 1, visible: agents - 2, failed: 0, errors: worker, bytesReceived: 1000 * agents },
    counters,
    histograms: { connect: encodeHistogram(h), edsVisible: empty, push: empty, healthConverged: empty },
    errorSamples: [],
    bytesSent: 10 * agents,
    memory: { rssBytes: 0, heapUsedBytes: 1, externalBytes: 2 },
    elapsedMs: 1000 + worker,
  };
}

describe('fleet summary', () => {
  const shard = (index: number, results: RunnerResult[]) => buildSummary(fleetConfig({ xds: 'h:1', count: 100, shardIndex: index, shardCount: 2 }), results, Date.UTC(2026, 0, 1, 0, 0, index));

  it('one shard: counts add over workers, histograms merge', () => {
    const s = shard(0, [result(0, 30, [1, 2, 3]), result(1, 20, [100])]);
    expect(isFleetSummary(s)).toBe(true);
    expect(s.agents).toEqual({ target: 50, started: 50, connected: 48, registered: 46, failed: 0, errors: 1, lost: 0 });
    expect(s.latency.connect.count).toBe(4);
    expect(s.latency.connect.maxMs).toBeCloseTo(100, 0);
    expect(s.bytes).toEqual({ received: 50_000, sent: 500 });
    expect(s.memory.workers.map((w) => w.worker)).toEqual([0, 1]);
  });

  it('shards merge: counts add, percentiles from the merged histograms, JSON round trip safe', () => {
    const a = shard(0, [result(0, 50, Array.from({ length: 99 }, () => 5))]);
    const b = shard(1, [result(1, 50, [500])]);
    const m = mergeSummaries([JSON.parse(JSON.stringify(b)), JSON.parse(JSON.stringify(a))]);
    expect(m.shards).toEqual([{ index: 0, count: 2 }, { index: 1, count: 2 }]);
    expect(m.agents.target).toBe(100);
    expect(m.latency.connect.count).toBe(100);
    expect(m.latency.connect.p50Ms).toBeCloseTo(5, 1);
    expect(m.latency.connect.maxMs).toBeCloseTo(500, -1);
    expect(m.counters.errors['connect-failed']).toBe(1);
    expect(m.startedAt).toBe(a.startedAt);
    // Merging is associative: merged summaries merge again.
    expect(mergeSummaries([m]).agents).toEqual(m.agents);
  });

  it('refuses what is not a fleet summary', () => {
    expect(() => mergeSummaries([])).toThrow(/nothing/);
    expect(() => mergeSummaries([{ kind: 'other' } as never])).toThrow(/not an xdsim fleet summary/);
    const s = shard(0, [result(0, 1, [1])]);
    expect(() => mergeSummaries([{ ...s, version: 99 as never }])).toThrow(/version/);
  });
});
