// `xdsim serve --state-dir` on a 1 MiB tmpfs that fills up: applies and deletes are refused with
// 507 and the reason (nothing of them applied, in memory or on disk), xDS keeps answering with
// what was acknowledged, a restart on the still-full disk restores exactly that, and once space
// is back applies work again. Needs `mount -t tmpfs` (root); skipped with the reason otherwise.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { killAll, serveProcess, servingPorts, type ServeProcess } from '../helpers/serve-process.js';
import { entryView, freePort, GROUP, LABELS, listEntries, meshDir, NS } from '../faults/helpers.js';
import { node, SotwClient } from '../xds/helpers.js';

const EDS = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
const CLUSTER = `outbound|80||${GROUP}.${NS}.svc.cluster.local`;

function mountProblem(): string | undefined {
  const probe = mkdtempSync(join(tmpdir(), 'xdsim-tmpfs-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'pipe' });
    execFileSync('umount', [probe], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    return `cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN): ${String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim()}`;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}
const SKIP = mountProblem();
if (SKIP) console.warn(`state-full.test.ts skipped: ${SKIP}`);

const mounts: string[] = [];
afterEach(() => {
  killAll();
  for (const m of mounts.splice(0)) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'pipe' });
    } catch {
      // already gone
    }
    rmSync(m, { recursive: true, force: true });
  }
});

function entries(from: number, n: number): string {
  const docs = [];
  for (let i = from; i < from + n; i++) {
    docs.push(
      stringify({
        apiVersion: 'networking.istio.io/v1',
        kind: 'WorkloadEntry',
        metadata: { name: `we-${i}`, namespace: NS },
        // Long labels: each apply journals a few KiB, so the disk fills in a bounded number of steps.
        spec: { address: `10.77.${Math.floor(i / 250)}.${(i % 250) + 1}`, labels: { ...LABELS, pad: 'x'.repeat(60) }, locality: 'r1/z1/s1' },
      }),
    );
  }
  return docs.join('---\n');
}

async function post(admin: number, path: '/apply' | '/delete', body: string): Promise<{ status: number; text: string }> {
  const r = await fetch(`http://127.0.0.1:${admin}${path}`, { method: 'POST', body, signal: AbortSignal.timeout(10_000) });
  return { status: r.status, text: await r.text() };
}

/** The cluster's endpoint addresses as a fresh xDS stream gets them. */
async function edsAddresses(xds: number): Promise<string[]> {
  const c = new SotwClient(xds, 'ads');
  try {
    c.send({ node: node('sidecar~10.1.1.1~probe.default~default.svc.cluster.local', 'r1/z1/s1'), type_url: EDS, resource_names: [CLUSTER] });
    const r = await c.recv(5_000);
    const cla = r.resources[0] as { endpoints?: { lb_endpoints?: { endpoint?: { address?: { socket_address?: { address?: string } } } }[] }[] } | undefined;
    return (cla?.endpoints ?? []).flatMap((g) => (g.lb_endpoints ?? []).map((e) => e.endpoint?.address?.socket_address?.address ?? '')).sort();
  } finally {
    c.close();
  }
}

/** Fills the filesystem holding `dir` with a filler file until ENOSPC (bounded: 4 KiB x 1,024 > 1 MiB). */
function fill(dir: string): { file: string; bytes: number } {
  const file = join(dir, 'filler');
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(4096, 0x61);
  let bytes = 0;
  try {
    for (let i = 0; i < 1024; i++) {
      try {
        const n = writeSync(fd, chunk);
        bytes += n;
        if (n < chunk.length) break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw err;
      }
    }
  } finally {
    closeSync(fd);
  }
  return { file, bytes };
}

function startServe(mesh: string, state: string, xds: number, admin: number): ServeProcess {
  return serveProcess(['-f', mesh, '--state-dir', state, '--xds-address', `127.0.0.1:${xds}`, '--admin-address', `127.0.0.1:${admin}`, '--log-level', 'info']);
}

describe('--state-dir on a full disk', () => {
  it.skipIf(SKIP !== undefined)('refuses applies with 507, keeps what was acknowledged (also across a restart), keeps serving', { timeout: 90_000 }, async () => {
    const { mesh } = meshDir();
    const disk = mkdtempSync(join(tmpdir(), 'xdsim-tmpfs-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', disk]);
    mounts.push(disk);
    const state = join(disk, 'state');
    mkdirSync(state);
    const [xds, admin] = [await freePort(), await freePort()];

    let serve = startServe(mesh, state, xds, admin);
    await servingPorts(serve);
    // Acknowledged: 5 applies of 4 entries each.
    for (let k = 0; k < 5; k++) {
      const r = await post(admin, '/apply', entries(k * 4, 4));
      expect(r.status, r.text).toBe(200);
    }
    expect(await listEntries(admin)).toHaveLength(20);

    const filled = fill(disk);
    // The journal's last page may still have room for a line or two: applies succeed (and are
    // acknowledged) until it is used up. Bounded: 30 applies of ~1.5 KiB.
    let applyFull = { status: 0, text: '' };
    let fitted = 0;
    for (let k = 0; k < 30; k++) {
      applyFull = await post(admin, '/apply', entries(100 + k * 4, 4));
      if (applyFull.status !== 200) break;
      fitted++;
    }
    const acked = (await listEntries(admin)).map(entryView);
    expect(acked).toHaveLength(20 + 4 * fitted);
    const ackedAddresses = acked.map((e) => e.address).sort();
    const deleteFull = await post(admin, '/delete', entries(0, 1));
    console.log(`filled ${filled.bytes} bytes; ${fitted} more apply(s) fitted in the journal's last page; then apply -> ${applyFull.status} ${applyFull.text.trim()}; delete -> ${deleteFull.status}`);
    expect(applyFull.status).toBe(507);
    expect(applyFull.text).toMatch(/ENOSPC: no space left on device.*nothing applied/);
    expect(deleteFull.status).toBe(507);
    // Nothing of the refused requests is in memory or served.
    expect((await listEntries(admin)).map(entryView)).toEqual(acked);
    expect(await edsAddresses(xds)).toEqual(ackedAddresses);
    const ready = await fetch(`http://127.0.0.1:${admin}/ready`, { signal: AbortSignal.timeout(5_000) });
    expect(ready.status).toBe(200);
    // No torn line left in the journal: every line parses.
    const journal = readFileSync(join(state, 'journal.jsonl'), 'utf8').split('\n').filter((l) => l.length > 0);
    for (const l of journal) expect(() => JSON.parse(l)).not.toThrow();

    // Restart on the still-full disk: exactly what was acknowledged comes back and is served.
    serve.proc.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    serve = startServe(mesh, state, xds, admin);
    await servingPorts(serve);
    expect((await listEntries(admin)).map(entryView)).toEqual(acked);
    expect(await edsAddresses(xds)).toEqual(ackedAddresses);
    expect((await post(admin, '/apply', entries(300, 4))).status).toBe(507);

    // Space back: applies work again and are durable.
    rmSync(filled.file);
    const again = await post(admin, '/apply', entries(300, 4));
    expect(again.status, again.text).toBe(200);
    serve.proc.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    serve = startServe(mesh, state, xds, admin);
    await servingPorts(serve);
    expect((await listEntries(admin)).length).toBe(acked.length + 4);
  });
});
