// A real Prometheus scrapes `xdsim serve` every second while `xdsim agents` connect, register,
// flap, drop and NACK; the istiod-named metrics are then read back through Prometheus' HTTP API,
// and every query of the shipped Grafana dashboard (deploy/grafana/xdsim.json) must return data.
// Needs the `prometheus` binary (Debian: apt-get install -y prometheus) and takes ~40 s, so it runs
// with `npm run test:prometheus`, not `npm test`; without the binary it is skipped, saying so
// (or fails, with XDSIM_REQUIRE_PROMETHEUS=1 as in CI).
import * as grpc from '@grpc/grpc-js';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METHOD_PATH } from '../../src/proto/services.js';
import { killAll, serveProcess, servingPorts } from '../helpers/serve-process.js';
import { finiteValues, prometheusVersion, startPrometheus, type Prometheus, type PromSample } from './prometheus.js';

const BIN = fileURLToPath(new URL('../../bin/xdsim.js', import.meta.url));
const DASHBOARD = fileURLToPath(new URL('../../deploy/grafana/xdsim.json', import.meta.url));
const VERSION = prometheusVersion();
if (!VERSION) {
  const why = 'no `prometheus` binary on PATH (Debian/Ubuntu: apt-get install -y prometheus)';
  // CI sets this so that a missing binary fails instead of passing as skipped.
  if (process.env['XDSIM_REQUIRE_PROMETHEUS'] === '1') throw new Error(`XDSIM_REQUIRE_PROMETHEUS=1 but ${why}`);
  console.warn(`test/metrics/prometheus.test.ts skipped: ${why}`);
}

