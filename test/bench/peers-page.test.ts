// The peers page (bench/peers-page.ts) rendered from a small synthetic run: no servers, no
// timing, so the checks are exact.
import { describe, expect, it } from 'vitest';
import { quantiles, renderPeersPage, tableRows, type PeerModeResult, type PeersRun } from '../../bench/peers-page.js';

/** A server's results with per-stream times spread linearly over [lo, hi] ms. */
function result(lo: number, hi: number, cpu: number[], rssKb: number[], allSeen: number[]): PeerModeResult {
  const samples = Array.from({ length: 101 }, (_, i) => lo + ((hi - lo) * i) / 100);
  const cdf = quantiles(samples);
  // The lower median, as the bench's nearest-rank percentile gives for two turns.
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
  return {
    clientSide: {
      allSeenMs: { p50: med(allSeen), p99: Math.max(...allSeen), max: Math.max(...allSeen), perRun: allSeen },
      perStreamMs: { p50: cdf[50]!, p90: cdf[90]!, p99: cdf[99]!, max: cdf[100]!, cdf, perRun: allSeen.map(() => ({ p50: cdf[50]!, p90: cdf[90]!, p99: cdf[99]!, max: cdf[100]! })) },
    },
    serverCpuMsPerChange: med(cpu),
    serverCpuMsPerChangePerRun: cpu,
    rssPerConnBytes: med(rssKb) * 1024,
    rssPerConnBytesPerRun: rssKb.map((k) => k * 1024),
    incompleteRounds: 0,
    loadAverage1m: [0.5, 0.7],
  };
}

const goal = {
  fanout_5000_vs_istiod: '<= 0.33',
  cpu_per_change_vs_istiod: '<= 0.33',
  rss_per_conn_vs_istiod: '<= 0.33',
  fanout_5000_vs_go_control_plane: '<= 0.5',
  cpu_per_change_vs_go_control_plane: '<= 0.5',
};

function run(): PeersRun {
  return {
    date: '2026-12-04T23:00:00.000Z',
    streams: 5000,
    clients: 2,
    rounds: 10,
    repeat: 2,
    node: 'v20.99.0',
    cpus: 2,
    modes: ['http2', 'xdsim', 'gcp', 'istiod'],
    results: {
      http2: result(20, 130, [100, 120], [23, 24], [120, 140]),
      xdsim: result(40, 175, [200, 220], [34, 36], [170, 180]),
      gcp: result(30, 153, [250, 270], [44, 45], [150, 156]),
    },
    // gcp: 175/153 -> 1.14 etc.; xdsim's ratios as the bench computes them.
    ratios: { fanout_5000_vs_go_control_plane: 1.14, cpu_per_change_5000_vs_go_control_plane: 0.8, rss_per_conn_5000_vs_go_control_plane: 0.77, fanout_5000_vs_http2_floor: 1.35 },
    failed: { istiod: 'istiod peer: go build failed (no Go toolchain)' },
    context: { commit: 'abc1234', cpuModel: 'Test CPU', memGiB: 24 },
  };
}

