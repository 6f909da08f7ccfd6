// The fan-out bench's comparison in a picture: one self-contained HTML page (inline CSS and SVG,
// no script, no fetches) rendered from a bench/xds-fanout.ts run alone. `npm run bench:peers`
// writes it to bench/results/peers.html (`--html <file>` elsewhere). The side-by-side table is
// built by `tableRows`, the same function the bench prints its table with, so the page and the
// terminal show the same numbers.
import { CSS } from '../src/report/html.js';
import { escapeXml as esc, niceTicks } from '../src/report/svg.js';

export const PEER_MODES = ['raw', 'http2', 'xdsim', 'istiod', 'gcp'] as const;
export type PeerMode = (typeof PEER_MODES)[number];

export const PEER_LABEL: Record<PeerMode, string> = { raw: 'raw grpc-js floor', http2: 'node:http2 floor', xdsim: 'xdsim', istiod: 'istiod peer', gcp: 'go-control-plane' };
const COLOR: Record<PeerMode, string> = { http2: '#8a93a3', raw: '#7a3fc4', xdsim: '#2f6fdb', istiod: '#e08a00', gcp: '#1f8a4c' };

/** Per-stream convergence of one server: quantiles pooled over every measured round and turn. */
export interface StreamDistribution {
  p50: number;
  p90?: number;
  p99: number;
  max?: number;
  /** 101 values: the 0th, 1st, ..., 100th percentile (ms) of every stream's time in every round. */
  cdf?: number[];
  /** The same per turn (`--repeat`). */
  perRun?: { p50: number; p90: number; p99: number; max: number }[];
}

/** What the page reads of one server's results (the shape bench/xds-fanout.ts writes). */
export interface PeerModeResult {
  clientSide: {
    allSeenMs: { p50: number; p99: number; max: number; perRun: number[]; perRound?: number[][] };
    perStreamMs: StreamDistribution;
  };
  serverCpuMsPerChange: number;
  serverCpuMsPerChangePerRun: number[];
  rssPerConnBytes: number;
  rssPerConnBytesPerRun: number[];
  incompleteRounds: number;
  loadAverage1m: number[];
}

export interface PeersRun {
  date: string;
  streams: number;
  clients: number;
  rounds: number;
  repeat: number;
  node: string;
  cpus: number;
  results: Partial<Record<PeerMode, PeerModeResult>>;
  ratios: Record<string, number>;
  /** Servers asked for that did not run (or stopped part-way), with why. */
  failed?: Partial<Record<PeerMode, string>>;
  /** Servers not asked for (not in --modes) are listed by the page as such. */
  modes?: PeerMode[];
  context?: { commit?: string; cpuModel?: string; memGiB?: number; loadAverage?: number[]; host?: string };
  note?: string;
}

export interface PeersPageInput {
  run: PeersRun;
  /** Goals by ratio name, as in the results file ('<= 0.33'). */
  goal: Record<string, string>;
  /** Runs at other stream counts on file (their distributions are drawn too, where recorded). */
  others?: PeersRun[];
}

/** The side-by-side table, as printed by the bench and shown on the page: header row first. */
export function tableRows(modes: readonly PeerMode[], results: Partial<Record<PeerMode, PeerModeResult>>): string[][] {
  const rows = [['server', 'all have it p50', 'p99', 'per stream p50', 'CPU/change', 'RSS/conn', 'load 1m']];
  for (const m of modes) {
    const r = results[m];
    if (!r) continue;
    rows.push([PEER_LABEL[m], `${r.clientSide.allSeenMs.p50} ms`, `${r.clientSide.allSeenMs.p99} ms`, `${r.clientSide.perStreamMs.p50} ms`, `${r.serverCpuMsPerChange} ms`, `${(r.rssPerConnBytes / 1024).toFixed(1)} KB`, r.loadAverage1m.join('/')]);
  }
  return rows;
}

