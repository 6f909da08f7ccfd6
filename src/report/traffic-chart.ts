// Where a proxy's traffic went, as pictures: stacked areas of the client model's share per
// locality and per priority over the run, and the endpoints per locality the proxy received,
// with the timeline steps and the expectation checkpoints drawn as labelled vertical markers.
// Inline SVG like svg.ts, so report.html stays one file without script.
import { escapeXml as esc, niceTicks } from './svg.js';
import type { ExpectationResult, TimelineRecord, TrafficSeries } from './types.js';

export interface Layer {
  name: string;
  color: string;
  /** One value per x; null: no data at that sample (a gap in every layer). */
  values: readonly (number | null)[];
  /** Drawn with a hatch (e.g. unhealthy endpoints). */
  hatch?: boolean;
  bold?: boolean;
}

export interface Marker {
  x: number;
  label: string;
  kind: 'step' | 'pass' | 'fail';
}

export interface StackedOptions {
  title: string;
  x: readonly number[];
  layers: readonly Layer[];
  markers?: readonly Marker[];
  /** Fixed top of the y axis (1 for shares); default: the largest stack. */
  yMax?: number;
  yFormat?: (v: number) => string;
  width?: number;
  /** Extra line under the title. */
  subtitle?: string;
}

const MAX_LABEL_ROWS = 4;
const MARK_COLOR = { step: '#e08a00', pass: '#1f8a4c', fail: '#c62828' } as const;
const fmtSeconds = (ms: number) => `${+(ms / 1000).toFixed(1)}s`;
const pctFmt = (v: number) => `${+(v * 100).toFixed(0)}%`;

