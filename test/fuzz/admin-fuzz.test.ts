// Bounded CI slice of the admin fuzzer against the real `xdsim serve`: invalid YAML, bodies past
// the limit (declared and chunked), deep nesting, alias bombs, many documents, wrong content
// types, encodings and methods, odd paths and queries, oversized headers.
import { describe, expect, it } from 'vitest';
import { runFuzz, summarize } from '../../src/fuzz/run.js';

const INPUTS = Number(process.env['XDSIM_FUZZ_ADMIN_INPUTS'] ?? 1500);

describe('admin fuzz (bounded slice)', () => {
  it(`${INPUTS} bad admin requests: 4xx with reasons (never 5xx), counted, no log flood, bounded memory`, async () => {
    const report = await runFuzz({ seed: 20261124, xdsInputs: 0, adminInputs: INPUTS, heavy: 0.5, heapMb: 256, maxRssBytes: 640 * 2 ** 20 });
    console.log(summarize(report));
    expect(report.problems).toEqual([]);
    expect(report.crashes).toBe(0);
    expect(report.inputs.admin).toBe(INPUTS);
    const outcomes = report.admin!.outcomes;
    for (const status of ['400', '405', '413']) expect(outcomes[status] ?? 0, status).toBeGreaterThan(0);
    for (const k of report.logKinds) if (k.level >= 40) expect(k.count, k.key).toBeLessThanOrEqual(2);
  }, 120_000);
});
