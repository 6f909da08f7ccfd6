// Small inline-SVG line charts for report.html: no library, no script, so the file opens
// anywhere (CI artifact viewers included) and stays a few tens of KB.

export interface ChartSeries {
  name: string;
  color: string;
  /** One value per x; null leaves a gap. */
  values: readonly (number | null)[];
}

export interface ChartMarker {
  x: number;
  label: string;
}

export interface ChartOptions {
  title: string;
  /** x values (ms from t=0). */
  x: readonly number[];
  series: readonly ChartSeries[];
  markers?: readonly ChartMarker[];
  yFormat?: (v: number) => string;
  width?: number;
  height?: number;
}

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** 1, 2, 5 x 10^n steps giving about `count` ticks from 0 to at least `max`. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(+v.toPrecision(12));
  return ticks;
}

const fmtSeconds = (ms: number) => `${+(ms / 1000).toFixed(1)}s`;

export function lineChart(o: ChartOptions): string {
  const W = o.width ?? 560;
  const H = o.height ?? 220;
  const m = { l: 58, r: 12, t: 28, b: 40 };
  const iw = W - m.l - m.r;
  const ih = H - m.t - m.b;
  const fmt = o.yFormat ?? ((v: number) => String(+v.toPrecision(3)));
  const xMax = Math.max(1, o.x[o.x.length - 1] ?? 1);
  let yMax = 0;
  for (const s of o.series) for (const v of s.values) if (v !== null && Number.isFinite(v) && v > yMax) yMax = v;
  const yTicks = niceTicks(yMax);
  const yTop = yTicks[yTicks.length - 1]!;
  const sx = (x: number) => m.l + (x / xMax) * iw;
  const sy = (y: number) => m.t + ih - (y / yTop) * ih;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeXml(o.title)}">`);
  out.push(`<text x="${m.l}" y="16" class="ct">${escapeXml(o.title)}</text>`);
  for (const t of yTicks) {
    const y = sy(t).toFixed(1);
    out.push(`<line x1="${m.l}" x2="${m.l + iw}" y1="${y}" y2="${y}" class="grid"/>`);
    out.push(`<text x="${m.l - 6}" y="${y}" class="yl" dy="0.32em">${escapeXml(fmt(t))}</text>`);
  }
  for (const t of niceTicks(xMax, 6)) {
    if (t > xMax) continue;
    out.push(`<text x="${sx(t).toFixed(1)}" y="${m.t + ih + 16}" class="xl">${fmtSeconds(t)}</text>`);
  }
  out.push(`<line x1="${m.l}" x2="${m.l + iw}" y1="${m.t + ih}" y2="${m.t + ih}" class="axis"/>`);
  for (const mk of o.markers ?? []) {
    const x = sx(mk.x).toFixed(1);
    out.push(`<line x1="${x}" x2="${x}" y1="${m.t}" y2="${m.t + ih}" class="mark"><title>${escapeXml(`${fmtSeconds(mk.x)}: ${mk.label}`)}</title></line>`);
  }
  for (const s of o.series) {
    // Break the path at nulls: an interval without data is not a zero.
    let d = '';
    let pen = false;
    s.values.forEach((v, i) => {
      const x = o.x[i];
      if (v === null || x === undefined || !Number.isFinite(v)) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(v).toFixed(1)}`;
      pen = true;
    });
    // Lone points would be invisible as a path: draw them as dots.
    const dots = s.values
      .map((v, i) => ({ v, i }))
      .filter(({ v, i }) => v !== null && (s.values[i - 1] ?? null) === null && (s.values[i + 1] ?? null) === null)
      .map(({ v, i }) => `<circle cx="${sx(o.x[i]!).toFixed(1)}" cy="${sy(v!).toFixed(1)}" r="2" fill="${s.color}"/>`)
      .join('');
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.6"><title>${escapeXml(s.name)}</title></path>${dots}`);
  }
  let lx = m.l;
  for (const s of o.series) {
    out.push(`<rect x="${lx}" y="${H - 14}" width="10" height="3" fill="${s.color}"/><text x="${lx + 14}" y="${H - 10}" class="lg">${escapeXml(s.name)}</text>`);
    lx += 22 + s.name.length * 6.5;
  }
  out.push('</svg>');
  return out.join('');
}
