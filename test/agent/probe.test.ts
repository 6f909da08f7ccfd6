import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpProbe, modelOutcome, ProbeRunner, tcpProbe, type ProbeSettings } from '../../src/agent/probe.js';
import { mulberry32 } from '../../src/util/random.js';

const model = (m: ProbeSettings['check']): ProbeSettings => ({ check: m, initialDelayMs: 0, periodMs: 10, timeoutMs: 100, successThreshold: 1, failureThreshold: 1 });

describe('probe outcome model', () => {
  const rng = mulberry32(1);
  it('healthy / unhealthy are constant', () => {
    expect(modelOutcome({ kind: 'healthy' }, 123, rng).ok).toBe(true);
    expect(modelOutcome({ kind: 'unhealthy' }, 123, rng)).toMatchObject({ ok: false });
  });

  it('flapping: healthy the first half of each period, shifted by the phase', () => {
    const f = { kind: 'flapping' as const, periodMs: 1000 };
    expect([0, 499, 500, 999, 1000, 1700].map((t) => modelOutcome(f, t, rng).ok)).toEqual([true, true, false, false, true, false]);
    expect(modelOutcome({ ...f, phaseMs: 500 }, 0, rng).ok).toBe(false);
  });

  it('random: fails at about the given rate', () => {
    const r = mulberry32(7);
    let fails = 0;
    for (let i = 0; i < 10_000; i++) if (!modelOutcome({ kind: 'random', failProbability: 0.3 }, 0, r).ok) fails++;
    expect(fails / 10_000).toBeGreaterThan(0.27);
    expect(fails / 10_000).toBeLessThan(0.33);
  });
});

describe('probe thresholds', () => {
  it('first conclusive result is reported; later transitions need the thresholds', () => {
    const seen: boolean[] = [];
    const p = new ProbeRunner({ ...model({ kind: 'model', model: { kind: 'healthy' } }), successThreshold: 2, failureThreshold: 3 }, (h) => seen.push(h), mulberry32(1));
    const ok = { ok: true, message: '' };
    const bad = { ok: false, message: 'x' };
    p.record(bad); // first: reported at once
    p.record(ok); // 1 success of 2
    p.record(bad);
    p.record(ok);
    p.record(ok); // 2 in a row -> healthy
    p.record(ok); // no repeat
    p.record(bad);
    p.record(bad);
    p.record(bad); // 3 in a row -> unhealthy
    expect(seen).toEqual([false, true, false]);
    expect(p.healthy).toBe(false);
    expect(p.message).toBe('x');
  });

  it('runs on its timer and swaps models at runtime (flap churn); stop() ends it', async () => {
    const seen: boolean[] = [];
    const p = new ProbeRunner(model({ kind: 'model', model: { kind: 'healthy' } }), (h) => seen.push(h), mulberry32(1));
    p.start();
    await new Promise((r) => setTimeout(r, 50));
    p.setModel({ kind: 'unhealthy' });
    await new Promise((r) => setTimeout(r, 50));
    p.stop();
    const n = seen.length;
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual([true, false]);
    expect(seen.length).toBe(n);
  });
});

describe('real probes against local targets', () => {
  let server: http.Server;
  let port = 0;
  let closedPort = 0;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      res.statusCode = req.url === '/ready' ? 200 : req.url === '/slow' ? 200 : 503;
      if (req.url === '/slow') setTimeout(() => res.end(), 500);
      else res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
    const tmp = net.createServer();
    await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
    closedPort = (tmp.address() as net.AddressInfo).port;
    await new Promise((r) => tmp.close(r));
  });
  afterAll(() => new Promise((r) => server.close(r)));

  it('HTTP GET: 2xx/3xx healthy, 5xx unhealthy, timeout unhealthy', async () => {
    expect((await httpProbe({ kind: 'http', host: '127.0.0.1', port, path: '/ready' }, 1000)).ok).toBe(true);
    const bad = await httpProbe({ kind: 'http', host: '127.0.0.1', port, path: '/nope' }, 1000);
    expect(bad).toMatchObject({ ok: false });
    expect(bad.message).toContain('503');
    expect((await httpProbe({ kind: 'http', host: '127.0.0.1', port, path: '/slow' }, 100)).message).toContain('timeout');
  });

  it('TCP connect: open port healthy, closed port unhealthy', async () => {
    expect((await tcpProbe({ kind: 'tcp', host: '127.0.0.1', port }, 1000)).ok).toBe(true);
    expect((await tcpProbe({ kind: 'tcp', host: '127.0.0.1', port: closedPort }, 1000)).ok).toBe(false);
  });
});
