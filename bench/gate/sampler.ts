// Interleaved sampling for the perf gate. Every round times each workload in several short
// batches, rotating the order, so the workload under test and its references share the same
// moments of machine noise; the round keeps each workload's fastest batch (min-of-K: a batch hit
// by preemption or a GC pause is only ever slower). Process CPU time, not wall time: time spent
// descheduled on a busy machine is not the code's.
//
// Warm-up and batch sizes are call counts, not durations: with V8 on one thread (the gate runs its
// measuring processes with --single-threaded) every process then makes the same JIT decisions at
// the same points, instead of ones that depend on how busy the machine was during warm-up.

export interface Workload {
  readonly name: string;
  readonly fn: () => unknown;
  /** Calls per timed batch (about half a millisecond on the reference machine). */
  readonly batch: number;
}

export interface SamplerOptions {
  /** Rounds: one sample per workload each. */
  rounds: number;
  /** Batches per workload per round; the round keeps the fastest. */
  batches: number;
  /** Untimed calls per workload before the first round. */
  warmupCalls: number;
}

export interface WorkloadSamples {
  /** Per round: the fastest batch's CPU time per call (ns). */
  cpuNs: number[];
}

// Results land here so the JIT cannot drop calls whose value is unused.
let sink: unknown;
/** Reads the sink, so it stays observable from outside the module. */
export function blackhole(): unknown {
  return sink;
}

/** Process CPU time (µs); with --single-threaded V8 that is this thread's. */
function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

export function sample(workloads: readonly Workload[], opts: SamplerOptions): Record<string, WorkloadSamples> {
  const out: Record<string, WorkloadSamples> = {};
  for (const w of workloads) {
    for (let i = 0; i < opts.warmupCalls; i++) sink = w.fn();
    out[w.name] = { cpuNs: [] };
  }
  const n = workloads.length;
  const best = new Float64Array(n);
  for (let r = 0; r < opts.rounds; r++) {
    best.fill(Infinity);
    for (let k = 0; k < opts.batches; k++) {
      for (let j = 0; j < n; j++) {
        // Rotate the order so no workload always runs right after the same neighbour.
        const i = (j + k + r) % n;
        const w = workloads[i]!;
        const iters = w.batch;
        const fn = w.fn;
        const c0 = cpuMicros();
        for (let c = 0; c < iters; c++) sink = fn();
        const ns = ((cpuMicros() - c0) * 1e3) / iters;
        if (ns < best[i]!) best[i] = ns;
      }
    }
    for (let i = 0; i < n; i++) out[workloads[i]!.name]!.cpuNs.push(best[i]!);
  }
  return out;
}
