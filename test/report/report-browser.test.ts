// report.html in a real browser: a real run of the small failover scenario (embedded control
// plane, agents over gRPC), its report loaded in headless Chromium. The page must render without
// console errors, and the traffic charts must be there and say what happened: the proxy's own
// zone carries its traffic, hands it to the other zone of its region while down, and takes it
// back. The screenshot is kept as the test's artifact (path printed).
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderHtml } from '../../src/report/html.js';
import type { RunReport } from '../../src/report/types.js';
import { loadScenario } from '../../src/scenario/load.js';
import { runScenario } from '../../src/scenario/runner.js';
import { findChromium, HeadlessChromium } from '../helpers/chromium.js';

const chromium = findChromium();
if (!chromium) console.warn('report-browser.test.ts: skipped: no chromium on PATH (Debian: apt-get install -y chromium; or set CHROMIUM_PATH)');

export const ARTIFACTS = process.env['XDSIM_TEST_ARTIFACTS'] ?? join(tmpdir(), 'xdsim-test-artifacts');

describe.skipIf(!chromium)('report.html in headless Chromium', () => {
  let report: RunReport;
  let browser: HeadlessChromium;

  beforeAll(async () => {
    const loaded = await loadScenario('scenarios/ci-small.yaml');
    expect(loaded.scenario).toBeDefined();
    // Four samples a second: the 7 s run's picture is then as fine as a long run's.
    report = await runScenario(loaded.scenario!, { sampleIntervalMs: 250 });
    browser = await HeadlessChromium.launch(chromium!);
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
  });

  it('keeps the sampled traffic in the report', () => {
    const tr = report.traffic?.[0];
    expect(tr?.cluster).toBe('outbound|80||vm-app.ns-1.svc.cluster.local');
    expect(tr!.t).toEqual(report.series.t);
    const own = tr!.localities.find((l) => l.locality === 'region-1/zone-1a/sz-1')!;
    const sibling = tr!.localities.find((l) => l.locality === 'region-1/zone-1b/sz-1')!;
    const at = (ms: number) => tr!.t.findIndex((t) => t >= ms);
    // Before the failure (3 s), during it, after the restore (5 s): with 1 s samples.
    expect(own.share[at(2000)]).toBe(1);
    expect(own.share[at(4000)]).toBe(0);
    expect(sibling.share[at(4000)]).toBe(1);
    expect(own.healthy[at(4000)]).toBe(0);
    expect(own.healthy[at(2000)]).toBeGreaterThan(0);
    expect(own.healthy[at(6500)]).toBe(10);
    expect(own.share[at(6000)]).toBe(1);
    expect(tr!.priorities.map((p) => p.priority)).toContain(0);
  });

  it('renders without console errors, with the traffic charts and their markers', async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = join(ARTIFACTS, 'report-ci-small.html');
    writeFileSync(file, renderHtml(report));
    await browser.goto(pathToFileURL(file).href);
    const page = await browser.evaluate<{ traffic: number; layers: number; markers: number; labels: string[]; charts: number; title: string; width: number }>(`(() => ({
      traffic: document.querySelectorAll('svg.traffic').length,
      layers: document.querySelectorAll('svg.traffic path.layer').length,
      markers: document.querySelectorAll('svg.traffic g.marker').length,
      labels: [...document.querySelectorAll('svg.traffic')[0].querySelectorAll('g.label text')].map((t) => t.textContent),
      charts: document.querySelectorAll('.charts svg').length,
      title: document.querySelector('svg.traffic text.ct').textContent,
      width: document.querySelector('svg.traffic').getBoundingClientRect().width,
    }))()`);
    const png = await browser.screenshot();
    const shot = join(ARTIFACTS, 'report-ci-small.png');
    writeFileSync(shot, png);
    console.log(`report screenshot: ${shot}`);
    expect(browser.console.filter((c) => c.level === 'error' || c.level === 'exception')).toEqual([]);
    // Shares per locality, per priority, endpoints per locality.
    expect(page.traffic).toBe(3);
    expect(page.title).toMatch(/share of requests per locality/);
    expect(page.layers).toBeGreaterThanOrEqual(4);
    expect(page.width).toBeGreaterThan(500);
    expect(page.charts).toBe(5);
    // Every timeline step and the three checkpoints, on each of the three charts.
    expect(page.markers).toBe(3 * (report.timeline.length + 3));
    expect(page.labels.some((l) => l.includes('zone down, traffic fails over'))).toBe(true);
    expect(page.labels.filter((l) => l.startsWith('✓'))).toHaveLength(3);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
  }, 60_000);
});
