// One fuzz run end to end: start `xdsim serve`, send xDS and admin garbage at it, then check the
// properties the hardening promises and return them as a report. Shared by the CI slice
// (test/fuzz) and the long run (bench/fuzz.ts, `npm run fuzz`).
import * as grpc from '@grpc/grpc-js';
import { encode, TYPE_URL, types } from '../proto/index.js';
import { METHOD_PATH } from '../proto/services.js';
import { fuzzAdmin, type AdminFuzzResult } from './admin-runner.js';
import { FUZZ_NAMES } from './mesh.js';
import { metricSum, startServeTarget, type FuzzTarget, type LogKind } from './target.js';
import { fuzzXds, type XdsFuzzResult } from './xds-runner.js';

export interface FuzzRunOptions {
  seed: number;
  xdsInputs: number;
  adminInputs: number;
  /** Share of the costly cases (multi-MiB messages and bodies), 0..1. */
  heavy?: number;
  /** Cap the server's V8 heap (--max-old-space-size): a leak then shows as a crash. */
  heapMb?: number;
  /** Fail when the server's peak RSS goes past this. */
  maxRssBytes?: number;
  /** Extra `xdsim serve` flags. */
  serveArgs?: string[];
  /** The server's limits the generators aim just past (must match serveArgs). */
  maxRequestBytes?: number;
  maxBodyBytes?: number;
  concurrency?: number;
  onProgress?: (phase: 'xds' | 'admin', done: number, total: number, rssBytes: number) => void;
}

export interface FuzzReport {
  seed: number;
  inputs: { xds: number; admin: number; total: number };
  crashes: number;
  exit?: { code: number | null; signal: string | null; stderr: string };
  rss: { peakBytes: number; lastBytes: number; samples: number };
  xds?: XdsFuzzResult;
  admin?: AdminFuzzResult;
  /** xdsim_xds_rejected_requests_total by reason. */
  xdsRejections: Record<string, number>;
  /** xdsim_admin_rejected_total by status, plus config validation rejections. */
  adminRejections: Record<string, number>;
  logKinds: LogKind[];
  logLines: number;
  durationMs: number;
  /** Broken promises; empty when the run passed. */
  problems: string[];
}

/** Reasons that end a stream or connection (the rest are counted and ignored: the stream lives on). */
const CLOSING_REASONS = new Set([
  'malformed',
  'oversized',
  'rate_limited',
  'slow_client',
  'unauthenticated',
  'identity_mismatch',
  'invalid_node_metadata',
  'too_many_names',
  'bad_encoding',
  'registration_rate_limited',
  'connection_limit',
  'too_many_pings',
  'unknown_method',
  'bad_content_type',
  'internal_error',
]);

/** What a client sees when the server refuses a stream. */
const REFUSALS = new Set(['INVALID_ARGUMENT', 'RESOURCE_EXHAUSTED', 'UNIMPLEMENTED', 'INTERNAL', 'UNAUTHENTICATED', 'UNAVAILABLE', 'PERMISSION_DENIED', 'UNKNOWN']);

function labelsOf(m: Map<string, number>, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  const re = new RegExp(`^${name}\\{.*${label}="([^"]*)"`);
  for (const [k, v] of m) {
    const x = re.exec(k);
    if (x) out[x[1]!] = (out[x[1]!] ?? 0) + v;
  }
  return out;
}

