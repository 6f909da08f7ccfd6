// Attribution of a fan-out CPU profile (bench/xds-fanout.ts with XDSIM_BENCH_PROFILE=<dir>) to
// the parts of the push path, in us per stream per push:
//
//   npx tsx bench/push-path-attribute.ts --streams 2000 --rounds 20 <dir>/xdsim-2000.cpuprofile [<dir>/raw-2000.cpuprofile ...]
//
// Self time is charged to the frame's own part when it has a source URL; a frame without one (a
// V8 builtin, a native binding such as writev) is charged to its nearest caller that has one, so
// a memcpy inside Buffer.copy counts where the copy was asked for. Idle is left out; GC and
// (program), native time outside any JS frame (nghttp2, libuv), are rows of their own.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const program = new Command('push-path-attribute')
  .requiredOption('--streams <n>', 'streams in the run', (v) => Number(v))
  .requiredOption('--rounds <n>', 'changes in the profiled rounds', (v) => Number(v))
  .option('--top <n>', 'functions listed per profile', (v) => Number(v), 25)
  .option('--merge', 'one table for all the profiles given (runs of one build), averaged')
  .argument('<profiles...>')
  .parse();
const opts = program.opts<{ streams: number; rounds: number; top: number; merge?: boolean }>();

/** The part a source URL belongs to; undefined: no URL of its own (charged to the caller). */
function partOf(url: string, fn: string): string | undefined {
  if (fn === '(garbage collector)') return 'gc';
  if (fn === '(idle)' || fn === '(root)') return 'idle';
  // Native time V8 cannot attribute to a JS frame: nghttp2, libuv, the socket writes.
  if (fn === '(program)') return 'native (program: nghttp2, libuv)';
  if (!url) return undefined;
  if (url.includes('@grpc/grpc-js')) return 'grpc-js';
  if (url.includes('protobufjs') || url.includes('@protobufjs')) return 'protobufjs (request decode)';
  const src = /\/src\/xds\/(.*)\.ts$/.exec(url);
  if (src) return `xdsim ${src[1]}`;
  if (url.includes('/src/')) return `xdsim other (${url.replace(/.*\/src\//, '')})`;
  if (url.includes('/bench/')) return 'bench harness';
  if (url.includes('node_modules')) return `other module (${url.replace(/.*node_modules\//, '').split('/')[0]})`;
  if (/^node:internal\/(http2|stream_base_commons|streams|net|timers|process\/task_queues|buffer|event_target|async_hooks)/.test(url) || /^node:(http2|net|events|buffer|stream)$/.test(url)) {
    return `node ${url.replace(/^node:(internal\/)?/, '').split('/')[0]}`;
  }
  if (url.startsWith('node:')) return `node other (${url.replace(/^node:(internal\/)?/, '')})`;
  return `other (${url})`;
}

const groups = opts.merge ? [program.args] : program.args.map((f) => [f]);
for (const files of groups) {
  const parts = new Map<string, number>();
  const fns = new Map<string, number>();
  for (const file of files) attribute(JSON.parse(readFileSync(file, 'utf8')) as Profile, parts, fns);
  const per = opts.streams * opts.rounds * files.length;
  const fmt = (us: number) => (us / per).toFixed(2).padStart(7);
  process.stdout.write(`\n${files.join(' + ')}: us per stream per push (${opts.streams} streams x ${opts.rounds} changes${files.length > 1 ? `, mean of ${files.length} profiles` : ''})\n`);
  let busy = 0;
  for (const [part, us] of parts) if (part !== 'idle') busy += us;
  for (const [part, us] of [...parts].sort((a, b) => b[1] - a[1])) process.stdout.write(`  ${fmt(us)}  ${part}\n`);
  process.stdout.write(`  ${fmt(busy)}  total busy (without idle)\n  top functions by self time:\n`);
  for (const [k, us] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, opts.top)) process.stdout.write(`  ${fmt(us)}  ${k}\n`);
}

function attribute(p: Profile, parts: Map<string, number>, fns: Map<string, number>): void {
  const byId = new Map<number, Node>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const owner = new Map<number, string>();
  const ownerOf = (id: number): string => {
    const known = owner.get(id);
    if (known) return known;
    const n = byId.get(id)!;
    let part = partOf(n.callFrame.url, n.callFrame.functionName);
    if (!part) {
      const up = parent.get(id);
      part = up === undefined ? 'native (no caller)' : ownerOf(up);
    }
    owner.set(id, part);
    return part;
  };
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  for (const [id, us] of selfUs) {
    const part = ownerOf(id);
    parts.set(part, (parts.get(part) ?? 0) + us);
    const cf = byId.get(id)!.callFrame;
    const key = `${cf.functionName || '(anonymous)'} ${cf.url.replace(/.*\/(src|node_modules)\//, '$1/')}:${cf.lineNumber + 1} [${part}]`;
    fns.set(key, (fns.get(key) ?? 0) + us);
  }
}
