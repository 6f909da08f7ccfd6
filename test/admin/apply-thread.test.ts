// Big POST /apply and /delete bodies are parsed on the config parser thread: the main thread keeps
// answering meanwhile, results and errors are exactly the inline ones, config requests commit in
// the order they arrived, and a crashed or stuck thread costs one request, not the server.
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { prepareConfigRequest } from '../../src/admin/config-requests.js';
import { DEFAULT_ADMIN_LIMITS, startAdmin, type AdminLimits, type AdminServer } from '../../src/admin/server.js';
import { keyOf, type WorkloadEntry } from '../../src/config/resources.js';
import type { ControlPlane } from '../../src/server/control-plane.js';
import { startPlane } from '../xds/helpers.js';

let running: { plane: ControlPlane; admin: AdminServer } | undefined;

afterEach(async () => {
  if (!running) return;
  await running.admin.close();
  await running.plane.close();
  running = undefined;
});

/** A plane with its admin server started by hand, so tests can watch the parser thread. */
async function start(limits: Partial<AdminLimits> = {}): Promise<{ plane: ControlPlane; admin: AdminServer }> {
  const plane = await startPlane([], { adminAddress: null });
  const admin = await startAdmin('127.0.0.1:0', { store: plane.store, xds: plane.xds, metrics: plane.metrics, log: plane.log, ready: () => true, limits });
  running = { plane, admin };
  return running;
}

