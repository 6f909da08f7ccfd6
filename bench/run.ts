// `npm run bench [-- --quick] [-- --filter <regex>]`: the EDS benchmarks (bench/eds.bench.ts)
// with tinybench, a readable table, and bench/results/latest.json for later comparison.
import os from 'node:os';
import Table from 'cli-table3';
import { LATEST_JSON, mergeIntoLatest } from './results-file.js';
import {
  fullBuildInFreshProcess,
  multiNetworkOneChangeCase,
  multiNetworkViewCase,
  oneChangeCase,
  runBenchCases,
  viewCases,
  type FullBuildResult,
} from './eds.bench.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const filterAt = args.indexOf('--filter');
const filter = filterAt >= 0 ? new RegExp(args[filterAt + 1] ?? '') : undefined;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function fmtNs(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${ns.toFixed(0)} ns`;
}

async function main(): Promise<void> {
  const wanted = (name: string) => !filter || filter.test(name);
  const oneChange = oneChangeCase(1000);
  const cases = [...viewCases(), multiNetworkViewCase(1000), oneChange, multiNetworkOneChangeCase(1000)].filter((c) => wanted(c.name));
  const benchmarks = await runBenchCases(cases, { quick });
  const counts = oneChange.measureCounts();

  let fullBuild: { ms: number; cpuMs: number; rssBytes: number; runs: FullBuildResult[] } | undefined;
  if (wanted('full_build_100k')) {
    const runs: FullBuildResult[] = [];
    // Few runs, each in a fresh process: one takes seconds, and RSS must be the build's alone.
    // Five, because a shared host moves single runs by 20%.
    for (let i = 0; i < (quick ? 1 : 5); i++) runs.push(fullBuildInFreshProcess());
    fullBuild = {
      ms: median(runs.map((r) => r.ms)),
      cpuMs: median(runs.map((r) => r.cpuMs)),
      rssBytes: Math.max(...runs.map((r) => r.rssBytes)),
      runs,
    };
    benchmarks.push({
      name: 'full_build_100k',
      medianNs: fullBuild.ms * 1e6,
      p99Ns: Math.max(...runs.map((r) => r.ms)) * 1e6,
      samples: runs.length,
      bytes: runs[0]!.bytes,
    });
  }

  const byName = new Map(benchmarks.map((b) => [b.name, b.medianNs]));
  const ratio = (a: string, b: string) => {
    const x = byName.get(a);
    const y = byName.get(b);
    return x !== undefined && y !== undefined && y > 0 ? x / y : null;
  };
  const ratios: Record<string, number | null> = {};
  for (const n of [100, 1000, 10_000]) {
    ratios[`eds_${n}_vs_memcpy`] = ratio(`eds_view_${n}`, `memcpy_${n}`);
    ratios[`object_encode_${n}_vs_eds`] = ratio(`object_encode_${n}`, `eds_view_${n}`);
  }
  ratios.one_change_1000_vs_eds_view_1000 = ratio('eds_one_change_1000', 'eds_view_1000');
  ratios.multinetwork_1000_vs_eds_view_1000 = ratio('eds_view_multinetwork_1000', 'eds_view_1000');
  ratios.one_change_multinetwork_1000_vs_one_change_1000 = ratio('eds_one_change_multinetwork_1000', 'eds_one_change_1000');

  const result = {
    benchmarks,
    ratios,
    counts: {
      endpoint_encodes_per_change: counts.endpointEncodes,
      group_joins_per_change: counts.groupJoins,
      bytes_per_view_1000: cases.find((c) => c.name === 'eds_view_1000')?.bytes ?? null,
    },
    fullBuild: fullBuild && {
      ms: fullBuild.ms,
      cpuMs: fullBuild.cpuMs,
      rssBytes: fullBuild.rssBytes,
      stages: fullBuild.runs.map((r) => r.stages),
    },
    env: { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '', date: new Date().toISOString(), quick },
  };

  // No colours when the output goes to a file or a CI log.
  const style = process.stdout.isTTY ? {} : { head: [], border: [] };
  const table = new Table({
    head: ['benchmark', 'median', 'p99', 'samples', 'bytes'],
    colAligns: ['left', 'right', 'right', 'right', 'right'],
    style,
  });
  for (const b of benchmarks) table.push([b.name, fmtNs(b.medianNs), fmtNs(b.p99Ns), b.samples, b.bytes ?? '']);
  console.log(table.toString());
  const summary = new Table({ head: ['ratio / count', 'value'], colAligns: ['left', 'right'], style });
  for (const [k, v] of Object.entries(ratios)) summary.push([k, v === null ? '-' : v.toFixed(2)]);
  for (const [k, v] of Object.entries(result.counts)) summary.push([k, v ?? '-']);
  if (fullBuild) {
    summary.push(['full_build_100k ms (median)', fullBuild.ms.toFixed(0)]);
    summary.push(['full_build_100k CPU ms (median)', fullBuild.cpuMs.toFixed(0)]);
    summary.push(['full_build_100k RSS MiB (max)', (fullBuild.rssBytes / 2 ** 20).toFixed(0)]);
  }
  console.log(summary.toString());

  // Other benchmarks (fan-out, agents, HTTP load) keep their sections in the same file.
  const { ratios: ownRatios, ...sections } = result;
  mergeIntoLatest(sections, ownRatios);
  console.log(`wrote ${LATEST_JSON}`);
}

await main();
