// Long fuzz run against the real `xdsim serve` (child process): xDS garbage (random bytes as gRPC
// messages, broken wire data, absurd-but-valid requests, HTTP/2 and TCP garbage) and admin
// garbage (invalid YAML, huge bodies, deep nesting, wrong content types and methods). Checks
// that the server never crashes, stays within memory, counts every refusal and logs each kind
// once per minute; prints the numbers and writes them to bench/results/fuzz.json.
//
//   npm run fuzz -- --inputs 100000 [--seed 1] [--admin-share 0.1] [--heavy 1] [--heap-mb 512]
//
// Exit code 1 when a property broke (the report says which and the seed replays it).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { runFuzz, summarize } from '../src/fuzz/run.js';

const program = new Command('fuzz')
  .option('--inputs <n>', 'malformed inputs in all (xDS + admin)', (v) => Number(v), 100_000)
  .option('--admin-share <f>', 'share of the inputs sent to the admin API', (v) => Number(v), 0.1)
  .option('--seed <n>', 'generator seed (a failure names it)', (v) => Number(v), 1)
  .option('--heavy <f>', 'share of the costly multi-MiB cases, 0..1', (v) => Number(v), 1)
  .option('--heap-mb <n>', "cap the server's V8 heap: a leak becomes a crash", (v) => Number(v))
  .option('--max-rss-mb <n>', 'fail if the server peak RSS goes past this', (v) => Number(v), 1024)
  .option('--concurrency <n>', 'xDS streams in flight', (v) => Number(v), 32)
  .option('--out <file>', 'results file', fileURLToPath(new URL('./results/fuzz.json', import.meta.url)))
  .parse();
const o = program.opts<{ inputs: number; adminShare: number; seed: number; heavy: number; heapMb?: number; maxRssMb: number; concurrency: number; out: string }>();

const adminInputs = Math.round(o.inputs * o.adminShare);
const xdsInputs = o.inputs - adminInputs;
const started = Date.now();
process.stderr.write(`fuzz: ${xdsInputs} xDS + ${adminInputs} admin inputs, seed ${o.seed}, heavy ${o.heavy}${o.heapMb ? `, server heap ${o.heapMb} MiB` : ''}\n`);
const report = await runFuzz({
  seed: o.seed,
  xdsInputs,
  adminInputs,
  heavy: o.heavy,
  concurrency: o.concurrency,
  maxRssBytes: o.maxRssMb * 2 ** 20,
  ...(o.heapMb ? { heapMb: o.heapMb } : {}),
  onProgress: (phase, done, total, rss) =>
    process.stderr.write(`  ${phase} ${done}/${total}  rss ${(rss / 2 ** 20).toFixed(0)} MiB  ${((Date.now() - started) / 1000).toFixed(0)} s\n`),
});
process.stdout.write(`${summarize(report)}\n`);
mkdirSync(dirname(o.out), { recursive: true });
writeFileSync(
  o.out,
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      node: process.version,
      options: o,
      inputs: report.inputs,
      crashes: report.crashes,
      peakRssMiB: Math.round(report.rss.peakBytes / 2 ** 20),
      lastRssMiB: Math.round(report.rss.lastBytes / 2 ** 20),
      durationS: Math.round(report.durationMs / 1000),
      xdsRejections: report.xdsRejections,
      adminRejections: report.adminRejections,
      xdsOutcomes: report.xds?.outcomes,
      adminOutcomes: report.admin?.outcomes,
      logLines: report.logLines,
      logKinds: report.logKinds.map((k) => ({ level: k.level, key: k.key, count: k.count })),
      problems: report.problems,
    },
    null,
    2,
  )}\n`,
);
process.exitCode = report.problems.length ? 1 : 0;
