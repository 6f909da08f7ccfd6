// A real Prometheus (the `prometheus` binary on PATH, e.g. Debian's package) on loopback, with a
// generated config, and the parts of its HTTP API the metrics tests read.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** `prometheus --version`'s first line, or undefined when there is no binary to run. */
export function prometheusVersion(): string | undefined {
  const r = spawnSync('prometheus', ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) return undefined;
  return (r.stdout || r.stderr).split('\n')[0];
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PromSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

export interface Prometheus {
  readonly url: string;
  query(expr: string, time?: number): Promise<PromSample[]>;
  queryRange(expr: string, start: number, end: number, stepSeconds: number): Promise<PromSeries[]>;
  /** Waits (bounded) until `expr` returns a sample for which `ok` holds; returns the samples. */
  waitFor(expr: string, ok: (s: PromSample[]) => boolean, timeoutMs: number): Promise<PromSample[]>;
  logs(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts Prometheus scraping `targets` (host:port, path /metrics) every `scrapeSeconds` as job
 * `job`, and waits until it is ready. Its TSDB lives in a temporary directory removed on stop.
 */
export async function startPrometheus(opts: { job: string; targets: string[]; scrapeSeconds: number; readyTimeoutMs?: number }): Promise<Prometheus> {
  const dir = mkdtempSync(path.join(tmpdir(), 'xdsim-prometheus-'));
  const interval = `${opts.scrapeSeconds}s`;
  // YAML is a superset of JSON: the config needs no YAML writer.
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    scrape_configs: [{ job_name: opts.job, metrics_path: '/metrics', static_configs: [{ targets: opts.targets }] }],
  };
  writeFileSync(path.join(dir, 'prometheus.yml'), JSON.stringify(config, null, 2));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let logs = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    logs = (logs + d).slice(-20_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const api = async <T>(p: string, params: Record<string, string>): Promise<T> => {
    const res = await fetch(`${url}${p}`, { method: 'POST', body: new URLSearchParams(params), signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`Prometheus ${p} ${JSON.stringify(params)}: ${body.error}`);
    return body.data;
  };
  const prom: Prometheus = {
    url,
    async query(expr, time) {
      const params: Record<string, string> = { query: expr };
      if (time !== undefined) params['time'] = String(time);
      const d = await api<{ resultType: string; result: PromSample[] }>('/api/v1/query', params);
      return d.result;
    },
    async queryRange(expr, start, end, step) {
      const d = await api<{ result: PromSeries[] }>('/api/v1/query_range', { query: expr, start: String(start), end: String(end), step: String(step) });
      return d.result;
    },
    async waitFor(expr, ok, timeoutMs) {
      const end = Date.now() + timeoutMs;
      let last: PromSample[] = [];
      while (Date.now() < end) {
        last = await prom.query(expr);
        if (ok(last)) return last;
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error(`Prometheus: ${expr} not as expected within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
    },
    logs: () => logs,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 20_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${logs}`);
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) return prom;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await prom.stop();
      throw new Error(`prometheus not ready within ${opts.readyTimeoutMs ?? 20_000} ms:\n${logs}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Every finite value of a range result (histogram_quantile and rates can give NaN). */
export function finiteValues(series: PromSeries[]): number[] {
  return series.flatMap((s) => s.values.map(([, v]) => Number(v))).filter((v) => Number.isFinite(v));
}
