// Soak: the churn scenario (scenarios/soak.yaml: disconnects, IP changes, probe flaps) against
// the embedded control plane for as long as asked, its config apply/delete pair repeated all run
// long, through the scenario runner (`xdsim run`'s engine; the fleet is its child process, so this
// process is the control plane plus the runner). Every sample: RSS, V8 heap used after a full GC
// (node --expose-gc, as `npm run soak` starts it), external memory and active handles
// (process.getActiveResourcesInfo()). After the warm-up a least-squares line per figure gives the
// growth per hour; the verdict fails a figure when even slope - 2 standard errors is above its
// bound (src/soak/slope.ts). docs/soak.md has the measured runs.
//
//   npm run soak -- --duration 1h
//   npm run soak -- --duration 2m --max-heap-slope 60 --max-rss-slope 400 --max-handle-slope 2000   # the CI slice
//
// Exit 0: every slope under its bound and the scenario's expectations (no NACKs, no errors, no
// leaked entries) held; 1 otherwise. Results: bench/results/latest.json under `soak.<duration>`
// and bench/results/soak-<duration>.json.
import { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LoadedResource } from '../src/config/parse.js';
import { loadScenario } from '../src/scenario/load.js';
import type { Scenario, TimelineEvent } from '../src/scenario/model.js';
import { runScenario } from '../src/scenario/runner.js';
import { formatDuration, parseDuration } from '../src/scenario/units.js';
import { fitLine, slopeVerdict, type LinearFit } from '../src/soak/slope.js';
import { mergeIntoLatest, readLatest } from './results-file.js';

const SCENARIO = fileURLToPath(new URL('../scenarios/soak.yaml', import.meta.url));
const MiB = 1024 * 1024;

export interface SoakSample {
  tS: number;
  rssMiB: number;
  heapMiB: number;
  externalMiB: number;
  handles: number;
  connected: number;
  /** WorkloadEntries in the control plane's store (auto-registered ones come and go with the churn). */
  entries: number;
  /** The runner's phase: only `running` (the fleet churning) samples are fitted. */
  phase: string;
}

export interface SoakOptions {
  durationMs: number;
  sampleMs: number;
  warmupMs: number;
  applyEveryMs: number;
  bounds: { heapMiBPerHour: number; rssMiBPerHour: number; handlesPerHour: number };
}

/** The scenario's timeline pair (apply, delete) repeated every `everyMs` until near the end. */
export function repeatTimeline(s: Scenario, durationMs: number, everyMs: number): TimelineEvent[] {
  const [first, second] = s.timeline;
  if (!first || !second) throw new Error(`${s.file}: the soak repeats the first two timeline events; it has ${s.timeline.length}`);
  const gap = second.atMs - first.atMs;
  const out: TimelineEvent[] = [];
  let k = 0;
  // Bounded: one pair per period, none in the last 5 s (the fleet stops then).
  for (let at = first.atMs; at + gap < durationMs - 5_000 && k < 100_000; at += everyMs, k++) {
    out.push({ ...first, atMs: at, index: out.length, label: `${first.label} (#${k + 1})` });
    out.push({ ...second, atMs: at + gap, index: out.length, label: `${second.label} (#${k + 1})` });
  }
  return out;
}

function handleCount(): number {
  return process.getActiveResourcesInfo().length;
}

function handleTypes(): Record<string, number> {
  const by: Record<string, number> = {};
  for (const t of process.getActiveResourcesInfo()) by[t] = (by[t] ?? 0) + 1;
  return by;
}