const r2 = (n: number) => Math.round(n * 100) / 100;
const fmt = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? 'n/a' : String(+n.toPrecision(4)));
const spread = (xs: readonly number[], f: (n: number) => string = fmt) => (xs.length ? `${f(Math.min(...xs))}..${f(Math.max(...xs))}` : 'n/a');
const kb = (b: number) => (b / 1024).toFixed(1);

/** Runs-order modes present in results, in the bench's order. */
function ranModes(run: PeersRun): PeerMode[] {
  const order = run.modes ?? [...PEER_MODES];
  return order.filter((m) => run.results[m]);
}

/** Overlaid CDFs of the per-stream convergence time: x ms, y fraction of streams that have the change. */
export function cdfChart(run: PeersRun, opts: { width?: number; height?: number } = {}): string {
  const W = opts.width ?? 1100;
  const H = opts.height ?? 400;
  const m = { l: 52, r: 16, t: 30, b: 58 };
  const iw = W - m.l - m.r;
  const ih = H - m.t - m.b;
  const curves = ranModes(run)
    .map((mode) => ({ mode, cdf: run.results[mode]!.clientSide.perStreamMs.cdf }))
    .filter((c): c is { mode: PeerMode; cdf: number[] } => Array.isArray(c.cdf) && c.cdf.length > 1);
  const title = `Time from the change until each stream has it, ${run.streams} streams (${run.repeat} x ${run.rounds} rounds pooled)`;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}" data-streams="${run.streams}">`);
  out.push(`<text x="${m.l}" y="18" class="ct">${esc(title)}</text>`);
  if (!curves.length) {
    out.push(`<text x="${m.l}" y="${m.t + 30}" class="lg">no per-stream distribution recorded for this run</text></svg>`);
    return out.join('');
  }
  const xMax = Math.max(1, ...curves.map((c) => c.cdf[c.cdf.length - 1]!));
  const xTicks = niceTicks(xMax, 8);
  const xTop = xTicks[xTicks.length - 1]!;
  const sx = (x: number) => m.l + (x / xTop) * iw;
  const sy = (y: number) => m.t + ih - y * ih;
  for (const t of [0, 0.25, 0.5, 0.75, 0.9, 1]) {
    const y = sy(t).toFixed(1);
    out.push(`<line x1="${m.l}" x2="${m.l + iw}" y1="${y}" y2="${y}" class="grid"/><text x="${m.l - 6}" y="${y}" class="yl" dy="0.32em">${t}</text>`);
  }
  for (const t of xTicks) out.push(`<line x1="${sx(t).toFixed(1)}" x2="${sx(t).toFixed(1)}" y1="${m.t}" y2="${m.t + ih}" class="grid"/><text x="${sx(t).toFixed(1)}" y="${m.t + ih + 14}" class="xl">${t}</text>`);
  out.push(`<text x="${m.l + iw / 2}" y="${m.t + ih + 30}" class="xl">ms after the change was asked for</text>`);
  out.push(`<text x="14" y="${m.t + ih / 2}" class="xl" transform="rotate(-90 14 ${m.t + ih / 2})">fraction of streams</text>`);
  out.push(`<line x1="${m.l}" x2="${m.l + iw}" y1="${m.t + ih}" y2="${m.t + ih}" class="axis"/><line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${m.t + ih}" class="axis"/>`);
  for (const c of curves) {
    // A step curve through the percentiles: fraction i/100 of the streams had it by cdf[i] ms.
    let d = `M${sx(c.cdf[0]!).toFixed(1)},${sy(0).toFixed(1)}`;
    c.cdf.forEach((v, i) => {
      if (i === 0) return;
      d += `H${sx(v).toFixed(1)}V${sy(i / (c.cdf.length - 1)).toFixed(1)}`;
    });
    const r = run.results[c.mode]!.clientSide.perStreamMs;
    out.push(`<path class="cdf" data-server="${c.mode}" d="${d}" fill="none" stroke="${COLOR[c.mode]}" stroke-width="${c.mode === 'xdsim' ? 2.4 : 1.6}"><title>${esc(`${PEER_LABEL[c.mode]}: p50 ${fmt(r.p50)} ms, p90 ${fmt(r.p90)} ms, p99 ${fmt(r.p99)} ms, max ${fmt(r.max)} ms`)}</title></path>`);
  }
  let lx = m.l;
  for (const c of curves) {
    out.push(`<rect x="${lx}" y="${H - 14}" width="12" height="4" fill="${COLOR[c.mode]}"/><text x="${lx + 16}" y="${H - 9}" class="lg">${esc(PEER_LABEL[c.mode])}</text>`);
    lx += 30 + PEER_LABEL[c.mode].length * 6.5;
  }
  out.push('</svg>');
  return out.join('');
}

