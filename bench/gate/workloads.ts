// What the gate times. Each project workload is judged only as a ratio to reference workloads
// timed in the same rounds of the same process, never by its absolute time:
//   ref_view_N    the frozen stand-in for a view build of N endpoints (reference-workload.ts):
//                 the same mix of JS work and byte copying, so the gated ratio;
//   memcpy_N      copying the view's bytes into a fresh buffer (the floor), shown for context;
//   js_reference  fixed pure-JS work, the most sensitive to a busy CPU: the contention probe.
import { BENCH_PROXY, edsFixture, oneChangeCase, viewMesh } from '../eds.bench.js';
import { referenceView, referenceWorkload } from './reference-workload.js';
import type { Workload } from './sampler.js';

export const GATE_VIEW_SIZES = [100, 1000, 10_000] as const;
export const JS_REFERENCE = 'js_reference';

/** A timed metric: `target` over `reference`, per round; `gated` ones can fail the gate. */
export interface RatioSpec {
  readonly name: string;
  readonly target: string;
  readonly reference: string;
  readonly gated: boolean;
}

export function ratioSpecs(): RatioSpec[] {
  const out: RatioSpec[] = [];
  for (const n of GATE_VIEW_SIZES) {
    out.push({ name: `eds_view_${n} / ref_view_${n}`, target: `eds_view_${n}`, reference: `ref_view_${n}`, gated: true });
  }
  for (const n of GATE_VIEW_SIZES) {
    out.push({ name: `eds_view_${n} / memcpy_${n}`, target: `eds_view_${n}`, reference: `memcpy_${n}`, gated: false });
  }
  out.push({ name: 'eds_one_change_1000 / ref_view_1000', target: 'eds_one_change_1000', reference: 'ref_view_1000', gated: false });
  return out;
}

/** Calls per batch, sized for about 0.5 ms each on the reference machine. */
const BATCH: Record<string, number> = {
  eds_view_100: 100,
  ref_view_100: 160,
  memcpy_100: 600,
  eds_view_1000: 64,
  ref_view_1000: 100,
  memcpy_1000: 160,
  eds_view_10000: 16,
  ref_view_10000: 16,
  memcpy_10000: 20,
  eds_one_change_1000: 5,
  [JS_REFERENCE]: 30,
};

export function gateWorkloads(): Workload[] {
  const w = (name: string, fn: () => unknown): Workload => ({ name, fn, batch: BATCH[name] ?? 1 });
  const out: Workload[] = [w(JS_REFERENCE, referenceWorkload)];
  for (const n of GATE_VIEW_SIZES) {
    const { eds, cluster } = edsFixture(viewMesh(n));
    const bytes = eds.buildUncached(cluster, BENCH_PROXY)!.bytes;
    const len = bytes.length;
    out.push(w(`eds_view_${n}`, () => eds.buildUncached(cluster, BENCH_PROXY)));
    out.push(w(`ref_view_${n}`, referenceView(n)));
    out.push(
      w(`memcpy_${n}`, () => {
        const b = Buffer.allocUnsafeSlow(len);
        b.set(bytes);
        return b;
      }),
    );
  }
  const change = oneChangeCase(1000);
  out.push(w(change.name, change.fn));
  return out;
}
