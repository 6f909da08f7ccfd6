// The bounded CI slice of the connect storm (bench/storm.ts runs 10,000): 1,000 agents start
// within 5 s against `xdsim serve`; every one is registered exactly once, nothing is left after the
// fleet stops and the grace period passes, and the server's event-loop delay is reported.
import { describe, expect, it } from 'vitest';
import { runStorm } from '../../bench/storm.js';

describe('connect storm (CI size)', () => {
  it('1,000 agents within 5 s: all registered, none duplicated, none leaked', { timeout: 150_000 }, async () => {
    const r = await runStorm({ count: 1_000, windowMs: 5_000, workers: 0, graceMs: 2_000, probePeriodMs: 10_000, convergeBoundMs: 90_000 });
    process.stderr.write(
      `storm: registered in ${r.allRegisteredS} s, gone ${r.entriesGoneS} s after stop; event loop p50/p99/max ${r.eventLoopDelayMs.p50}/${r.eventLoopDelayMs.p99}/${r.eventLoopDelayMs.max} ms; server peak RSS ${((r.memory.serverPeakRssBytes ?? 0) / 1048576).toFixed(0)} MiB\n`,
    );
    expect(r.agents).toMatchObject({ target: 1_000, started: 1_000, connected: 1_000, registered: 1_000, failed: 0, lost: 0 });
    expect(r.allRegisteredS).not.toBeNull();
    expect(r.entries).toMatchObject({ count: 1_000, healthy: 1_000, duplicated: 0 });
    expect(r.leaked).toBe(0);
    const { p50, p99, max } = r.eventLoopDelayMs;
    expect(p50).not.toBeNull();
    expect(p99!).toBeGreaterThanOrEqual(p50!);
    expect(max!).toBeGreaterThanOrEqual(p99!);
    expect(max!).toBeGreaterThan(0);
  });
});