interface Bar {
  label: string;
  value: number;
  /** min..max over turns, drawn as a whisker. */
  range?: [number, number];
  color: string;
  text: string;
}

/** Horizontal bars with optional whiskers and vertical goal lines. */
export function barChart(o: { title: string; bars: Bar[]; goals?: { x: number; label: string }[]; unit: string; width?: number; id: string }): string {
  const W = o.width ?? 560;
  const rowH = 26;
  const m = { l: 190, r: 70, t: o.goals?.length ? 46 : 30, b: 30 };
  const H = m.t + m.b + rowH * Math.max(1, o.bars.length);
  const iw = W - m.l - m.r;
  const top = Math.max(...o.bars.map((b) => Math.max(b.value, b.range?.[1] ?? 0)), ...(o.goals ?? []).map((g) => g.x), 1e-9);
  const ticks = niceTicks(top, 5);
  const xTop = ticks[ticks.length - 1]!;
  const sx = (x: number) => m.l + (x / xTop) * iw;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(o.title)}" data-chart="${o.id}">`);
  out.push(`<text x="12" y="18" class="ct">${esc(o.title)}</text>`);
  for (const t of ticks) out.push(`<line x1="${sx(t).toFixed(1)}" x2="${sx(t).toFixed(1)}" y1="${m.t}" y2="${H - m.b}" class="grid"/><text x="${sx(t).toFixed(1)}" y="${H - m.b + 14}" class="xl">${t}${esc(o.unit)}</text>`);
  o.bars.forEach((b, i) => {
    const y = m.t + i * rowH;
    out.push(`<text x="${m.l - 8}" y="${y + rowH / 2}" class="yl" dy="0.32em">${esc(b.label)}</text>`);
    out.push(`<rect class="bar" data-label="${esc(b.label)}" data-value="${b.value}" x="${m.l}" y="${y + 5}" width="${Math.max(0.5, sx(b.value) - m.l).toFixed(1)}" height="${rowH - 10}" fill="${b.color}" opacity="0.85"><title>${esc(`${b.label}: ${b.text}`)}</title></rect>`);
    if (b.range) {
      const [lo, hi] = b.range;
      const yc = (y + rowH / 2).toFixed(1);
      out.push(`<path class="spread" d="M${sx(lo).toFixed(1)},${yc}H${sx(hi).toFixed(1)}M${sx(lo).toFixed(1)},${y + 8}V${y + rowH - 8}M${sx(hi).toFixed(1)},${y + 8}V${y + rowH - 8}" stroke="#1d2330" stroke-width="1.2" fill="none"><title>${esc(`per turn ${fmt(lo)}..${fmt(hi)}`)}</title></path>`);
    }
    out.push(`<text x="${Math.max(sx(b.value), b.range ? sx(b.range[1]) : 0) + 5}" y="${y + rowH / 2}" class="lg" dy="0.32em">${esc(b.text)}</text>`);
  });
  for (const g of o.goals ?? []) {
    const x = sx(g.x).toFixed(1);
    out.push(`<line class="goal" data-goal="${g.x}" x1="${x}" x2="${x}" y1="${m.t - 4}" y2="${H - m.b}" stroke="#c62828" stroke-width="1.5" stroke-dasharray="4 3"/><text x="${x}" y="${m.t - 7}" class="mk" fill="#c62828" text-anchor="middle">${esc(g.label)}</text>`);
  }
  out.push('</svg>');
  return out.join('');
}