const JOB = 'xdsim';
const SCRAPE_S = 1;
const AGENTS = 30;
const RUN_S = 15;
const NACK_FRACTION = 0.1;
// xdsim's convergence buckets (src/xds/metrics/xds-metrics.ts): istiod's plus finer ones at the bottom.
const CONVERGENCE_LE = ['0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '3', '5', '10', '20', '30', '+Inf'];

const MESH = `apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: { name: payments, namespace: vm-load }
spec:
  metadata: { labels: { app: payments } }
  template: { serviceAccount: payments, ports: { http: 8080 } }
  probe: { httpGet: { port: 8080, path: /ready }, periodSeconds: 1 }
---
apiVersion: v1
kind: Service
metadata: { name: payments, namespace: vm-load }
spec:
  selector: { app: payments }
  ports: [{ name: http, port: 80, targetPort: 8080 }]
`;

interface FleetSummary {
  agents: { connected: number; registered: number; failed: number };
  counters: { responses: { cds: number; eds: number }; nacks: number; disconnects: number; churn: { disconnect: number; flap: number } };
}

/** One malformed request on its own stream: the server refuses it (reason "malformed"). */
async function sendMalformed(xdsPort: number): Promise<grpc.StatusObject> {
  const raw = (b: Buffer) => b;
  const Ctor = grpc.makeGenericClientConstructor(
    { Stream: { path: METHOD_PATH.ADS_STREAM, requestStream: true, responseStream: true, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw } },
    'RawAds',
  );
  const c = new Ctor(`127.0.0.1:${xdsPort}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  try {
    const call = (c as unknown as { Stream: () => grpc.ClientDuplexStream<Buffer, Buffer> }).Stream();
    call.on('data', () => {});
    call.on('error', () => {});
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    // Field 1 (version_info) claiming a length far past the end of the message.
    call.write(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0xff]));
    return await Promise.race([status, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no status for the malformed stream')), 10_000))]);
  } finally {
    c.close();
  }
}

/** The fleet as a child process (the real CLI), bounded by a timeout that kills it. */
function runAgents(xdsPort: number, jsonFile: string): Promise<{ code: number | null; stderr: string }> {
  const args = [
    BIN, 'agents', '--xds', `127.0.0.1:${xdsPort}`, '--namespace', 'vm-load', '--group', 'payments', '--labels', 'app=payments',
    '--count', String(AGENTS), '--duration', `${RUN_S}s`, '--probe-period', '1s', '--unhealthy-fraction', '0.1',
    // Disconnects from 4 s on, so every agent is connected at once before the first one drops.
    '--churn', 'disconnect:fraction=20%,every=4s,down=1s;flap:fraction=10%,period=4s',
    '--nack', `${NACK_FRACTION}:eds`, '--seed', '7', '--progress', 'none', '--json', jsonFile,
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-10_000)));
  const timer = setTimeout(() => child.kill('SIGKILL'), (RUN_S + 30) * 1000);
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    }),
  );
}

const one = (s: PromSample[]): number => {
  expect(s, 'exactly one series').toHaveLength(1);
  return Number(s[0]!.value[1]);
};
const labelsOf = (s: PromSample) => Object.keys(s.metric).sort();

/** Grafana's substitutions for a query run over [start, end] at `step` seconds. */
function grafanaExpr(expr: string): string {
  // $__rate_interval is max(4 x scrape interval, step + scrape interval); the step here is 1 s.
  const rateInterval = `${Math.max(4 * SCRAPE_S, 1 + SCRAPE_S)}s`;
  return expr.replaceAll('$__rate_interval', rateInterval).replaceAll('${job}', JOB).replaceAll('$job', JOB);
}

describe.skipIf(!VERSION)(`Prometheus (${VERSION ?? 'not installed'}) scraping xdsim serve`, () => {
  let prom: Prometheus | undefined;
  let dir = '';
  let start = 0;
  let end = 0;
  let fleet: FleetSummary;
  let adminPort = 0;
  let peakMidRun = 0;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'xdsim-prom-test-'));
    writeFileSync(path.join(dir, 'mesh.yaml'), MESH);
    const serve = serveProcess(['-f', path.join(dir, 'mesh.yaml'), '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--debounce-after', '50ms', '--grace-period', '2s']);
    const ports = await servingPorts(serve);
    adminPort = ports.admin;
    prom = await startPrometheus({ job: JOB, targets: [`127.0.0.1:${ports.admin}`], scrapeSeconds: SCRAPE_S });
    // A first scrape before any agent, so the counters' starting values are in the TSDB.
    await prom.waitFor(`up{job="${JOB}"}`, (s) => s.length === 1 && s[0]!.value[1] === '1', 15_000);
    await prom.waitFor(`pilot_xds{job="${JOB}"}`, (s) => s.length === 1, 5_000);
    start = Date.now() / 1000;
    const jsonFile = path.join(dir, 'fleet.json');
    const agents = runAgents(ports.xds, jsonFile);
    // While the fleet runs: the gauge reaches the whole fleet, and one request is refused.
    const peak = await prom.waitFor(`pilot_xds{job="${JOB}"}`, (s) => s.length === 1 && Number(s[0]!.value[1]) === AGENTS, 12_000);
    peakMidRun = Number(peak[0]!.value[1]);
    // Twice, scrapes apart: the first creates the labelled series at 1, which no rate() can see
    // (there is no earlier sample); the second is an increase rate() shows.
    for (let i = 0; i < 2; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 2 * SCRAPE_S * 1000 + 200));
      const st = await sendMalformed(ports.xds);
      expect(st.code).toBe(grpc.status.INVALID_ARGUMENT);
    }
    const res = await agents;
    if (res.code !== 0) throw new Error(`xdsim agents exited ${res.code}:\n${res.stderr}`);
    fleet = JSON.parse(readFileSync(jsonFile, 'utf8')) as FleetSummary;
    // Every stream closed with the fleet: wait for a scrape that shows it, then one more so the
    // final counter values are in too.
    await prom.waitFor(`pilot_xds{job="${JOB}"}`, (s) => s.length === 1 && s[0]!.value[1] === '0', 10_000);
    await new Promise((r) => setTimeout(r, 2 * SCRAPE_S * 1000 + 200));
    end = Date.now() / 1000;
  }, 90_000);

  afterAll(async () => {
    await prom?.stop();
    killAll();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('pilot_xds: connected proxies, labelled by job and instance only; the whole fleet, then none', async () => {
    const s = await prom!.query(`pilot_xds{job="${JOB}"}`);
    expect(labelsOf(s[0]!)).toEqual(['__name__', 'instance', 'job']);
    expect(s[0]!.metric['instance']).toBe(`127.0.0.1:${adminPort}`);
    expect(peakMidRun).toBe(AGENTS);
    const range = await prom!.queryRange(`pilot_xds{job="${JOB}"}`, start, end, 1);
    const v = finiteValues(range);
    expect(Math.max(...v)).toBe(AGENTS);
    expect(Math.min(...v)).toBe(0);
    // Disconnect churn shows: some scrape between the first drop and the end saw fewer than all.
    const during = range[0]!.values.filter(([t]) => t >= start + 5 && t <= start + RUN_S - 1).map(([, x]) => Number(x));
    expect(Math.min(...during)).toBeLessThan(AGENTS);
    expect(fleet.counters.churn.disconnect).toBeGreaterThan(0);
    console.log(`pilot_xds: max ${Math.max(...v)}, min during churn ${Math.min(...during)}, ${v.length} points`);
  });

  it('pilot_xds_pushes{type}: cds and eds, as many as the agents received (plus what dropped streams lost)', async () => {
    const s = await prom!.query(`pilot_xds_pushes{job="${JOB}"}`);
    for (const x of s) expect(labelsOf(x)).toEqual(['__name__', 'instance', 'job', 'type']);
    const byType = Object.fromEntries(s.map((x) => [x.metric['type']!, Number(x.value[1])]));
    expect(Object.keys(byType).sort()).toEqual(['cds', 'eds']);
    // Prometheus holds what /metrics says now (nothing changed since the last scrape).
    const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    for (const t of ['cds', 'eds']) expect(text).toContain(`pilot_xds_pushes{type="${t}"} ${byType[t]}\n`);
    // A response sent just before a stream dropped may never arrive: the server sends at least
    // what the agents received, and not many more.
    const disconnects = fleet.counters.disconnects;
    expect(byType['cds']).toBeGreaterThanOrEqual(fleet.counters.responses.cds);
    expect(byType['cds']).toBeLessThanOrEqual(fleet.counters.responses.cds + disconnects);
    expect(byType['eds']).toBeGreaterThanOrEqual(fleet.counters.responses.eds);
    expect(byType['eds']).toBeLessThanOrEqual(fleet.counters.responses.eds + 2 * disconnects);
    const rate = await prom!.queryRange(`sum(rate(pilot_xds_pushes{job="${JOB}",type="eds"}[4s]))`, start, end, 1);
    expect(Math.max(...finiteValues(rate))).toBeGreaterThan(0);
    console.log(`pilot_xds_pushes: ${JSON.stringify(byType)}; agents received ${JSON.stringify(fleet.counters.responses)}, ${disconnects} disconnects`);
  });

  it('pilot_proxy_convergence_time: istiod-style histogram buckets, cumulative, with plausible quantiles', async () => {
    const buckets = await prom!.query(`pilot_proxy_convergence_time_bucket{job="${JOB}"}`);
    for (const b of buckets) expect(labelsOf(b)).toEqual(['__name__', 'instance', 'job', 'le']);
    const bound = (le: string) => (le === '+Inf' ? Infinity : Number(le));
    const sorted = buckets.map((b) => ({ le: b.metric['le']!, n: Number(b.value[1]) })).sort((a, b) => bound(a.le) - bound(b.le));
    expect(sorted.map((b) => b.le)).toEqual(CONVERGENCE_LE);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.n).toBeGreaterThanOrEqual(sorted[i - 1]!.n);
    const count = one(await prom!.query(`pilot_proxy_convergence_time_count{job="${JOB}"}`));
    const sum = one(await prom!.query(`pilot_proxy_convergence_time_sum{job="${JOB}"}`));
    expect(sorted.at(-1)!.n).toBe(count);
    // At least one converged push per registered agent's first EDS with it (and the flaps).
    expect(count).toBeGreaterThanOrEqual(fleet.agents.registered);
    expect(sum / count).toBeGreaterThan(0);
    // Loopback with a 50 ms debounce: well under istiod's top bucket (30 s).
    expect(sum / count).toBeLessThan(5);
    const window = `${Math.ceil(end - start)}s`;
    const p50 = one(await prom!.query(`histogram_quantile(0.5, sum by (le) (increase(pilot_proxy_convergence_time_bucket{job="${JOB}"}[${window}])))`, end));
    const p99 = one(await prom!.query(`histogram_quantile(0.99, sum by (le) (increase(pilot_proxy_convergence_time_bucket{job="${JOB}"}[${window}])))`, end));
    expect(p50).toBeGreaterThan(0);
    expect(p99).toBeGreaterThanOrEqual(p50);
    expect(p99).toBeLessThan(5);
    console.log(`pilot_proxy_convergence_time: count ${count}, mean ${(sum / count).toFixed(3)} s, p50 ${p50.toFixed(3)} s, p99 ${p99.toFixed(3)} s; buckets ${sorted.map((b) => `${b.le}:${b.n}`).join(' ')}`);
  });

  it("rejections: the agents' NACKs by type (istiod's pilot_total_xds_rejects and pilot_xds_eds_reject) and a refused malformed request", async () => {
    const total = await prom!.query(`pilot_total_xds_rejects{job="${JOB}"}`);
    expect(total.map((x) => x.metric['type'])).toEqual(['eds']);
    expect(labelsOf(total[0]!)).toEqual(['__name__', 'instance', 'job', 'type']);
    const nacks = Number(total[0]!.value[1]);
    expect(one(await prom!.query(`pilot_xds_eds_reject{job="${JOB}"}`))).toBe(nacks);
    for (const t of ['cds', 'lds', 'rds']) expect(one(await prom!.query(`pilot_xds_${t}_reject{job="${JOB}"}`))).toBe(0);
    // Every NACK the server read was sent by an agent; one sent as its stream dropped may be lost.
    expect(nacks).toBeGreaterThan(0);
    expect(nacks).toBeLessThanOrEqual(fleet.counters.nacks);
    expect(nacks).toBeGreaterThanOrEqual(fleet.counters.nacks - fleet.counters.disconnects);
    const refused = await prom!.query(`xdsim_xds_rejected_requests_total{job="${JOB}"}`);
    expect(refused.map((x) => [x.metric['reason'], Number(x.value[1])])).toEqual([['malformed', 2]]);
    expect(labelsOf(refused[0]!)).toEqual(['__name__', 'instance', 'job', 'reason']);
    console.log(`rejections: pilot_total_xds_rejects{type="eds"} ${nacks} (agents sent ${fleet.counters.nacks} NACKs), xdsim_xds_rejected_requests_total{reason="malformed"} 2`);
  });

  it('process metrics: CPU seconds grow while the fleet runs, RSS is a process size', async () => {
    const cpu = await prom!.queryRange(`process_cpu_seconds_total{job="${JOB}"}`, start, end, 1);
    const v = finiteValues(cpu);
    expect(v.at(-1)!).toBeGreaterThan(v[0]!);
    const rss = one(await prom!.query(`process_resident_memory_bytes{job="${JOB}"}`));
    expect(rss).toBeGreaterThan(20 * 2 ** 20);
    expect(rss).toBeLessThan(2 * 2 ** 30);
    console.log(`process: CPU ${(v.at(-1)! - v[0]!).toFixed(2)} s over the run, RSS ${(rss / 2 ** 20).toFixed(0)} MiB`);
  });

  it('every query of deploy/grafana/xdsim.json returns data, and something above zero', async () => {
    const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { title: string; type: string; targets?: { refId: string; expr: string }[] }[] };
    const queries = dash.panels.filter((p) => p.type !== 'row').flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, refId: t.refId, expr: grafanaExpr(t.expr) })));
    expect(queries.length).toBeGreaterThanOrEqual(10);
    const empty: string[] = [];
    const lines: string[] = [];
    for (const q of queries) {
      expect(q.expr).not.toMatch(/\$/);
      const r = await prom!.queryRange(q.expr, start, end, 1);
      const v = finiteValues(r);
      // Everything the dashboard shows moved during this run: all-zero would be a query that
      // cannot see it (a rate over a series that only ever had one value, say).
      if (!v.some((x) => x > 0)) empty.push(`${q.panel} ${q.refId}: ${q.expr}`);
      lines.push(`  ${q.panel} [${q.refId}]: ${r.length} series, ${v.length} points, max ${v.length ? Math.max(...v).toPrecision(3) : '-'}`);
    }
    console.log(`dashboard queries:\n${lines.join('\n')}`);
    expect(empty, 'panels without data').toEqual([]);
  });
});
