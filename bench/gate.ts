// `npm run bench:gate`: the CI perf gate (docs/perf-gate.md). Compares a fresh measurement with
// the committed bench/baseline.json and exits 1 on a regression, printing a table either way.
//
//   npm run bench:gate                    # compare (exit 0 pass, 1 regression, 2 unusable baseline)
//   npm run bench:gate -- --update        # re-record bench/baseline.json on purpose
//   options: --processes N --rounds N --baseline FILE --json FILE
//
// Timings are never compared as absolute times: each is a ratio to a frozen reference workload
// timed in the same rounds of the same process, sampled in several fresh processes; counts
// (encodes per change, bytes per view, views built per push) must match exactly.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { GATE_FORMAT, BaselineError, readBaseline, writeBaseline, type Baseline } from './gate/baseline.js';
import { compareCounts, compareTimed, DEFAULT_SETTINGS, gateFails, quietProcesses, summarize, type ProcessSamples } from './gate/compare.js';
import { measureCounts } from './gate/counts.js';
import { REFERENCE_WORKLOAD_VERSION } from './gate/reference-workload.js';
import { countTable, samplingLine, timedTable } from './gate/report.js';
import type { SamplerOptions } from './gate/sampler.js';
import { ratioSpecs } from './gate/workloads.js';

const BASELINE = fileURLToPath(new URL('./baseline.json', import.meta.url));
const CHILD = fileURLToPath(new URL('./gate/child.ts', import.meta.url));
/** The whole run stays under this, extra processes included (the gate must fit a CI step). */
const BUDGET_MS = 150_000;