/** One request on its own connection (no keep-alive reuse across a long parse). */
function request(port: number, method: string, path: string, body?: string): Promise<{ status: number; text: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Waits for a condition by polling (no time limit of its own: the test timeout is the bound). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

const entry = (i: number, net = 1) => `---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: vm-${i}
  namespace: ns-${i % 7}
  labels:
    app: app-${i % 20}
    version: v${i % 3}
spec:
  address: 10.${net}.${(i >> 8) & 255}.${i & 255}
  locality: region-${i % 4}/zone-${i % 8}/sub-${i % 2}
  ports:
    http: 8080
  serviceAccount: sa-${i % 20}
`;
const N = 4000;
/** ~1.2 MiB of WorkloadEntries, one document each. */
const bigBody = (net = 1) => Array.from({ length: N }, (_, i) => entry(i, net)).join('');
const LIMITS = DEFAULT_ADMIN_LIMITS;

async function metric(plane: ControlPlane, name: 'adminRejected' | 'configRejected'): Promise<Record<string, number>> {
  const m = await plane.metrics[name].get();
  return Object.fromEntries(
    m.values.map((v) => {
      const l = v.labels as Record<string, string | number | undefined>;
      return [String(l['reason'] ?? l['endpoint']), v.value];
    }),
  );
}

describe('config parser thread', () => {
  it('a big apply is parsed off the main thread (/ready answers meanwhile) and commits what inline parsing would', async () => {
    const { plane, admin } = await start();
    const text = bigBody();
    expect(text.length).toBeGreaterThan(LIMITS.inlineParseBytes * 30);
    const order: string[] = [];
    const applying = request(admin.port, 'POST', '/apply', text).then((r) => (order.push('apply'), r));
    await until(() => admin.parser.busy);
    const ready = await request(admin.port, 'GET', '/ready');
    order.push('ready');
    expect(ready.status).toBe(200);
    const r = await applying;
    expect(order).toEqual(['ready', 'apply']);
    expect(r.status).toBe(200);
    const body = JSON.parse(r.text) as { applied: { key: string; type: string; resourceVersion: string }[]; unchanged: number; warnings: string[] };
    expect(body.applied).toHaveLength(N);
    expect(body.applied.every((a) => a.type === 'added')).toBe(true);
    expect(body.applied.map((a) => Number(a.resourceVersion))).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect(body).toMatchObject({ unchanged: 0, warnings: [] });
    expect(plane.store.size).toBe(N);

    // Exactly what the main thread would have produced from the same text.
    const inline = prepareConfigRequest('apply', text, LIMITS);
    if (inline.kind !== 'apply') throw new Error(`inline parse: ${inline.kind}`);
    for (const res of inline.resources) {
      const { resourceVersion: _v, generation: _g, creationTimestamp: _c, ...meta } = plane.store.get<WorkloadEntry>(keyOf(res))!.metadata;
      expect({ ...plane.store.get<WorkloadEntry>(keyOf(res)), metadata: meta }).toEqual(res);
    }
    expect(plane.store.get<WorkloadEntry>('WorkloadEntry/ns-2/vm-1234')!.spec).toEqual({
      address: '10.1.4.210',
      locality: 'region-2/zone-2/sub-0',
      ports: { http: 8080 },
      serviceAccount: 'sa-14',
    });

    // The same body again: parsed on the (now warm) thread, nothing changes.
    const again = await request(admin.port, 'POST', '/apply', text);
    expect(JSON.parse(again.text)).toMatchObject({ applied: [], unchanged: N });
    // A big /delete goes the same way.
    const del = await request(admin.port, 'POST', '/delete', text);
    expect(del.status).toBe(200);
    expect((JSON.parse(del.text) as { deleted: string[] }).deleted).toHaveLength(N);
    expect(plane.store.size).toBe(0);
    expect(admin.parser.started).toBe(1);
  });

  it('errors in a big body: the same 400 with file:line as inline, nothing applied, counted', async () => {
    const { plane, admin } = await start();
    const docs = Array.from({ length: N }, (_, i) => entry(i));
    docs[2999] = docs[2999]!.replace('  ports:\n    http: 8080\n', '  ports: {http: 8080\n'); // unclosed flow mapping
    docs[3499] = docs[3499]!.replace('  serviceAccount:', '  weight: -5\n  serviceAccount:');
    const text = docs.join('');
    const r = await request(admin.port, 'POST', '/apply', text);
    expect(r.status).toBe(400);
    const lineOf = (needle: string) => text.slice(0, text.indexOf(needle)).split('\n').length;
    const weightLine = lineOf('weight: -5');
    expect(r.text).toContain(`request:${weightLine} (document 3500) WorkloadEntry ns-6/vm-3499 spec.weight: expected an integer 0..4294967295, got -5\n`);
    expect(r.text).toMatch(/^request:\d+ \(document 3000\): YAML: /m);
    const yamlLine = Number(/^request:(\d+) \(document 3000\)/m.exec(r.text)![1]);
    expect(yamlLine).toBeGreaterThanOrEqual(lineOf('  ports: {http: 8080\n'));
    expect(yamlLine).toBeLessThan(lineOf('name: vm-3000\n'));
    const inline = prepareConfigRequest('apply', text, LIMITS);
    expect(inline).toEqual({ kind: 'invalid', body: r.text });
    expect(plane.store.size).toBe(0);
    expect((await metric(plane, 'configRejected'))['apply']).toBe(1);

    // Refusals before parsing (shape limits) come from the thread the same way.
    const deep = await request(admin.port, 'POST', '/apply', `${bigBody()}---\nkind: x\nspec: ${'['.repeat(200)}\n`);
    expect(deep.status).toBe(400);
    expect(deep.text).toBe(`request:line ${N * 15 + 3}: nesting deeper than 100 levels; not parsed\n`);
    expect((await metric(plane, 'adminRejected'))['400']).toBe(1);
  });

  it('config requests commit in the order they arrived: a small apply waits for the big one parsing before it', async () => {
    const { plane, admin } = await start();
    let answered = 0;
    const big = request(admin.port, 'POST', '/apply', bigBody(1)).finally(() => answered++);
    await until(() => admin.parser.busy);
    // Small enough to be parsed inline at once; it must still commit after the big one.
    let storeSizeAtSmallAnswer = -1;
    const small = request(admin.port, 'POST', '/apply', entry(7, 2)).finally(() => {
      answered++;
      storeSizeAtSmallAnswer = plane.store.size;
    });
    await until(() => admin.configRequestsPending === 2 || answered > 0);
    expect(admin.configRequestsPending).toBe(2); // the small one arrived while the big one was parsing
    const [rb, rs] = await Promise.all([big, small]);
    // (The big answer may reach the client after the small one: it is a megabyte to send.)
    expect(storeSizeAtSmallAnswer).toBe(N);
    expect(rb.status).toBe(200);
    expect(rs.status).toBe(200);
    const bigVersion = (JSON.parse(rb.text) as { applied: { key: string; resourceVersion: string }[] }).applied.find((a) => a.key === 'WorkloadEntry/ns-0/vm-7')!.resourceVersion;
    expect(JSON.parse(rs.text)).toMatchObject({ applied: [{ key: 'WorkloadEntry/ns-0/vm-7', type: 'updated' }] });
    const smallVersion = (JSON.parse(rs.text) as { applied: { resourceVersion: string }[] }).applied[0]!.resourceVersion;
    expect(Number(smallVersion)).toBeGreaterThan(Number(bigVersion));
    expect(plane.store.get<WorkloadEntry>('WorkloadEntry/ns-0/vm-7')!.spec.address).toBe('10.2.0.7');
  });

  it('a crashed parser thread fails its request with 500; the next big request gets a new thread', async () => {
    const { plane, admin } = await start();
    const text = bigBody();
    const first = request(admin.port, 'POST', '/apply', text);
    await until(() => admin.parser.busy);
    expect(await admin.killParser()).toBe(true);
    const r1 = await first;
    expect(r1.status).toBe(500);
    expect(r1.text).toMatch(/^config parser thread exited \(code \d+\); nothing applied\n$/);
    expect(plane.store.size).toBe(0);
    expect((await request(admin.port, 'GET', '/ready')).status).toBe(200);
    const r2 = await request(admin.port, 'POST', '/apply', text);
    expect(r2.status).toBe(200);
    expect(plane.store.size).toBe(N);
    expect(admin.parser.started).toBe(2);
    expect((await metric(plane, 'adminRejected'))['500']).toBe(1);
  });

  it('a body past the parse timeout gets 503 and its thread is replaced; the server keeps serving', async () => {
    // 1 ms: the thread cannot even start in time, so every body sent to it times out.
    const { plane, admin } = await start({ parseTimeoutMs: 1 });
    const r1 = await request(admin.port, 'POST', '/apply', bigBody());
    expect(r1.status).toBe(503);
    expect(r1.text).toBe('parsing the body took longer than 1 ms; nothing applied (split it into smaller requests)\n');
    expect((await request(admin.port, 'GET', '/ready')).status).toBe(200);
    // Small bodies are parsed inline, untouched by the timeout.
    expect((await request(admin.port, 'POST', '/apply', entry(1))).status).toBe(200);
    const r2 = await request(admin.port, 'POST', '/apply', bigBody());
    expect(r2.status).toBe(503);
    expect(admin.parser.started).toBe(2);
    expect(admin.parser.busy).toBe(false);
    expect(plane.store.size).toBe(1);
  });
});