interface RatioRow {
  name: string;
  what: string;
  peer: PeerMode;
  base: PeerMode;
  value: number | undefined;
  perTurn: number[];
  goal: string | undefined;
}

/** The goal's bound from '<= 0.33'. */
function goalBound(goal: string | undefined): number | undefined {
  const m = goal ? /<=\s*([\d.]+)/.exec(goal) : null;
  return m ? Number(m[1]) : undefined;
}

function ratioRows(run: PeersRun, goal: Record<string, string>): RatioRow[] {
  const n = run.streams;
  const R = run.results;
  const rows: RatioRow[] = [];
  const perTurn = (base: PeerMode, peer: PeerMode, f: (r: PeerModeResult) => number[]) => {
    const a = R[base] ? f(R[base]!) : [];
    const b = R[peer] ? f(R[peer]!) : [];
    return a.slice(0, Math.min(a.length, b.length)).map((v, i) => r2(v / b[i]!));
  };
  const add = (peer: PeerMode, name: string, base: PeerMode = 'xdsim') => {
    const metrics: [string, string, (r: PeerModeResult) => number[]][] = [
      [`fanout_${n}_vs_${name}`, 'time until every stream has it, p50', (r) => r.clientSide.allSeenMs.perRun],
      [`cpu_per_change_${n}_vs_${name}`, 'server CPU per change', (r) => r.serverCpuMsPerChangePerRun],
      [`rss_per_conn_${n}_vs_${name}`, 'RSS per connection', (r) => r.rssPerConnBytesPerRun],
    ];
    for (const [key, what, f] of metrics) {
      // The goals are named fanout_5000_vs_x, cpu_per_change_vs_x and rss_per_conn_vs_x, and set
      // for 5,000 streams; other stream counts are held to them too, and say so.
      const g = goal[key] ?? goal[key.replace(`_${n}_`, '_5000_')] ?? goal[key.replace(`_${n}_`, '_')];
      rows.push({ name: key, what, peer, base, value: run.ratios[key], perTurn: perTurn(base, peer, f), goal: g && n !== 5000 ? `${g} (set for 5000 streams)` : g });
    }
  };
  add('istiod', 'istiod');
  add('gcp', 'go_control_plane');
  add('http2', 'http2_floor');
  return rows;
}

