// `xdsim run --serve-report <port>`: the report page while the run goes on. GET / is a page whose
// charts are redrawn from Server-Sent Events (GET /events) the runner's hooks feed, once per
// sample; when the run ends every open page is replaced by the final report.html (the same
// self-contained file --out writes), which GET / serves from then on. Loopback unless told.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LiveSample } from '../scenario/runner.js';
import { chartsSection, CSS, trafficSection } from './html.js';
import { escapeXml as esc } from './svg.js';
import type { ExpectationResult, Series, TimelineRecord, TrafficSeries } from './types.js';

const MAX_EVENTS = 200;

/** "14.0s label: result" / "20.0s PASS name: detail" (the runner's onEvent lines). */
function parseEvent(line: string): { atMs: number; kind: 'step' | 'pass' | 'fail'; label: string } | undefined {
  const m = /^(\d+(?:\.\d+)?)s (?:(PASS|FAIL) )?(.+?): /.exec(line);
  if (!m) return undefined;
  return { atMs: Number(m[1]) * 1000, kind: m[2] === 'PASS' ? 'pass' : m[2] === 'FAIL' ? 'fail' : 'step', label: m[3]! };
}

export class LiveReportServer {
  private readonly clients = new Set<ServerResponse>();
  private finalHtml: string | undefined;
  private series = LiveReportServer.emptySeries();
  private traffic: readonly TrafficSeries[] = [];
  private timeline: TimelineRecord[] = [];
  private checks: ExpectationResult[] = [];
  private events: string[] = [];
  private last: LiveSample | undefined;
  private lastPushes = 0;
  private run = { index: 1, of: 1 };
  private keepAlive: NodeJS.Timeout;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly title: string,
  ) {
    server.on('request', (req, res) => this.handle(req, res));
    // Comments keep idle proxies and browsers from dropping the stream between samples.
    this.keepAlive = setInterval(() => this.broadcast(': keep-alive\n\n'), 15_000);
    this.keepAlive.unref();
  }

  /** Listens on `host:port` (port 0: any free one). */
  static async start(host: string, port: number, title: string): Promise<LiveReportServer> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const a = server.address() as AddressInfo;
    const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return new LiveReportServer(server, `http://${h}:${a.port}/`, title);
  }

  private static emptySeries(): Series {
    return { intervalMs: 1000, t: [], connected: [], streams: [], registered: [], pushesPerSec: [], convergenceP50Ms: [], convergenceP90Ms: [], convergenceP99Ms: [], cpuPercent: [], rssBytes: [], heapUsedBytes: [] };
  }

  /** A new run of `--repeat`: the charts start over. */
  startRun(index: number, of: number): void {
    this.run = { index, of };
    this.series = LiveReportServer.emptySeries();
    this.traffic = [];
    this.timeline = [];
    this.checks = [];
    this.lastPushes = 0;
    this.last = undefined;
  }

  sample(s: LiveSample): void {
    const prev = this.series.t[this.series.t.length - 1];
    const dt = prev === undefined ? 0 : s.tMs - prev;
    this.series.t.push(s.tMs);
    this.series.connected.push(s.connected);
    this.series.registered.push(s.registered);
    this.series.pushesPerSec.push(dt > 50 ? +(((s.pushes - this.lastPushes) * 1000) / dt).toFixed(2) : 0);
    this.lastPushes = s.pushes;
    // Live samples carry p99 only, and no heap or stream count: those lines stay empty until the final report.
    this.series.convergenceP50Ms.push(null);
    this.series.convergenceP90Ms.push(null);
    this.series.convergenceP99Ms.push(s.convergenceP99Ms);
    this.series.cpuPercent.push(+s.cpuPercent.toFixed(1));
    this.series.rssBytes.push(s.rssBytes);
    this.last = s;
    this.push();
  }

  setTraffic(t: readonly TrafficSeries[]): void {
    this.traffic = t;
  }

  event(line: string): void {
    this.events.push(line);
    if (this.events.length > MAX_EVENTS) this.events.shift();
    const e = parseEvent(line);
    if (e?.kind === 'step') this.timeline.push({ atMs: e.atMs, ranAtMs: e.atMs, label: e.label, result: '', ok: true });
    else if (e) this.checks.push({ name: e.label, kind: 'lbShares', pass: e.kind === 'pass', detail: '', atMs: e.atMs });
    this.broadcast(`event: log\ndata: ${JSON.stringify(line)}\n\n`);
  }

  /** The run is over: pages become the final report, and GET / serves it. */
  finish(html: string): void {
    this.finalHtml = html;
    this.broadcast(`event: final\ndata: ${JSON.stringify(html)}\n\n`);
  }

  async close(): Promise<void> {
    clearInterval(this.keepAlive);
    for (const c of this.clients) c.end();
    this.clients.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // A browser's keep-alive connection would hold close() open.
    this.server.closeAllConnections();
    await closed;
  }

  private status(): string {
    const s = this.last;
    const run = this.run.of > 1 ? `run ${this.run.index} of ${this.run.of} · ` : '';
    if (!s) return `${run}starting`;
    return `${run}${(s.tMs / 1000).toFixed(0)}s of ${(s.durationMs / 1000).toFixed(0)}s · ${s.phase} · connected ${s.connected}/${s.target} · registered ${s.registered} · pushes ${s.pushes}${s.errors ? ` · errors ${s.errors}` : ''}`;
  }

  private fragments(): { status: string; traffic: string; charts: string } {
    return {
      status: this.status(),
      traffic: trafficSection({ traffic: [...this.traffic], timeline: this.timeline, expectations: this.checks }),
      charts: chartsSection({ series: this.series, timeline: this.timeline, server: { cpu: { seconds: 0, avgPercent: 0, peakPercent: 0, scope: 'process' }, rssBytes: 0, rssBytesEnd: 0, heapUsedBytes: 0 } }),
    };
  }

  private push(): void {
    if (this.clients.size === 0) return;
    const f = this.fragments();
    this.broadcast(`event: sample\ndata: ${JSON.stringify({ ...f, sample: this.last })}\n\n`);
  }

  private broadcast(chunk: string): void {
    for (const c of this.clients) c.write(chunk);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (path === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      this.clients.add(res);
      req.on('close', () => this.clients.delete(res));
      if (this.finalHtml !== undefined) res.write(`event: final\ndata: ${JSON.stringify(this.finalHtml)}\n\n`);
      else res.write(`event: sample\ndata: ${JSON.stringify({ ...this.fragments(), sample: this.last })}\n\n`);
      return;
    }
    if (path === '/' || path === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(this.finalHtml ?? this.livePage());
      return;
    }
    // Browsers ask for one; a 404 would be a console error on an otherwise clean page.
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }

  private livePage(): string {
    const f = this.fragments();
    // The only script xdsim serves: it swaps server-rendered fragments in, and the final report in.
    const script = `(() => {
  const es = new EventSource('events');
  const set = (id, html) => { const el = document.getElementById(id); if (el) el.innerHTML = html; };
  es.addEventListener('sample', (e) => { const d = JSON.parse(e.data); document.getElementById('status').textContent = d.status; set('traffic', d.traffic); set('charts', d.charts); });
  es.addEventListener('log', (e) => { const li = document.createElement('li'); li.textContent = JSON.parse(e.data); const ul = document.getElementById('log'); ul.prepend(li); while (ul.children.length > ${MAX_EVENTS}) ul.lastChild.remove(); });
  es.addEventListener('final', (e) => { es.close(); const html = JSON.parse(e.data); document.open(); document.write(html); document.close(); });
  es.onerror = () => { document.getElementById('status').textContent += ' · (connection lost, retrying)'; };
})();`;
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>xdsim (live): ${esc(this.title)}</title><style>${CSS}</style></head><body>
<h1>${esc(this.title)} <span class="verdict" style="background:#2f6fdb">LIVE</span></h1>
<p class="sub" id="status">${esc(f.status)}</p>
<div id="traffic">${f.traffic}</div>
<h2>Charts</h2><div id="charts">${f.charts}</div>
<h2>Events</h2><ul id="log">${[...this.events].reverse().map((l) => `<li>${esc(l)}</li>`).join('')}</ul>
<script>${script}</script>
</body></html>
`;
  }
}
