// Nothing accepted is lost: `kill -9` the server right after accepted POST /apply requests, restart
// it on the same state dir, and every accepted resource is there.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killAll, serveProcess, servingPorts } from '../helpers/serve-process.js';

afterEach(killAll);

const entry = (i: number) => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: vm-${i}, namespace: pay, labels: { app: pay } }
spec: { address: 10.3.${i >> 8}.${i & 255}, locality: r1/z1/s1 }
`;

describe('--state-dir survives kill -9', () => {
  it('keeps every accepted POST /apply across a kill -9 and restart', async () => {
    const state = mkdtempSync(join(tmpdir(), 'xdsim-kill9-'));
    const args = ['--state-dir', state, '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--log-level', 'warn'];
    const first = serveProcess(args.map((a) => (a === 'warn' ? 'info' : a)));
    const { admin } = await servingPorts(first);
    const accepted: string[] = [];
    // Fire applies concurrently and kill the server while some are still in flight.
    const inflight: Promise<void>[] = [];
    for (let i = 0; i < 60; i++) {
      inflight.push(
        fetch(`http://127.0.0.1:${admin}/apply`, { method: 'POST', body: entry(i), headers: { 'content-type': 'application/yaml' } })
          .then(async (r) => {
            if (r.status === 200) accepted.push(`vm-${i}`);
            else throw new Error(`apply ${i}: ${r.status} ${await r.text()}`);
          })
          .catch((e: Error) => {
            if (!/fetch failed|ECONNRESET|socket/i.test(String(e.message) + String((e as { cause?: unknown }).cause))) throw e;
          }),
      );
      if (i === 40) {
        // Wait until some are accepted, then kill without warning.
        while (accepted.length < 20) await new Promise((r) => setTimeout(r, 5));
        first.proc.kill('SIGKILL');
      }
    }
    await Promise.all(inflight);
    expect(await first.exited).toBe(null);
    expect(accepted.length).toBeGreaterThanOrEqual(20);

    const second = serveProcess(args.map((a) => (a === 'warn' ? 'info' : a)));
    const p2 = await servingPorts(second);
    const listed = (await (await fetch(`http://127.0.0.1:${p2.admin}/debug/configz?kind=WorkloadEntry`)).json()) as { metadata: { name: string } }[];
    const names = new Set(listed.map((r) => r.metadata.name));
    for (const n of accepted) expect(names, `accepted ${n} lost`).toContain(n);
    second.proc.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});