export function renderPeersPage(input: PeersPageInput): string {
  const { run, goal } = input;
  const modes = ranModes(run);
  const asked = new Set(run.modes ?? modes);
  const rows = tableRows(modes, run.results);
  const R = run.results;
  const ctx = run.context ?? {};

  // The side-by-side table, exactly as printed, plus spread and incomplete rounds.
  const head = `<tr>${rows[0]!.map((h) => `<th>${esc(h)}</th>`).join('')}<th>all have it p50 per turn (min..max)</th><th>CPU/change per turn</th><th>RSS/conn per turn (KB)</th><th>incomplete rounds</th></tr>`;
  const body = modes
    .map((m, i) => {
      const r = R[m]!;
      const cells = rows[i + 1]!.map((c, j) => `<td${j ? ' class="num"' : ''}>${esc(c)}</td>`).join('');
      return `<tr data-server="${m}">${cells}<td class="num">${spread(r.clientSide.allSeenMs.perRun)} ms</td><td class="num">${spread(r.serverCpuMsPerChangePerRun)} ms</td><td class="num">${spread(r.rssPerConnBytesPerRun, kb)}</td><td class="num">${r.incompleteRounds}</td></tr>`;
    })
    .join('');
  const whyNotRun = (m: PeerMode) => run.failed?.[m] ?? (asked.has(m) ? 'no result recorded' : 'not in --modes');
  const missing = PEER_MODES.filter((m) => !R[m]).map((m) => {
    const why = whyNotRun(m);
    return `<tr class="f" data-server="${m}" data-not-run="1"><td>${esc(PEER_LABEL[m])}</td><td colspan="10"><b>not run</b>: ${esc(why)}</td></tr>`;
  });
  const partial = modes.filter((m) => run.failed?.[m]).map((m) => `<li>${esc(PEER_LABEL[m])} stopped part-way: ${esc(run.failed![m]!)}</li>`);

  // Percentiles of the per-stream distribution.
  const pct = modes
    .map((m) => {
      const d = R[m]!.clientSide.perStreamMs;
      const turns = d.perRun ?? [];
      const sp = (f: (t: { p50: number; p90: number; p99: number; max: number }) => number) => (turns.length > 1 ? ` <span class="sub">(${spread(turns.map(f))})</span>` : '');
      return `<tr data-server="${m}"><td><span class="sw" style="background:${COLOR[m]}"></span>${esc(PEER_LABEL[m])}</td><td class="num">${fmt(d.p50)}${sp((t) => t.p50)}</td><td class="num">${fmt(d.p90)}${sp((t) => t.p90)}</td><td class="num">${fmt(d.p99)}${sp((t) => t.p99)}</td><td class="num">${fmt(d.max)}${sp((t) => t.max)}</td><td class="num">${fmt(R[m]!.clientSide.allSeenMs.p50)}</td></tr>`;
    })
    .join('');

  const cpuBars = barChart({
    id: 'cpu',
    title: 'Server CPU per change (median over rounds; whisker: per-turn min..max)',
    unit: ' ms',
    bars: modes.map((m) => ({ label: PEER_LABEL[m], value: R[m]!.serverCpuMsPerChange, range: minMax(R[m]!.serverCpuMsPerChangePerRun), color: COLOR[m], text: `${R[m]!.serverCpuMsPerChange} ms` })),
  });
  const rssBars = barChart({
    id: 'rss',
    title: 'Server RSS per connection (whisker: per-turn min..max)',
    unit: ' KB',
    bars: modes.map((m) => ({ label: PEER_LABEL[m], value: R[m]!.rssPerConnBytes / 1024, range: minMax(R[m]!.rssPerConnBytesPerRun.map((b) => b / 1024)), color: COLOR[m], text: `${kb(R[m]!.rssPerConnBytes)} KB` })),
  });

  const ratios = ratioRows(run, goal);
  const ratioTable = ratios
    .map((r) => {
      const bound = goalBound(r.goal);
      const notRun = r.value === undefined;
      const why = !R[r.peer] ? `${PEER_LABEL[r.peer]} not run` : !R[r.base] ? `${PEER_LABEL[r.base]} not run` : 'not computed';
      const met = notRun || bound === undefined ? '' : r.value! <= bound ? '<span class="ok">yes</span>' : '<span class="ko">no</span>';
      return `<tr data-ratio="${r.name}"><td><code>${esc(r.name)}</code></td><td>${esc(r.what)}</td><td class="num">${notRun ? esc(why) : fmt(r.value)}</td><td class="num">${r.perTurn.length ? `${r.perTurn.join(', ')} (${spread(r.perTurn)})` : ''}</td><td>${esc(r.goal ?? '')}</td><td>${met}</td></tr>`;
    })
    .join('');
  const ratioChart = (peer: PeerMode, name: string) => {
    const rs = ratios.filter((r) => r.peer === peer);
    const bound = goalBound(rs.find((r) => r.goal)?.goal);
    const absent: PeerMode | undefined = !R[peer] ? peer : !R.xdsim ? 'xdsim' : undefined;
    if (absent) return `<div class="none" data-ratio-chart="${name}">xdsim / ${esc(PEER_LABEL[peer])}: ${esc(PEER_LABEL[absent])} not run (${esc(whyNotRun(absent))})</div>`;
    return barChart({
      id: `ratio-${name}`,
      title: `xdsim / ${PEER_LABEL[peer]} (lower is better; whisker: per turn)`,
      unit: 'x',
      bars: rs.filter((r) => r.value !== undefined).map((r) => ({ label: r.what.replace(', p50', ''), value: r.value!, range: minMax(r.perTurn), color: COLOR.xdsim, text: `${r.value}x` })),
      goals: [...(bound !== undefined ? [{ x: bound, label: `goal ${bound}x` }] : []), { x: 1, label: 'parity' }],
    });
  };

  const others = (input.others ?? []).filter((o) => o.streams !== run.streams).sort((a, b) => a.streams - b.streams);
  const otherCharts = others.map((o) => `<div><p class="sub">${o.streams} streams, ${esc(o.date)}, ${o.repeat} x ${o.rounds} rounds</p>${cdfChart(o)}</div>`).join('');
  const load = modes.flatMap((m) => R[m]!.loadAverage1m);
  const context: [string, string][] = [
    ['streams', `${run.streams} (${run.clients} client processes, one HTTP/2 connection per stream)`],
    ['rounds', `${run.repeat} turns (--repeat) x ${run.rounds} measured changes per server`],
    ['date', run.date],
    ['node', run.node],
    ['machine', `${run.cpus} CPUs${ctx.cpuModel ? ` (${ctx.cpuModel})` : ''}${ctx.memGiB ? `, ${ctx.memGiB} GiB` : ''}${ctx.host ? `, ${ctx.host}` : ''}`],
    ['commit', ctx.commit ?? 'unknown'],
    ['load average 1m while measuring', load.length ? spread(load) : 'n/a'],
    ...(run.note ? ([['settings', run.note]] as [string, string][]) : []),
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>xdsim against its peers: ${run.streams} streams</title><style>${CSS}
.sw{display:inline-block;width:12px;height:4px;margin-right:6px;vertical-align:middle}.none{border:1px dashed #c62828;border-radius:8px;padding:10px;color:#c62828}
.ctx td:first-child{color:#5b6474;width:220px}
.wide svg{border:1px solid #dde2ea;border-radius:8px;background:#fff;max-width:100%;height:auto}
</style></head><body>
<h1>xdsim against its peers: fan-out of one change to ${run.streams} streams</h1>
<p class="sub">One endpoint change, ${run.streams} ADS streams (one HTTP/2 connection each) from the same client processes, every server in turn; debounce off everywhere. Times are client-side: from the parent's clock just before it asks for the change until a stream received a response carrying it. Lower is better. From <code>bench/xds-fanout.ts</code>; see <code>docs/peers.md</code>.</p>
<h2>Side by side</h2>
<table class="side"><thead>${head}</thead><tbody>${body}${missing.join('')}</tbody></table>
${partial.length ? `<ul>${partial.join('')}</ul>` : ''}
<h2>Convergence distribution</h2>
<p class="sub">Each curve: the fraction of streams (y) that have the change x ms after it was asked for, every stream of every measured round pooled. Further left and steeper is better; the curve's right end is the slowest stream seen.</p>
<div class="wide">${cdfChart(run)}</div>
<table class="pct"><thead><tr><th>server</th><th>per stream p50 (ms)</th><th>p90</th><th>p99</th><th>max</th><th>every stream has it, p50 of rounds</th></tr></thead><tbody>${pct}</tbody></table>
<p class="sub">In brackets: min..max over the ${run.repeat} turns.</p>
<h2>Cost</h2>
<div class="charts">${cpuBars}${rssBars}</div>
<h2>Ratios (xdsim / other)</h2>
<div class="charts">${ratioChart('istiod', 'istiod')}${ratioChart('gcp', 'go_control_plane')}</div>
<table class="ratios"><thead><tr><th>ratio</th><th>of</th><th>value</th><th>per turn (min..max)</th><th>goal (issue 14)</th><th>met</th></tr></thead><tbody>${ratioTable}</tbody></table>
${otherCharts ? `<h2>Other stream counts on file</h2><div class="wide">${otherCharts}</div>` : ''}
<h2>Run</h2>
<table class="ctx"><tbody>${context.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join('')}</tbody></table>
</body></html>
`;
}

function minMax(xs: readonly number[]): [number, number] | undefined {
  return xs.length > 1 ? [Math.min(...xs), Math.max(...xs)] : undefined;
}

/** The 0th..100th percentiles (nearest rank) of ascending `sorted`: the CDF the page draws. */
export function quantiles(sorted: readonly number[]): number[] {
  if (!sorted.length) return [];
  return Array.from({ length: 101 }, (_, p) => r2(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!));
}
