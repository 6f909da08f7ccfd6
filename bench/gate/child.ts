// One measuring process of the gate (spawned by bench/gate.ts): builds the fixtures, samples
// every workload interleaved, prints one JSON line. Several fresh processes per gate run, so the
// result does not hinge on one process's heap layout or hash seed.
import { sample, type SamplerOptions } from './sampler.js';
import { gateWorkloads } from './workloads.js';

const opts = JSON.parse(process.argv[2] ?? '{}') as SamplerOptions;
process.stdout.write(`${JSON.stringify({ samples: sample(gateWorkloads(), opts) })}\n`);
