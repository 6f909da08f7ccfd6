// report.html: one self-contained file (inline CSS and SVG, no script, no fetches) rendered
// from report.json alone.
import { escapeXml as esc, lineChart } from './svg.js';
import { trafficCharts, trafficMarkers } from './traffic-chart.js';
import type { RunReport } from './types.js';

const MB = 1024 * 1024;
const fmtMs = (v: number) => (v >= 1000 ? `${+(v / 1000).toFixed(2)}s` : `${+v.toFixed(v < 10 ? 2 : 0)}ms`);
const fmtBytes = (v: number) => (v >= 1024 * MB ? `${(v / 1024 / MB).toFixed(2)} GiB` : `${(v / MB).toFixed(0)} MiB`);

export const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1180px;color:#1d2330;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
.sub{color:#5b6474;margin:0 0 16px}
.verdict{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:600;color:#fff}
.pass{background:#1f8a4c}.fail{background:#c62828}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}
.card{border:1px solid #dde2ea;border-radius:8px;padding:10px 12px}
.card b{display:block;font-size:19px}.card span{color:#5b6474;font-size:12px}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:14px}
.charts svg{border:1px solid #dde2ea;border-radius:8px;background:#fff;max-width:100%;height:auto}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e7eaf0;vertical-align:top}
th{font-weight:600;color:#3b4455}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.f td{background:#fdecea}.ok{color:#1f8a4c;font-weight:600}.ko{color:#c62828;font-weight:600}
.ct{font-size:13px;font-weight:600;fill:#1d2330}.yl{font-size:10px;fill:#5b6474;text-anchor:end}
.xl{font-size:10px;fill:#5b6474;text-anchor:middle}.lg{font-size:11px;fill:#3b4455}
.grid{stroke:#eef0f4}.axis{stroke:#9aa3b2}.mark{stroke:#e08a00;stroke-dasharray:3 3}
code{background:#f3f5f8;padding:1px 4px;border-radius:4px}
.traffic-charts{display:grid;gap:14px}.traffic-charts svg{border:1px solid #dde2ea;border-radius:8px;background:#fff;max-width:100%;height:auto}
.mk{font-size:10px;font-weight:600}
`;

/** The traffic section: per lbShares proxy, its shares and endpoints over the run ('' without any). */
export function trafficSection(r: Pick<RunReport, 'traffic' | 'timeline' | 'expectations'>): string {
  if (!r.traffic?.length) return '';
  const markers = trafficMarkers(r.timeline, r.expectations);
  return `<h2>Traffic</h2><p class="sub">What each proxy an <code>lbShares</code> expectation names receives, sampled with the other charts and run through the client load-balancing model; dashed lines are timeline steps, solid ones the expectations' checkpoints (green passed, red failed).</p><div class="traffic-charts">${r.traffic.flatMap((t) => trafficCharts(t, markers)).join('\n')}</div>`;
}

/** The run's line charts (agents, convergence, pushes, CPU, memory). */
export function chartsSection(r: Pick<RunReport, 'series' | 'timeline' | 'server'>): string {
  const s = r.series;
  const markers = r.timeline.map((e) => ({ x: e.ranAtMs, label: e.label }));
  const chart = (title: string, series: { name: string; color: string; values: (number | null)[] }[], yFormat?: (v: number) => string) =>
    lineChart({ title, x: s.t, series, markers, ...(yFormat ? { yFormat } : {}) });
  const charts = [
    chart('Agents', [
      { name: 'connected agents', color: '#2f6fdb', values: s.connected },
      { name: 'registered entries', color: '#1f8a4c', values: s.registered },
      { name: 'server streams', color: '#9aa3b2', values: s.streams ?? [] },
    ]),
    chart(
      'Push convergence (per interval)',
      [
        { name: 'p50', color: '#1f8a4c', values: s.convergenceP50Ms },
        { name: 'p90', color: '#e08a00', values: s.convergenceP90Ms },
        { name: 'p99', color: '#c62828', values: s.convergenceP99Ms },
      ],
      fmtMs,
    ),
    chart('Pushes per second', [{ name: 'pushes/s', color: '#7a3fc4', values: s.pushesPerSec }]),
    chart('Server CPU (% of one core)', [{ name: `CPU (${r.server.cpu.scope})`, color: '#c62828', values: s.cpuPercent }], (v) => `${+v.toFixed(0)}%`),
    chart(
      'Memory (MiB)',
      [
        // MiB values, so the axis gets round ticks.
        { name: 'process RSS', color: '#2f6fdb', values: s.rssBytes.map((b) => b / MB) },
        { name: 'control-plane heap', color: '#e08a00', values: s.heapUsedBytes.map((b) => b / MB) },
      ],
      (v) => `${+v.toFixed(0)}`,
    ),
  ];
  return `<div class="charts">${charts.join('\n')}</div>`;
}

/** The scenario's emulated links and their relays' figures ('' without a network block). */
export function networkSection(r: Pick<RunReport, 'network'>): string {
  const links = r.network?.links;
  if (!links?.length) return '';
  const kib = (v: number) => (v >= MB ? `${(v / MB).toFixed(1)} MiB` : `${(v / 1024).toFixed(1)} KiB`);
  const rows = links
    .map(
      (l) =>
        `<tr><td>${esc(l.name)}</td><td>${esc([l.select.group, l.select.locality].filter(Boolean).join(' in '))}</td><td>${esc(l.shape)}</td><td class="num">${l.connections}</td><td class="num">${kib(l.bytesToServer)}</td><td class="num">${kib(l.bytesToAgents)}</td><td class="num">${kib(l.maxHeldBytes)}</td><td class="num">${l.partitions}/${l.heals}</td><td class="num">${l.heldConnections}</td><td class="num">${l.resetAtHeal}</td><td class="num">${l.lossStalls}</td></tr>`,
    )
    .join('');
  return `<h2>Network</h2><p class="sub">Emulated links (TCP relays: delay, jitter, rate, loss as retransmission stalls, partitions); the selected agents connected through them, everyone else directly.</p>
<table><thead><tr><th>link</th><th>agents</th><th>shape</th><th>connections</th><th>to server</th><th>to agents</th><th>max held / conn</th><th>partitions / heals</th><th>held connects</th><th>reset at heal</th><th>loss stalls</th></tr></thead><tbody>${rows}</tbody></table>`;
}

export function renderHtml(r: RunReport): string {
  const card = (value: string, label: string) => `<div class="card"><b>${esc(value)}</b><span>${esc(label)}</span></div>`;
  const c = r.convergence;
  const cards = [
    card(`${r.agents.registered} / ${r.agents.total}`, 'agents registered (end)'),
    card(String(r.agents.connectedPeak), 'peak connected'),
    card(c.count ? `${fmtMs(c.p50Ms)} / ${fmtMs(c.p99Ms)}` : 'n/a', 'convergence p50 / p99'),
    card(c.count ? fmtMs(c.maxMs) : 'n/a', 'convergence max'),
    card(String(r.pushes), 'pushes'),
    card(String(r.nacks), 'NACKs'),
    card(String(r.errors), 'errors'),
    card(r.leakedEntries === null ? 'n/a' : String(r.leakedEntries), 'leaked entries'),
    card(`${r.server.cpu.avgPercent.toFixed(0)}% (peak ${r.server.cpu.peakPercent.toFixed(0)}%)`, 'server CPU avg'),
    card(fmtBytes(r.server.rssBytes), 'peak RSS'),
  ];
  const cc = r.clientConvergence?.all;
  if (cc?.count) cards.push(card(`${fmtMs(cc.p50Ms)} / ${fmtMs(cc.p99Ms)}`, 'change -> every agent p50 / p99'));
  const tm = r.targetMetrics;
  if (tm?.convergence?.count && tm.convergence.p50Ms !== null && tm.convergence.p99Ms !== null) cards.push(card(`${fmtMs(tm.convergence.p50Ms)} / ${fmtMs(tm.convergence.p99Ms)}`, 'target convergence p50 / p99'));
  if (tm?.cpu) cards.push(card(`${tm.cpu.avgPercent.toFixed(0)}%`, 'target CPU avg'));
  if (tm?.rssBytes) cards.push(card(fmtBytes(tm.rssBytes.peak), 'target peak RSS'));
  const exp = r.expectations
    .map(
      (e) =>
        `<tr class="${e.pass ? '' : 'f'}"><td class="${e.pass ? 'ok' : 'ko'}">${e.pass ? 'PASS' : 'FAIL'}</td><td>${esc(e.name)}</td><td>${e.atMs !== undefined ? `${+(e.atMs / 1000).toFixed(1)}s` : 'run'}</td><td>${esc(e.detail)}</td></tr>`,
    )
    .join('');
  const tl = r.timeline
    .map(
      (e) =>
        `<tr class="${e.ok ? '' : 'f'}"><td class="num">${+(e.atMs / 1000).toFixed(1)}s</td><td class="num">${+(e.ranAtMs / 1000).toFixed(2)}s</td><td>${esc(e.label)}</td><td>${esc(e.result)}</td></tr>`,
    )
    .join('');
  const lat = (label: string, l: { count: number; p50Ms: number; p90Ms: number; p99Ms: number; maxMs: number } | undefined) =>
    l && l.count ? `<tr><td>${esc(label)}</td><td class="num">${l.count}</td><td class="num">${fmtMs(l.p50Ms)}</td><td class="num">${fmtMs(l.p90Ms)}</td><td class="num">${fmtMs(l.p99Ms)}</td><td class="num">${fmtMs(l.maxMs)}</td></tr>` : '';
  const notes = r.notes.length ? `<h2>Notes</h2><ul>${r.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>xdsim: ${esc(r.scenario.name)}</title><style>${CSS}</style></head><body>
<h1>${esc(r.scenario.name)} <span class="verdict ${r.pass ? 'pass' : 'fail'}">${r.pass ? 'PASS' : 'FAIL'}</span></h1>
<p class="sub">${esc(r.scenario.description)}<br><code>${esc(r.scenario.file)}</code> &middot; started ${esc(r.startedAt)} &middot; ${+(r.wallMs / 1000).toFixed(1)}s wall &middot; ${esc(r.host.node)} on ${r.host.cpus} CPU(s)${r.shards > 1 ? ` &middot; ${r.shards} shards merged` : ''}</p>
<div class="cards">${cards.join('')}</div>
<h2>Expectations (${r.expectations.filter((e) => e.pass).length}/${r.expectations.length} passed)</h2>
<table><thead><tr><th></th><th>expectation</th><th>at</th><th>detail</th></tr></thead><tbody>${exp || '<tr><td colspan="4">none</td></tr>'}</tbody></table>
${trafficSection(r)}
<h2>Charts</h2>${chartsSection(r)}
<h2>Latency</h2><table><thead><tr><th></th><th>samples</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr></thead><tbody>
${lat('push convergence (change -> all ACKed)', r.convergence)}${lat('change -> every subscribed agent holds it (agents)', r.clientConvergence?.all)}${Object.entries(r.clientConvergence?.byKind ?? {}).map(([k, v]) => lat(`… ${k}`, v)).join('')}${lat('agent connect (stream -> first response)', r.agents.connect)}${lat('registration visible in EDS', r.agents.edsVisible)}
</tbody></table>
<h2>Timeline</h2><table><thead><tr><th>at</th><th>ran</th><th>event</th><th>result</th></tr></thead><tbody>${tl || '<tr><td colspan="4">no events</td></tr>'}</tbody></table>
${networkSection(r)}
${notes}
</body></html>
`;
}
