// xdsim run --serve-report --repeat 2: while real runs of the small failover scenario go on, a
// plain SSE client sees samples arrive (time moving on within each run, charts in each), GET /
// serves the live page, and the stream ends with the final report, the same page --out writes,
// whose report.json keeps both runs' figures. With chromium on the box,
// the live page is also watched in a browser until it turns into the final report.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../src/report/types.js';
import { findChromium, HeadlessChromium } from '../helpers/chromium.js';

const BIN = join(import.meta.dirname, '../../bin/xdsim.js');
const chromium = findChromium();

interface Sse {
  event: string;
  data: string;
}

/** Reads an SSE stream until `final` or the deadline. */
function readEvents(url: string, deadlineMs: number): Promise<Sse[]> {
  return new Promise((resolve, reject) => {
    const events: Sse[] = [];
    const req = get(url, (res) => {
      expect(res.headers['content-type']).toBe('text/event-stream');
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = { event: 'message', data: '' };
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) ev.event = line.slice(7);
            else if (line.startsWith('data: ')) ev.data += line.slice(6);
          }
          if (ev.data) events.push(ev);
          if (ev.event === 'final') {
            req.destroy();
            resolve(events);
          }
        }
      });
      res.on('end', () => resolve(events));
    });
    req.on('error', reject);
    setTimeout(() => {
      req.destroy();
      resolve(events);
    }, deadlineMs);
  });
}

function fetchText(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('xdsim run --serve-report', () => {
  const out = mkdtempSync(join(tmpdir(), 'xdsim-live-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('streams samples during the run, then the final report', async () => {
    const child = spawn(process.execPath, [BIN, 'run', 'scenarios/ci-small.yaml', '--serve-report', '127.0.0.1:0', '--repeat', '2', '--no-progress', '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no live report address on stderr: ${stderr}`)), 30_000);
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
        const m = /live report at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stderr);
        if (m) {
          clearTimeout(t);
          resolve(m[1]!);
        }
      });
    });
    const browser = chromium ? await HeadlessChromium.launch(chromium) : undefined;
    try {
      const eventsP = readEvents(`${url}events`, 100_000);
      const page = await fetchText(url);
      expect(page.status).toBe(200);
      expect(page.body).toContain('LIVE');
      expect(page.body).toContain("new EventSource('events')");
      let browserSawLive = false;
      let browserFinal = '';
      if (browser) {
        await browser.goto(url);
        // The live page's charts fill in from the stream, then it becomes the final report.
        await browser.waitFor(`document.querySelectorAll('svg.traffic').length === 3`, 30_000);
        browserSawLive = await browser.evaluate<boolean>(`document.title.includes('(live)')`);
        await browser.waitFor(`!document.title.includes('(live)')`, 90_000);
        browserFinal = await browser.evaluate<string>(`document.querySelector('h1').textContent`);
      }
      const events = await eventsP;
      expect(await exited).toBe(0);
      const samples = events.filter((e) => e.event === 'sample').map((e) => JSON.parse(e.data) as { sample?: { tMs: number; phase: string }; charts: string; traffic: string; status: string });
      expect(samples.some((s) => s.status.startsWith('run 1 of 2'))).toBe(true);
      const second = samples.filter((s) => s.status.startsWith('run 2 of 2'));
      const times = second.map((s) => s.sample?.tMs).filter((t): t is number => t !== undefined);
      // One sample a second over a 7 s run (the first event may come before t=0).
      expect(times.length).toBeGreaterThanOrEqual(5);
      expect(times).toEqual([...times].sort((a, b) => a - b));
      expect(times[times.length - 1]!).toBeGreaterThan(5000);
      const last = samples[samples.length - 1]!;
      expect(last.charts).toContain('<svg');
      expect(last.traffic).toContain('Where the traffic goes');
      expect(last.status).toMatch(/connected \d+\/40/);
      expect(events.some((e) => e.event === 'log' && /zone down, traffic fails over/.test(JSON.parse(e.data) as string))).toBe(true);
      const final = events[events.length - 1]!;
      expect(final.event).toBe('final');
      expect(JSON.parse(final.data)).toBe(readFileSync(join(out, 'report.html'), 'utf8'));
      const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as RunReport;
      expect(report.runs).toHaveLength(2);
      for (const r of report.runs!) {
        expect(r.figures['convergence p50']).toBeGreaterThan(0);
        expect(r.expectations['zone down, traffic fails over inside the region']).toBe(true);
      }
      expect(report.notes[0]).toMatch(/^2 runs \(--repeat 2\)/);
      if (browser) {
        expect(browserSawLive).toBe(true);
        expect(browserFinal).toMatch(/^ci-small PASS/);
        expect(browser.console.filter((c) => c.level === 'error' || c.level === 'exception')).toEqual([]);
      }
    } finally {
      await browser?.close();
      child.kill();
    }
  }, 150_000);
});
