// One measuring process of the gate (spawned by bench/gate.ts): builds the fixtures, samples
// every workload interleaved, prints one JSON line. Several fresh processes per gate run, so the
// result does not hinge on one process's heap layout or hash seed.
import { sample, type SamplerOptions } from './sampler.js';
import { gateWorkloads } from './workloads.js';

const opts = JSON.parse(process.argv[2] ?? '{}') as SamplerOptions & { only?: string };
const only = opts.only ? new RegExp(opts.only) : undefined;
const t0 = performance.now();
const workloads = gateWorkloads().filter((w) => !only || only.test(w.name));
const t1 = performance.now();
const samples = sample(workloads, opts);
const t2 = performance.now();
process.stdout.write(`${JSON.stringify({ samples, setupMs: t1 - t0, sampleMs: t2 - t1 })}\n`);