describe('peers page', () => {
  const r = run();
  const html = renderPeersPage({ run: r, goal });

  it('draws one CDF curve per server that ran, none for the one that did not', () => {
    const curves = [...html.matchAll(/<path class="cdf" data-server="(\w+)" d="([^"]+)"/g)];
    expect(curves.map((c) => c[1])).toEqual(['http2', 'xdsim', 'gcp']);
    for (const c of curves) {
      // A step curve through 101 percentiles: it starts at fraction 0 and climbs 100 times.
      expect(c[2]!.startsWith('M')).toBe(true);
      expect(c[2]!.match(/V/g)).toHaveLength(100);
    }
    // Curves' tooltips carry each server's percentiles.
    expect(html).toContain('xdsim: p50 107.5 ms, p90 161.5 ms, p99 173.7 ms, max 175 ms');
  });

  it('shows the side-by-side table with the printed numbers', () => {
    const rows = tableRows(r.modes!, r.results);
    expect(rows).toHaveLength(4);
    expect(rows[2]).toEqual(['xdsim', '170 ms', '180 ms', '107.5 ms', '200 ms', '34.0 KB', '0.5/0.7']);
    const side = /<table class="side">([\s\S]*?)<\/table>/.exec(html)![1]!;
    const xdsimRow = /<tr data-server="xdsim">([\s\S]*?)<\/tr>/.exec(side)![1]!;
    const cells = [...xdsimRow.matchAll(/<td[^>]*>([^<]*)<\/td>/g)].map((m) => m[1]);
    expect(cells.slice(0, 7)).toEqual(rows[2]);
    // The spread over turns: all-have-it p50 per turn 170..180, CPU 200..220.
    expect(cells[7]).toBe('170..180 ms');
    expect(cells[8]).toBe('200..220 ms');
  });

  it('says which servers did not run, and why', () => {
    expect(html).toMatch(/<tr class="f" data-server="istiod" data-not-run="1"><td>istiod peer<\/td><td colspan="10"><b>not run<\/b>: istiod peer: go build failed \(no Go toolchain\)<\/td><\/tr>/);
    expect(html).toMatch(/data-server="raw" data-not-run="1">.*not run<\/b>: not in --modes/);
    expect(html).toContain('xdsim / istiod peer: istiod peer not run (istiod peer: go build failed (no Go toolchain))');
    expect(html).toMatch(/<tr data-ratio="fanout_5000_vs_istiod">.*istiod peer not run.*&lt;= 0.33/);
  });

  it('marks the goals on the ratio chart and judges them in the table', () => {
    const chart = /<svg[^>]*data-chart="ratio-go_control_plane"[\s\S]*?<\/svg>/.exec(html)![0];
    expect(chart).toContain('data-goal="0.5"');
    expect(chart).toContain('goal 0.5x');
    expect(chart).toContain('data-goal="1"');
    expect(chart).toMatch(/class="bar" data-label="time until every stream has it" data-value="1.14"/);
    const row = /<tr data-ratio="fanout_5000_vs_go_control_plane">([\s\S]*?)<\/tr>/.exec(html)![1]!;
    // Value, per turn (170/150, 180/156), goal, not met.
    expect(row).toContain('<td class="num">1.14</td>');
    expect(row).toContain('1.13, 1.15 (1.13..1.15)');
    expect(row).toContain('&lt;= 0.5');
    expect(row).toContain('class="ko">no<');
    // The istiod goal is not drawn without istiod, but stays in the table.
    expect(html).not.toContain('data-goal="0.33"');
  });

  it('draws CPU and RSS bars with the inputs, and the run context', () => {
    expect(html).toMatch(/data-chart="cpu"[\s\S]*data-label="go-control-plane" data-value="250"/);
    expect(html).toMatch(/data-chart="rss"[\s\S]*data-label="xdsim" data-value="34"/);
    for (const s of ['abc1234', 'v20.99.0', 'Test CPU', '2026-12-04T23:00:00.000Z', '5000 (2 client processes']) expect(html).toContain(s);
  });

  it('is self-contained: no script, no external resources', () => {
    expect(html).not.toMatch(/<script|<link|src="http|href="http|@import/);
    expect(html.startsWith('<!doctype html>')).toBe(true);
  });

  it('draws other stream counts on file, and says when a run has no distribution', () => {
    const small = { ...run(), streams: 300 };
    const old: PeersRun = { ...run(), streams: 2000, results: { xdsim: { ...r.results.xdsim!, clientSide: { ...r.results.xdsim!.clientSide, perStreamMs: { p50: 1, p99: 2 } } } } };
    const page = renderPeersPage({ run: r, goal, others: [small, old] });
    expect(page).toContain('data-streams="300"');
    expect(page).toContain('data-streams="2000"');
    expect(page).toContain('no per-stream distribution recorded for this run');
    // A smaller run is held to the 5,000-stream goals, and says so.
    const small300 = renderPeersPage({ run: { ...small, ratios: { fanout_300_vs_go_control_plane: 1.2 } }, goal });
    expect(small300).toMatch(/<tr data-ratio="fanout_300_vs_go_control_plane">.*<td class="num">1.2<\/td>.*&lt;= 0.5 \(set for 5000 streams\)/);
  });
});