export function stackedAreaChart(o: StackedOptions): string {
  const W = o.width ?? 1120;
  // Legend columns as wide as the longest name (bold ones run wider).
  const colW = Math.max(120, ...o.layers.map((l) => l.name.length * (l.bold ? 6.6 : 6) + 26));
  const legendCols = Math.max(1, Math.floor((W - 70) / colW));
  const legendRows = Math.ceil(o.layers.length / legendCols);
  const markers = [...(o.markers ?? [])].sort((a, b) => a.x - b.x);
  const xMax = Math.max(1, o.x[o.x.length - 1] ?? 1);
  const m = { l: 58, r: 16, t: o.subtitle ? 44 : 30, b: 0 };
  const iw = W - m.l - m.r;
  const sx = (x: number) => m.l + (x / xMax) * iw;
  // Marker labels sit in up to MAX_LABEL_ROWS rows above the plot, each in the first row where
  // it fits; checkpoints are placed first. Markers closer than a few pixels share one label
  // ("... +3"), and a label that finds no room leaves its line with a tooltip only.
  const groups: { x: number; items: Marker[] }[] = [];
  for (const mk of markers) {
    const g = groups[groups.length - 1];
    if (g && sx(mk.x) - sx(g.x) < 6 && g.items[0]!.kind === mk.kind) g.items.push(mk);
    else groups.push({ x: mk.x, items: [mk] });
  }
  const rows: [number, number][][] = [];
  const placed: { mk: Marker; text: string; x0: number; row: number; w: number; anchorEnd: boolean }[] = [];
  const order = [...groups].sort((a, b) => (a.items[0]!.kind === 'step' ? 1 : 0) - (b.items[0]!.kind === 'step' ? 1 : 0) || a.x - b.x);
  for (const g of order) {
    const first = g.items[0]!;
    const base = first.label.length > 34 ? `${first.label.slice(0, 33)}…` : first.label;
    const text = g.items.length > 1 ? `${base} +${g.items.length - 1}` : base;
    const w = text.length * 5.6 + 6;
    const lx = sx(g.x);
    // Near the right edge the label goes to the left of its line.
    const anchorEnd = lx + 3 + w > W - m.r;
    const span: [number, number] = anchorEnd ? [lx - 3 - w, lx] : [lx, lx + 3 + w];
    let row = rows.findIndex((r) => r.every(([a, b]) => span[1] < a || span[0] > b));
    if (row < 0 && rows.length < MAX_LABEL_ROWS) row = rows.push([]) - 1;
    if (row < 0) continue;
    rows[row]!.push(span);
    placed.push({ mk: { ...first, label: g.items.map((i) => i.label).join('; ') }, text, x0: anchorEnd ? lx - 3 : lx + 3, row, w, anchorEnd });
  }
  const unlabelled = markers;
  const labelRows = rows.length;
  const labelTop = m.t;
  const plotTop = labelTop + labelRows * 13 + 4;
  const ih = 200;
  const H = plotTop + ih + 22 + legendRows * 16 + 8;
  const n = o.x.length;
  // Stack tops per sample; null where any layer lacks data.
  const valid = Array.from({ length: n }, (_, i) => o.layers.every((l) => l.values[i] !== null && l.values[i] !== undefined && Number.isFinite(l.values[i]!)));
  const tops: number[][] = [];
  let acc = new Array<number>(n).fill(0);
  for (const l of o.layers) {
    acc = acc.map((a, i) => a + (valid[i] ? (l.values[i] as number) : 0));
    tops.push(acc);
  }
  const stackMax = Math.max(0, ...acc);
  const yTicks = o.yMax !== undefined ? [0, 0.25, 0.5, 0.75, 1].map((f) => f * o.yMax!) : niceTicks(stackMax, 4);
  const yTop = yTicks[yTicks.length - 1]! || 1;
  const sy = (y: number) => plotTop + ih - (Math.min(y, yTop) / yTop) * ih;
  const fmt = o.yFormat ?? ((v: number) => String(+v.toPrecision(3)));
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(o.title)}" class="traffic">`);
  out.push('<defs><pattern id="hatch" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fbe3e1"/><line x1="0" y1="0" x2="0" y2="6" stroke="#c62828" stroke-width="2.5"/></pattern></defs>');
  out.push(`<text x="${m.l}" y="16" class="ct">${esc(o.title)}</text>`);
  if (o.subtitle) out.push(`<text x="${m.l}" y="32" class="lg">${esc(o.subtitle)}</text>`);
  // Runs of samples with data: each layer is one polygon per run.
  const runs: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    if (!valid[i]) continue;
    let j = i;
    while (j + 1 < n && valid[j + 1]) j++;
    runs.push([i, j]);
    i = j;
  }
  o.layers.forEach((l, k) => {
    const top = tops[k]!;
    const below = k > 0 ? tops[k - 1]! : new Array<number>(n).fill(0);
    let d = '';
    for (const [a, b] of runs) {
      // Step-after: a sample's value holds until the next sample, so a failover reads as the
      // switch it is rather than a ramp between two samples. The last sample gets a sliver.
      const xEnd = (i: number) => (i < b ? sx(o.x[i + 1]!) : Math.min(sx(o.x[i]!) + 3, m.l + iw));
      const up: string[] = [];
      const down: string[] = [];
      for (let i = a; i <= b; i++) up.push(`${sx(o.x[i]!).toFixed(1)},${sy(top[i]!).toFixed(1)}L${xEnd(i).toFixed(1)},${sy(top[i]!).toFixed(1)}`);
      for (let i = b; i >= a; i--) down.push(`${xEnd(i).toFixed(1)},${sy(below[i]!).toFixed(1)}L${sx(o.x[i]!).toFixed(1)},${sy(below[i]!).toFixed(1)}`);
      d += `M${up.join('L')}L${down.join('L')}Z`;
    }
    if (d) out.push(`<path d="${d}" fill="${l.hatch ? 'url(#hatch)' : l.color}" stroke="${l.hatch ? '#c62828' : '#ffffff'}" stroke-width="0.6" class="layer"><title>${esc(l.name)}</title></path>`);
  });
  for (const t of yTicks) {
    const y = sy(t).toFixed(1);
    out.push(`<line x1="${m.l}" x2="${m.l + iw}" y1="${y}" y2="${y}" stroke="#ffffff" stroke-opacity="0.45"/>`);
    out.push(`<text x="${m.l - 6}" y="${y}" class="yl" dy="0.32em">${esc(fmt(t))}</text>`);
  }
  for (const t of niceTicks(xMax, 10)) {
    if (t > xMax) continue;
    out.push(`<text x="${sx(t).toFixed(1)}" y="${plotTop + ih + 14}" class="xl">${fmtSeconds(t)}</text>`);
  }
  out.push(`<line x1="${m.l}" x2="${m.l + iw}" y1="${plotTop + ih}" y2="${plotTop + ih}" class="axis"/>`);
  if (runs.length === 0) out.push(`<text x="${m.l + iw / 2}" y="${plotTop + ih / 2}" class="xl">no data</text>`);
  for (const mk of unlabelled) {
    const x = sx(mk.x).toFixed(1);
    out.push(`<g class="marker ${mk.kind}"><title>${esc(`${fmtSeconds(mk.x)}: ${mk.label}`)}</title><line x1="${x}" x2="${x}" y1="${plotTop}" y2="${plotTop + ih}" stroke="${MARK_COLOR[mk.kind]}" stroke-width="1.5"${mk.kind === 'step' ? ' stroke-dasharray="4 3"' : ''}/></g>`);
  }
  for (const p of placed) {
    const x = sx(p.mk.x).toFixed(1);
    const c = MARK_COLOR[p.mk.kind];
    const ly = labelTop + p.row * 13 + 10;
    out.push(
      `<g class="label ${p.mk.kind}"><title>${esc(`${fmtSeconds(p.mk.x)}: ${p.mk.label}`)}</title>` +
        `<line x1="${x}" x2="${x}" y1="${ly - 9}" y2="${plotTop}" stroke="${c}" stroke-width="1"${p.mk.kind === 'step' ? ' stroke-dasharray="2 2"' : ''}/>` +
        `<rect x="${(p.anchorEnd ? p.x0 - p.w + 4 : p.x0 - 2).toFixed(1)}" y="${ly - 9}" width="${p.w.toFixed(1)}" height="12" fill="#ffffff" fill-opacity="0.9"/>` +
        `<text x="${p.x0.toFixed(1)}" y="${ly}" class="mk" fill="${c}"${p.anchorEnd ? ' text-anchor="end"' : ''}>${esc(p.text)}</text></g>`,
    );
  }
  const legendTop = plotTop + ih + 26;
  o.layers.forEach((l, k) => {
    const col = k % legendCols;
    const row = Math.floor(k / legendCols);
    const x = m.l + col * colW;
    const y = legendTop + row * 16;
    out.push(`<rect x="${x}" y="${y}" width="12" height="10" fill="${l.hatch ? 'url(#hatch)' : l.color}"/><text x="${x + 16}" y="${y + 9}" class="lg"${l.bold ? ' font-weight="700"' : ''}>${esc(l.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('');
}

const REGION_HUES = [212, 145, 32, 280, 0, 180, 60, 320];

/** A colour per locality: a hue per region, lighter per zone, so a region reads as one family. */
export function localityColors(localities: readonly string[]): Map<string, string> {
  const regions = [...new Set(localities.map((l) => l.split('/')[0] ?? ''))].sort();
  const out = new Map<string, string>();
  for (const [ri, r] of regions.entries()) {
    const inRegion = localities.filter((l) => (l.split('/')[0] ?? '') === r).sort();
    const hue = REGION_HUES[ri % REGION_HUES.length]!;
    inRegion.forEach((l, zi) => {
      const light = 32 + (zi * 40) / Math.max(1, inRegion.length);
      out.set(l, `hsl(${hue} ${ri < REGION_HUES.length ? 62 : 30}% ${light.toFixed(0)}%)`);
    });
  }
  return out;
}

const PRIORITY_COLORS = ['#1f8a4c', '#e0a800', '#e06c00', '#c62828', '#7a3fc4', '#5b6474'];

/** Drops trailing empty locality parts: "region-1/zone-1a/sz-1", "r1//" -> "r1". */
const shortLocality = (l: string) => l.replace(/\/+$/, '') || '(none)';

/** Timeline steps and the checkpoints of this proxy's expectations (others' too: they are all moments of the run). */
export function trafficMarkers(timeline: readonly TimelineRecord[], expectations: readonly ExpectationResult[]): Marker[] {
  const marks: Marker[] = timeline.map((e) => ({ x: e.ranAtMs, label: e.label, kind: 'step' as const }));
  for (const e of expectations) {
    if (e.atMs === undefined || e.kind !== 'lbShares') continue;
    marks.push({ x: e.atMs, label: `${e.pass ? '✓' : '✗'} ${e.name}`, kind: e.pass ? 'pass' : 'fail' });
  }
  return marks;
}

/** The three charts of one traffic series. */
export function trafficCharts(tr: TrafficSeries, markers: readonly Marker[]): string[] {
  const colors = localityColors(tr.localities.map((l) => l.locality));
  const who = `proxy in ${shortLocality(tr.proxy.locality) || 'no locality'}${tr.proxy.network ? `, network ${tr.proxy.network}` : ''}${Object.keys(tr.proxy.labels).length ? `, ${Object.entries(tr.proxy.labels).map(([k, v]) => `${k}=${v}`).join(',')}` : ''}`;
  const own = (l: string) => tr.proxy.locality !== '' && l.startsWith(tr.proxy.locality.replace(/\/+$/, ''));
  const sub = `${who} · ${tr.cluster} · ${tr.client} client model`;
  const shares = stackedAreaChart({
    title: 'Where the traffic goes: share of requests per locality',
    subtitle: sub,
    x: tr.t,
    yMax: 1,
    yFormat: pctFmt,
    markers,
    layers: tr.localities.map((l) => ({ name: `${shortLocality(l.locality)}${own(l.locality) ? ' (proxy’s own)' : ''}`, color: colors.get(l.locality)!, values: l.share, bold: own(l.locality) })),
  });
  const priorities = stackedAreaChart({
    title: 'Share of requests per priority (0 = nearest)',
    subtitle: sub,
    x: tr.t,
    yMax: 1,
    yFormat: pctFmt,
    markers,
    layers: tr.priorities.map((p) => ({ name: `priority ${p.priority}`, color: PRIORITY_COLORS[Math.min(p.priority, PRIORITY_COLORS.length - 1)]!, values: p.share })),
  });
  const anyUnhealthy = tr.localities.some((l) => l.unhealthy.some((v) => v > 0));
  const endpointLayers: Layer[] = tr.localities.map((l) => ({ name: `${shortLocality(l.locality)} healthy`, color: colors.get(l.locality)!, values: l.healthy, bold: own(l.locality) }));
  if (anyUnhealthy) {
    for (const l of tr.localities) if (l.unhealthy.some((v) => v > 0)) endpointLayers.push({ name: `${shortLocality(l.locality)} unhealthy`, color: '#c62828', values: l.unhealthy, hatch: true });
  }
  const endpoints = stackedAreaChart({
    title: 'Endpoints the proxy received, per locality',
    subtitle: `${sub}${anyUnhealthy ? '' : ' · unhealthy entries are not sent: a failure shows as endpoints gone'}`,
    x: tr.t,
    yFormat: (v) => String(+v.toFixed(0)),
    markers,
    layers: endpointLayers,
  });
  return [shares, priorities, endpoints];
}
