// bench/baseline.json: what the gate compares against, committed and updated only on purpose
// (`npm run bench:gate -- --update`). It records the per-process ratios (the distribution the
// test needs, not just a number), the exact counts, and what would make them incomparable.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { GateSettings, RunSummary } from './compare.js';
import { REFERENCE_WORKLOAD_VERSION } from './reference-workload.js';
import type { SamplerOptions } from './sampler.js';

/** Bumped when what the gate measures or how it summarizes changes: old baselines then refuse. */
export const GATE_FORMAT = 1;

export interface Baseline {
  format: number;
  referenceWorkloadVersion: number;
  createdAt: string;
  env: { node: string; cpus: number; cpuModel: string; loadAverage: number[] };
  sampler: SamplerOptions;
  settings: GateSettings;
  rounds: RunSummary['rounds'];
  contended: boolean;
  timed: Record<string, { gated: boolean; ratio: number; perProcess: number[] }>;
  counts: Record<string, number>;
}

export class BaselineError extends Error {}

export function readBaseline(file: string): Baseline {
  if (!existsSync(file)) throw new BaselineError(`no baseline at ${file}: record one with \`npm run bench:gate -- --update\``);
  let b: Baseline;
  try {
    b = JSON.parse(readFileSync(file, 'utf8')) as Baseline;
  } catch (err) {
    throw new BaselineError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  if (b.format !== GATE_FORMAT) throw new BaselineError(`${file}: gate format ${b.format}, this gate writes ${GATE_FORMAT}: re-record it with --update`);
  if (b.referenceWorkloadVersion !== REFERENCE_WORKLOAD_VERSION) {
    throw new BaselineError(`${file}: recorded with reference workload v${b.referenceWorkloadVersion}, this is v${REFERENCE_WORKLOAD_VERSION}: re-record it with --update`);
  }
  if (!b.timed || !b.counts) throw new BaselineError(`${file}: missing "timed" or "counts"`);
  return b;
}

export function writeBaseline(file: string, b: Baseline): void {
  // Ratios rounded: the file is diffed in review, and 5 significant digits is far below the noise.
  const round = (x: number) => Number(x.toPrecision(5));
  const timed = Object.fromEntries(Object.entries(b.timed).map(([k, v]) => [k, { gated: v.gated, ratio: round(v.ratio), perProcess: v.perProcess.map(round) }]));
  writeFileSync(file, `${JSON.stringify({ ...b, timed }, null, 2)}\n`);
}