export async function runSoak(opts: SoakOptions, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)) {
  const loaded = await loadScenario(SCENARIO);
  if (!loaded.scenario) throw new Error(`${SCENARIO}: ${loaded.diagnostics.map((d) => d.message).join('; ')}`);
  const s: Scenario = { ...loaded.scenario, fleet: { ...loaded.scenario.fleet, durationMs: opts.durationMs } };
  s.timeline = repeatTimeline(s, opts.durationMs, opts.applyEveryMs);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) log('soak: no global gc() (run with node --expose-gc, as npm run soak does): heap figures include garbage');

  const samples: SoakSample[] = [];
  let connected = 0;
  let phase = 'starting';
  let liveT = 0;
  let liveAt = Date.now();
  let store: { list(kind: 'WorkloadEntry'): readonly unknown[] } | undefined;
  const t0 = Date.now();
  const sample = (): void => {
    // A full collection first: heapUsed is then what is retained, not the sawtooth of garbage.
    gc?.();
    const m = process.memoryUsage();
    samples.push({
      tS: (Date.now() - t0) / 1000,
      rssMiB: m.rss / MiB,
      heapMiB: m.heapUsed / MiB,
      externalMiB: (m.external + m.arrayBuffers) / MiB,
      handles: handleCount(),
      connected,
      entries: store?.list('WorkloadEntry').length ?? 0,
      // The runner reports its phase once a second: a sample in the last second of the fleet's
      // duration may already see the teardown, so it does not count as running.
      phase: phase === 'running' && liveT + (Date.now() - liveAt) > opts.durationMs - 1_000 ? 'stopping' : phase,
    });
    const x = samples[samples.length - 1]!;
    if (samples.length % Math.max(1, Math.round(60_000 / opts.sampleMs)) === 1) {
      log(`soak ${formatDuration(x.tS * 1000)}: rss ${x.rssMiB.toFixed(1)} MiB, heap ${x.heapMiB.toFixed(1)} MiB, external ${x.externalMiB.toFixed(1)} MiB, handles ${x.handles}, connected ${x.connected}, entries ${x.entries}`);
    }
  };
  const timer = setInterval(sample, opts.sampleMs);
  let events = 0;
  let report;
  try {
    report = await runScenario(s, {
      sampleIntervalMs: 1000,
      onControlPlane: (cp) => {
        store = cp.store;
      },
      onSample: (l) => {
        connected = l.connected;
        phase = l.phase;
        liveT = l.tMs;
        liveAt = Date.now();
      },
      onEvent: () => events++,
      logLevel: 'error',
    });
  } finally {
    clearInterval(timer);
  }
  const endTypes = handleTypes();

  // Steady churn only: not the ramp-up (warm-up) and not the teardown after the fleet stops.
  const fitFrom = samples.filter((x) => x.tS * 1000 >= opts.warmupMs && x.phase === 'running');
  const hours = fitFrom.map((x) => x.tS / 3600);
  const fits: Record<'rss' | 'heap' | 'external' | 'handles', LinearFit | undefined> = { rss: undefined, heap: undefined, external: undefined, handles: undefined };
  if (fitFrom.length >= 3) {
    fits.rss = fitLine(hours, fitFrom.map((x) => x.rssMiB));
    fits.heap = fitLine(hours, fitFrom.map((x) => x.heapMiB));
    fits.external = fitLine(hours, fitFrom.map((x) => x.externalMiB));
    fits.handles = fitLine(hours, fitFrom.map((x) => x.handles));
  }
  const verdicts = fits.rss
    ? {
        heap: slopeVerdict(fits.heap!, opts.bounds.heapMiBPerHour, 'MiB/h'),
        rss: slopeVerdict(fits.rss, opts.bounds.rssMiBPerHour, 'MiB/h'),
        handles: slopeVerdict(fits.handles!, opts.bounds.handlesPerHour, 'handles/h'),
      }
    : undefined;
  const expectationsOk = report.expectations.every((e) => e.pass);
  const ok = !!verdicts && verdicts.heap.ok && verdicts.rss.ok && verdicts.handles.ok && expectationsOk;
  const peak = (k: 'rssMiB' | 'heapMiB' | 'handles') => Math.max(...samples.map((x) => x[k]));
  return {
    ok,
    durationMs: opts.durationMs,
    sampleMs: opts.sampleMs,
    warmupMs: opts.warmupMs,
    gc: !!gc,
    samples,
    fits,
    verdicts,
    bounds: opts.bounds,
    peak: { rssMiB: peak('rssMiB'), heapMiB: peak('heapMiB'), handles: peak('handles') },
    handleTypesAtEnd: endTypes,
    // The run's own record (per-second series, per-step timeline, notes) grows with the run by
    // design and sits in this heap: its JSON size says how much of a heap slope it can explain.
    reportJsonMiB: JSON.stringify(report).length / MiB,
    timelineEvents: s.timeline.length,
    eventsSeen: events,
    expectations: report.expectations.map((e) => ({ name: e.name, pass: e.pass, ...(e.detail !== undefined ? { detail: e.detail } : {}) })),
  };
}