export async function runFuzz(opts: FuzzRunOptions): Promise<FuzzReport> {
  const t0 = performance.now();
  const target = await startServeTarget({ args: opts.serveArgs ?? [], ...(opts.heapMb ? { nodeArgs: [`--max-old-space-size=${opts.heapMb}`] } : {}) });
  const problems: string[] = [];
  let xds: XdsFuzzResult | undefined;
  let admin: AdminFuzzResult | undefined;
  try {
    const heavy = opts.heavy ?? 1;
    if (opts.xdsInputs > 0) {
      xds = await fuzzXds({
        port: target.xdsPort,
        seed: opts.seed,
        inputs: opts.xdsInputs,
        gen: { maxRequestBytes: opts.maxRequestBytes ?? 4 * 1024 * 1024, heavy },
        ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
        progressEvery: Math.max(100, Math.floor(opts.xdsInputs / 20)),
        onProgress: (d) => opts.onProgress?.('xds', d, opts.xdsInputs, target.rss().last),
      });
    }
    if (opts.adminInputs > 0 && !target.exit()) {
      admin = await fuzzAdmin({
        port: target.adminPort,
        seed: opts.seed,
        inputs: opts.adminInputs,
        gen: { maxBodyBytes: opts.maxBodyBytes ?? 4 * 1024 * 1024, heavy },
        progressEvery: Math.max(50, Math.floor(opts.adminInputs / 20)),
        onProgress: (d) => opts.onProgress?.('admin', d, opts.adminInputs, target.rss().last),
      });
    }
    return await report(target, opts, xds, admin, problems, t0);
  } finally {
    await target.stop();
  }
}

async function report(target: FuzzTarget, opts: FuzzRunOptions, xds: XdsFuzzResult | undefined, admin: AdminFuzzResult | undefined, problems: string[], t0: number): Promise<FuzzReport> {
  const rss = target.rss();
  const base = {
    seed: opts.seed,
    inputs: { xds: xds?.inputs ?? 0, admin: admin?.inputs ?? 0, total: (xds?.inputs ?? 0) + (admin?.inputs ?? 0) },
    rss: { peakBytes: rss.peak, lastBytes: rss.last, samples: rss.samples },
    ...(xds ? { xds } : {}),
    ...(admin ? { admin } : {}),
    logKinds: target.logKinds(),
    logLines: target.logLines(),
  };
  const exit = target.exit();
  if (exit) {
    problems.push(`server exited (code ${exit.code}, signal ${exit.signal}):\n${target.stderr().slice(-4000)}`);
    return { ...base, crashes: 1, exit: { ...exit, stderr: target.stderr() }, xdsRejections: {}, adminRejections: {}, durationMs: performance.now() - t0, problems };
  }

  // Still serving: a well-behaved client gets its endpoints, the admin API answers.
  const served = await wellBehavedEds(target.xdsPort);
  if (served !== 1) problems.push(`after the fuzz, a valid EDS request got ${served} resources (want 1)`);
  const ready = await fetch(`http://127.0.0.1:${target.adminPort}/ready`).then((r) => r.status, () => 0);
  if (ready !== 200) problems.push(`after the fuzz, /ready answered ${ready}`);

  const m = await target.metrics();
  const xdsRejections = labelsOf(m, 'xdsim_xds_rejected_requests_total', 'reason');
  const adminRejections = labelsOf(m, 'xdsim_admin_rejected_total', 'reason');
  const configRejected = metricSum(m, 'xdsim_config_rejected_total');
  if (configRejected) adminRejections['config'] = configRejected;

  // Handler exceptions are counted (and logged as warnings, rate-limited): in a fuzz run, a bug.
  if (xdsRejections['internal_error']) problems.push(`${xdsRejections['internal_error']} internal errors handling xDS requests (see the "internal:" log kinds)`);

  // Every refusal a client saw is counted (the server may count more: clients that left first).
  if (xds) {
    let seen = 0;
    for (const [o, n] of Object.entries(xds.outcomes)) if (REFUSALS.has(o) || o.startsWith('http-')) seen += n;
    let counted = 0;
    for (const [r, n] of Object.entries(xdsRejections)) if (CLOSING_REASONS.has(r)) counted += n;
    if (counted < seen) problems.push(`xDS: clients saw ${seen} refusals, metrics count ${counted}: ${JSON.stringify(xds.outcomes)} vs ${JSON.stringify(xdsRejections)}`);
  }
  if (admin) {
    let seen = 0;
    let serverErrors = 0;
    for (const [o, n] of Object.entries(admin.outcomes)) {
      const code = Number(o);
      if (code >= 400) seen += n;
      if (code >= 500 && code !== 503) serverErrors += n;
    }
    let counted = 0;
    for (const n of Object.values(adminRejections)) counted += n;
    if (counted < seen) problems.push(`admin: clients saw ${seen} refusals, metrics count ${counted}: ${JSON.stringify(admin.outcomes)} vs ${JSON.stringify(adminRejections)}`);
    if (serverErrors) problems.push(`admin: ${serverErrors} server errors (5xx other than 503): ${JSON.stringify(admin.outcomesByKind)}`);
  }

  // Logged once per kind per minute (the log limiter), errors never.
  const durationMs = performance.now() - t0;
  const allowed = 1 + Math.ceil(durationMs / 60_000);
  for (const k of base.logKinds) {
    if (k.level >= 50) problems.push(`error logged ${k.count}x: ${k.first}`);
    else if (k.level >= 40 && k.count > allowed) problems.push(`warning "${k.key}" logged ${k.count}x (allowed ${allowed}): ${k.first}`);
  }
  const kinds = base.logKinds.length;
  if (base.logLines > 20 + kinds * allowed) problems.push(`${base.logLines} log lines for ${kinds} kinds: a flood`);
  // grpc-js and Node write their own complaints to stderr, outside pino and its limiter.
  const stderrLines = target.stderr().split('\n').filter(Boolean);
  if (stderrLines.length > 20) problems.push(`${stderrLines.length} lines on stderr, e.g. ${stderrLines.slice(0, 3).join(' | ')}`);
  if (opts.maxRssBytes && rss.peak > opts.maxRssBytes) problems.push(`peak RSS ${(rss.peak / 2 ** 20).toFixed(0)} MiB over ${(opts.maxRssBytes / 2 ** 20).toFixed(0)} MiB`);
  return { ...base, crashes: 0, xdsRejections, adminRejections, durationMs, problems };
}

