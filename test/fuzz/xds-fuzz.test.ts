// Bounded CI slice of the xDS fuzzer against the real `xdsim serve` (a child process, its heap
// capped so a leak would show as a crash): random bytes as gRPC messages on ADS/delta/EDS, broken
// wire data, absurd-but-valid requests, HTTP/2 and TCP garbage. `npm run fuzz` runs long.
import { describe, expect, it } from 'vitest';
import { runFuzz, summarize } from '../../src/fuzz/run.js';

const INPUTS = Number(process.env['XDSIM_FUZZ_INPUTS'] ?? 2500);

describe('xDS fuzz (bounded slice)', () => {
  it(`${INPUTS} malformed xDS inputs: no crash, bounded memory, every refusal counted, no log flood`, async () => {
    const report = await runFuzz({ seed: 20261123, xdsInputs: INPUTS, adminInputs: 0, heavy: 0.3, heapMb: 256, maxRssBytes: 640 * 2 ** 20 });
    console.log(summarize(report));
    expect(report.problems).toEqual([]);
    expect(report.crashes).toBe(0);
    expect(report.inputs.xds).toBe(INPUTS);
    // The garbage reached the checks it was aimed at.
    for (const reason of ['malformed', 'unknown_type', 'oversized']) expect(report.xdsRejections[reason] ?? 0, reason).toBeGreaterThan(0);
    // Each rejection kind logged at most once in a run this short.
    for (const k of report.logKinds) if (k.level >= 40) expect(k.count, k.key).toBeLessThanOrEqual(2);
  }, 120_000);
});