async function main(): Promise<number> {
  const program = new Command('soak')
    .option('--duration <d>', 'how long the churn runs', '1h')
    .option('--sample <d>', 'sampling interval (default: duration / 360, within 2-10 s)')
    .option('--warmup <d>', 'samples before this are left out of the fit (default: 10% of the run, at least 30 s)')
    .option('--apply-every <d>', 'a config apply + delete this often', '10s')
    .option('--max-heap-slope <MiB/h>', 'bound on heap growth', '16')
    .option('--max-rss-slope <MiB/h>', 'bound on RSS growth', '64')
    .option('--max-handle-slope <n/h>', 'bound on active-handle growth', '100')
    .option('--json', 'print the result as JSON')
    .parse(process.argv);
  const f = program.opts<{ duration: string; sample?: string; warmup?: string; applyEvery: string; maxHeapSlope: string; maxRssSlope: string; maxHandleSlope: string; json?: boolean }>();
  const durationMs = parseDuration(f.duration);
  const opts: SoakOptions = {
    durationMs,
    sampleMs: f.sample ? parseDuration(f.sample) : Math.min(10_000, Math.max(2_000, Math.round(durationMs / 360))),
    warmupMs: f.warmup ? parseDuration(f.warmup) : Math.max(30_000, Math.round(durationMs / 10)),
    applyEveryMs: parseDuration(f.applyEvery),
    bounds: { heapMiBPerHour: Number(f.maxHeapSlope), rssMiBPerHour: Number(f.maxRssSlope), handlesPerHour: Number(f.maxHandleSlope) },
  };
  if (opts.warmupMs >= durationMs) throw new Error(`--warmup ${formatDuration(opts.warmupMs)} leaves nothing of a ${formatDuration(durationMs)} run to fit`);
  const r = await runSoak(opts);
  const result = { at: new Date().toISOString(), ...r };
  // Keyed by duration inside the soak section: a 5-minute slice does not replace the hour's figures.
  const previous = (readLatest().soak ?? {}) as Record<string, unknown>;
  mergeIntoLatest({ soak: { ...previous, [formatDuration(durationMs)]: result } });
  // Also a file of its own: latest.json is shared, and an hour's samples should not be lost to another bench's write.
  writeFileSync(fileURLToPath(new URL(`./results/soak-${formatDuration(durationMs)}.json`, import.meta.url)), `${JSON.stringify(result, null, 2)}\n`);
  if (f.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  else {
    const every = Math.max(1, Math.floor(r.samples.length / 12));
    const rows = r.samples.filter((_, i) => i % every === 0 || i === r.samples.length - 1);
    const lines = ['    t   rss MiB  heap MiB  ext MiB  handles  connected  entries'];
    for (const x of rows) lines.push(`${formatDuration(x.tS * 1000).padStart(6)}  ${x.rssMiB.toFixed(1).padStart(7)}  ${x.heapMiB.toFixed(1).padStart(8)}  ${x.externalMiB.toFixed(1).padStart(7)}  ${String(x.handles).padStart(7)}  ${String(x.connected).padStart(9)}  ${String(x.entries).padStart(7)}`);
    lines.push('');
    lines.push(`fit over ${r.fits.rss?.n ?? 0} samples from ${formatDuration(r.warmupMs)} until the fleet stopped (heap after a full GC: ${r.gc ? 'yes' : 'no'}):`);
    if (r.verdicts) {
      lines.push(`  heap     ${r.verdicts.heap.why}`);
      lines.push(`  rss      ${r.verdicts.rss.why}`);
      lines.push(`  handles  ${r.verdicts.handles.why}`);
      lines.push(`  external ${r.fits.external!.slope.toFixed(2)} MiB/h (not bounded)`);
    } else lines.push('  too few samples after the warm-up to fit');
    lines.push(`the run's own report: ${r.reportJsonMiB.toFixed(2)} MiB as JSON (${((r.reportJsonMiB * 3_600_000) / r.durationMs).toFixed(2)} MiB/h; it grows with the run by design)`);
    lines.push(`peak: rss ${r.peak.rssMiB.toFixed(1)} MiB, heap ${r.peak.heapMiB.toFixed(1)} MiB, handles ${r.peak.handles}`);
    lines.push(`handles at the end: ${Object.entries(r.handleTypesAtEnd).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    lines.push(`timeline: ${r.timelineEvents} config steps; expectations: ${r.expectations.map((e) => `${e.name} ${e.pass ? 'ok' : `FAILED${e.detail ? ` (${e.detail})` : ''}`}`).join('; ')}`);
    lines.push(r.ok ? 'soak: ok' : 'soak: FAILED');
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return r.ok ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`soak: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(2);
    },
  );
}