interface Options {
  update: boolean;
  /** Measuring processes (more for --update: every later run is judged against the baseline's spread). */
  processes: number;
  /** Extra processes allowed when too few had quiet rounds. */
  extraProcesses: number;
  baseline: string;
  json: string | undefined;
  sampler: SamplerOptions;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = {
    update: false,
    processes: 0,
    extraProcesses: 6,
    baseline: BASELINE,
    json: undefined,
    sampler: { rounds: 24, batches: 6, warmupCalls: 1000 },
  };
  const int = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) usage(`${flag}: expected an integer >= ${min}, got ${v ?? 'nothing'}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--update') o.update = true;
    else if (a === '--processes') o.processes = int(a, argv[++i], 3);
    else if (a === '--rounds') o.sampler.rounds = int(a, argv[++i], 8);
    else if (a === '--baseline') o.baseline = argv[++i] ?? usage(`${a}: expected a file`);
    else if (a === '--json') o.json = argv[++i] ?? usage(`${a}: expected a file`);
    else if (a === '--help' || a === '-h') usage();
    else usage(`unknown argument: ${a}`);
  }
  if (o.processes === 0) o.processes = o.update ? 24 : 12;
  return o;
}

function usage(problem?: string): never {
  if (problem) console.error(`bench:gate: ${problem}`);
  console.error('usage: npm run bench:gate [-- --update] [--processes N] [--rounds N] [--baseline FILE] [--json FILE]');
  process.exit(2);
}

/** One measuring process: fresh V8 on one thread (see sampler.ts), tsx's loader carried over. */
function runChild(sampler: SamplerOptions): Promise<ProcessSamples> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--single-threaded', ...process.execArgv, CHILD, JSON.stringify(sampler)],
      { encoding: 'utf8', maxBuffer: 1 << 26, timeout: 90_000 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`measuring process failed: ${err.message}\n${stderr}`));
        try {
          resolve((JSON.parse(stdout.trim().split('\n').pop()!) as { samples: ProcessSamples }).samples);
        } catch (e) {
          reject(new Error(`measuring process printed no result: ${(e as Error).message}\n${stderr}`));
        }
      },
    );
  });
}

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const elapsed = () => ((performance.now() - t0) / 1000).toFixed(0);
  let baseline: Baseline | undefined;
  if (!o.update) {
    try {
      baseline = readBaseline(o.baseline);
    } catch (err) {
      if (err instanceof BaselineError) {
        console.error(`bench:gate: ${err.message}`);
        return 2;
      }
      throw err;
    }
  }
  if (process.env['XDSIM_INJECT_VIEW_SLOWDOWN']) console.log(`note: XDSIM_INJECT_VIEW_SLOWDOWN=${process.env['XDSIM_INJECT_VIEW_SLOWDOWN']} (test hook: view builds slowed on purpose)`);

  const counts = await measureCounts();
  // Processes run one after another: on two cores, two at once would only measure each other.
  const processes: ProcessSamples[] = [];
  const settings = DEFAULT_SETTINGS;
  const planned = o.processes;
  for (let i = 0; ; i++) {
    const enough = i >= planned && (quietProcesses(processes, settings) >= settings.minQuietProcesses || i >= planned + o.extraProcesses);
    if (enough || (i >= planned && performance.now() - t0 > BUDGET_MS)) break;
    processes.push(await runChild(o.sampler));
    const extra = i >= planned ? ' (extra: too few quiet rounds so far)' : '';
    console.log(`measuring process ${i + 1}/${planned} done at ${elapsed()} s${extra}`);
  }

  const specs = ratioSpecs();
  const run = summarize(processes, specs, settings);

  if (o.update) {
    const next: Baseline = {
      format: GATE_FORMAT,
      referenceWorkloadVersion: REFERENCE_WORKLOAD_VERSION,
      createdAt: new Date().toISOString(),
      env: { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '', loadAverage: os.loadavg().map((x) => +x.toFixed(2)) },
      sampler: o.sampler,
      settings,
      rounds: run.rounds,
      contended: run.contended,
      timed: Object.fromEntries(specs.map((s) => [s.name, { gated: s.gated, ...run.timed[s.name]! }])),
      counts,
    };
    writeBaseline(o.baseline, next);
    // Shown against itself so the table reads the same as a comparison.
    console.log(timedTable(specs.map((s) => compareTimed(s.name, s.gated, run.timed[s.name]!.perProcess, run.timed[s.name]!.perProcess, settings))));
    console.log(countTable(compareCounts(counts, counts)));
    console.log(samplingLine(run, settings));
    if (run.contended) console.log('warning: recorded under contention; re-run --update on a quieter machine if the gate then reports "faster"');
    console.log(`baseline written to ${o.baseline} in ${elapsed()} s: review and commit it with the change that explains it`);
    return 0;
  }

  const b = baseline!;
  const timed = specs.map((s) => compareTimed(s.name, s.gated, b.timed[s.name]?.perProcess ?? [], run.timed[s.name]?.perProcess ?? [], settings));
  const countRows = compareCounts(b.counts, counts);
  const fail = gateFails(timed, countRows);
  console.log(timedTable(timed));
  console.log(countTable(countRows));
  console.log(samplingLine(run, settings));
  if (b.env.node !== process.version) console.log(`note: baseline recorded on Node ${b.env.node}, this is ${process.version}; ratios can move with V8`);
  if (o.json) writeFileSync(o.json, `${JSON.stringify({ pass: !fail, seconds: +elapsed(), timed, counts: countRows, run }, null, 2)}\n`);
  if (fail) {
    const why = [
      ...timed.filter((t) => t.verdict === 'regression').map((t) => `${t.name} ${(t.shift * 100).toFixed(1)}% slower`),
      ...timed.filter((t) => t.gated && t.verdict === 'missing').map((t) => `${t.name} not measured`),
      ...countRows.filter((c) => c.verdict === 'mismatch' || c.verdict === 'missing').map((c) => `${c.name} ${c.baseline} -> ${c.current ?? 'missing'}`),
    ];
    console.log(`perf gate: FAIL in ${elapsed()} s: ${why.join('; ')}`);
    console.log('if the change is intended, re-record with `npm run bench:gate -- --update` and commit bench/baseline.json (docs/perf-gate.md)');
    return 1;
  }
  console.log(`perf gate: PASS in ${elapsed()} s`);
  return 0;
}

process.exitCode = await main();