/** Resources in the answer to a plain EDS request (-1: no answer). */
async function wellBehavedEds(port: number): Promise<number> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  try {
    return await new Promise<number>((resolve) => {
      const id = (b: Buffer) => b;
      const call = client.makeBidiStreamRequest<Buffer, Buffer>(METHOD_PATH.ADS_STREAM, id, id);
      const timer = setTimeout(() => {
        call.cancel();
        resolve(-1);
      }, 10_000);
      call.on('error', () => {});
      call.on('data', (b: Buffer) => {
        clearTimeout(timer);
        const r = types.DiscoveryResponse.decode(b) as unknown as { resources: unknown[] };
        call.cancel();
        resolve(r.resources.length);
      });
      call.write(Buffer.from(encode('DiscoveryRequest', { node: { id: 'fuzz-check' }, type_url: TYPE_URL.ENDPOINT, resource_names: [FUZZ_NAMES.clusters[0]] })));
    });
  } finally {
    client.close();
  }
}

/** The report as the few lines a person reads. */
export function summarize(r: FuzzReport): string {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  const lines = [
    `seed ${r.seed}: ${r.inputs.total} inputs (${r.inputs.xds} xDS, ${r.inputs.admin} admin) in ${(r.durationMs / 1000).toFixed(1)} s`,
    `crashes ${r.crashes}; server peak RSS ${mib(r.rss.peakBytes)}, last ${mib(r.rss.lastBytes)} (${r.rss.samples} samples)`,
    `xDS rejections: ${JSON.stringify(r.xdsRejections)}`,
    `admin rejections: ${JSON.stringify(r.adminRejections)}`,
    `log: ${r.logLines} lines, ${r.logKinds.length} kinds, most repeated ${r.logKinds[0] ? `${r.logKinds[0].count}x "${r.logKinds[0].key}"` : '-'}`,
  ];
  if (r.xds) lines.push(`xDS outcomes: ${JSON.stringify(r.xds.outcomes)}; ${r.xds.messages} messages, ${mib(r.xds.bytes)}`);
  if (r.admin) lines.push(`admin outcomes: ${JSON.stringify(r.admin.outcomes)}; ${mib(r.admin.bytesSent)} sent`);
  lines.push(r.problems.length ? `PROBLEMS:\n- ${r.problems.join('\n- ')}` : 'no problems');
  return lines.join('\n');
}
