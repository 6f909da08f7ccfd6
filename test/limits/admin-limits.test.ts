// Admin HTTP limits: body size, bodies in flight, YAML shapes that make the parser explode
// (nesting, huge mappings, document counts), compressed bodies, requests the HTTP parser refuses,
// and error listings capped; every refusal a 4xx, counted, logged once per kind.
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { yamlShapeProblem } from '../../src/admin/server.js';
import type { ControlPlane } from '../../src/server/control-plane.js';
import { admin, startPlane } from '../xds/helpers.js';

let plane: ControlPlane | undefined;

afterEach(async () => {
  await plane?.close();
  plane = undefined;
});

async function adminRejected(): Promise<Record<string, number>> {
  const m = await plane!.metrics.adminRejected.get();
  return Object.fromEntries(m.values.map((v) => [String(v.labels['reason']), v.value]));
}

const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) => admin(plane!, path, { method: 'POST', body, headers });

/** Raw request (fetch will not send some of these). */
function raw(opts: http.RequestOptions, body?: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: plane!.adminPort, agent: false, ...opts }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(-1));
    req.end(body);
  });
}

describe('yamlShapeProblem', () => {
  it('flags deep nesting, huge mappings and document floods, and nothing ordinary', () => {
    expect(yamlShapeProblem(`spec: ${'['.repeat(101)}`, 100, 5000)).toMatch(/^line 1: nesting deeper than 100/);
    expect(yamlShapeProblem(`a:\n${'- '.repeat(200)}x`, 100, 5000)).toMatch(/^line 2: nesting deeper/);
    expect(yamlShapeProblem(Array.from({ length: 150 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n'), 100, 5000)).toMatch(/nesting deeper/);
    expect(yamlShapeProblem('k: v\n'.repeat(5001), 100, 5000)).toBe('line 5001: a mapping with more than 5000 keys');
    expect(yamlShapeProblem(`{${Array.from({ length: 5001 }, (_, i) => `k${i}: 1`).join(', ')}}`, 100, 5000)).toMatch(/more than 5000 keys/);
    // Many mappings of 3,000 keys: each under the limit, their squares add up past it.
    const wide = Array.from({ length: 3 }, (_, d) => `---\n${Array.from({ length: 3000 }, (_, i) => `k${d}-${i}: v`).join('\n')}`).join('\n');
    expect(yamlShapeProblem(wide, 100, 5000)).toMatch(/too large in all to check for duplicate keys/);
    expect(yamlShapeProblem('--- {}\n'.repeat(11), 100, 5000, 10)).toMatch(/more than 10 documents/);
    // Ordinary manifests: a List of 5,000 entries, block scalars with brackets, quotes.
    const list = `kind: List\nitems:\n${Array.from({ length: 5000 }, (_, i) => `- kind: WorkloadEntry\n  metadata: {name: e${i}, labels: {app: a}}\n  spec:\n    address: 10.0.0.1\n    ports: {http: 80}\n`).join('')}`;
    expect(yamlShapeProblem(list, 100, 5000)).toBeUndefined();
    expect(yamlShapeProblem(`data: |\n  ${'['.repeat(500)}\n  k: v\nnext: "it's [not {a flow"\nb: it's fine\n`, 100, 5000)).toBeUndefined();
  });
});

describe('admin limits', () => {
  it('YAML too deep, too wide or too many documents: 400 naming the line, nothing parsed, counted', async () => {
    plane = await startPlane([], { adminLimits: { maxYamlDocuments: 100 } });
    const deep = await post('/apply', `apiVersion: v1\nkind: Service\nmetadata: {name: x, namespace: y}\nspec: ${'{a: '.repeat(50_000)}`);
    expect(deep.status).toBe(400);
    expect(deep.text).toBe('request:line 4: nesting deeper than 100 levels; not parsed\n');
    const wide = await post('/delete', 'k: v\n'.repeat(10_000));
    expect(wide.status).toBe(400);
    expect(wide.text).toContain('line 5001: a mapping with more than 5000 keys');
    const docs = await post('/apply', '--- {}\n'.repeat(101));
    expect(docs.status).toBe(400);
    expect(docs.text).toContain('more than 100 documents');
    expect((await adminRejected())['400']).toBe(3);
  });

  it('an alias bomb is a 400 (the YAML library throws rather than reports it), not a 500', async () => {
    plane = await startPlane([]);
    let text = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
    for (let i = 1; i < 9; i++) text += `a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(',')}]\n`;
    for (const path of ['/apply', '/delete']) {
      const r = await post(path, text);
      expect(r.status).toBe(400);
      expect(r.text.toLowerCase()).toContain('alias');
    }
    expect((await adminRejected())['500']).toBeUndefined();
  });

  it('compressed bodies: 415; oversized: 413 (declared or streamed); default body limit 4 MiB', async () => {
    plane = await startPlane([]);
    expect((await post('/apply', Buffer.from([0x1f, 0x8b, 0, 0]), { 'content-encoding': 'gzip' })).status).toBe(415);
    expect(await raw({ method: 'POST', path: '/apply', headers: { 'content-length': String(4 * 2 ** 20 + 1) } })).toBe(413);
    // Chunked (no content-length): the limit holds while reading.
    const status = await new Promise<number>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port: plane!.adminPort, method: 'POST', path: '/apply', agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', () => resolve(-1));
      const chunk = Buffer.alloc(256 * 1024, 0x61);
      let sent = 0;
      const pump = () => {
        while (sent < 5 * 2 ** 20) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    expect(status).toBe(413);
    const r = await adminRejected();
    expect(r['415']).toBe(1);
    expect(r['413']).toBe(2);
  });

  it('bodies in flight past maxPendingBodyBytes: 503 with Retry-After', async () => {
    plane = await startPlane([], { adminLimits: { maxPendingBodyBytes: 100_000, maxBodyBytes: 90_000 } });
    // One request holds 80 kB open (declared, not finished); a second declaring 80 kB more is turned away.
    const hold = http.request({ host: '127.0.0.1', port: plane.adminPort, method: 'POST', path: '/apply', agent: false, headers: { 'content-length': '80000' } });
    hold.on('error', () => {});
    hold.write(Buffer.alloc(60_000, 0x20));
    await new Promise((r) => setTimeout(r, 200));
    const second = await new Promise<{ status: number; retry: string | undefined }>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port: plane!.adminPort, method: 'POST', path: '/apply', agent: false, headers: { 'content-length': '80000' } }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, retry: res.headers['retry-after'] });
      });
      req.on('error', () => resolve({ status: -1, retry: undefined }));
      req.end(Buffer.alloc(80_000, 0x20));
    });
    expect(second).toEqual({ status: 503, retry: '1' });
    hold.end(Buffer.alloc(20_000, 0x20));
    expect((await adminRejected())['503']).toBe(1);
  });

  it('requests the HTTP parser refuses (headers past 16 KiB, bad syntax) are answered and counted', async () => {
    plane = await startPlane([]);
    expect(await raw({ method: 'GET', path: '/ready', headers: { 'x-big': 'h'.repeat(20_000) } })).toBe(431);
    expect(await raw({ method: 'BREW', path: '/ready' })).toBe(400);
    const r = await adminRejected();
    expect(r['431']).toBe(1);
    expect(r['400']).toBe(1);
  });

  it('error listings are capped; rejections are logged once per kind, not per request', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        cb();
      },
    });
    plane = await startPlane([], { logger: pino({ level: 'info' }, sink), adminLimits: { maxErrorBytes: 2000 } });
    const bad = Array.from({ length: 2000 }, (_, i) => `---\napiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: e${i}, namespace: x}\nspec: {address: 10.0.0.1, weight: -${i + 1}}\n`).join('');
    const r = await post('/apply', bad);
    expect(r.status).toBe(400);
    expect(r.text.length).toBeLessThan(2100);
    expect(r.text).toMatch(/\.\.\. and \d+ more line\(s\)\n$/);
    for (let i = 0; i < 50; i++) await post('/apply', 'kind: [');
    for (let i = 0; i < 50; i++) await admin(plane, '/nope');
    const rejections = lines.filter((l) => /config request rejected|admin request refused/.test(l));
    expect(rejections.length).toBeLessThanOrEqual(2);
  });
});
