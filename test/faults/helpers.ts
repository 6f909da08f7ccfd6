// Shared pieces of the fault tests: a VM mesh on disk for `xdsim serve -f`, a free loopback port
// (restarts must come back on the same address), the registry as seen through the admin API, and
// bounded polling.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { WorkloadEntry } from '../../src/config/resources.js';
import { vmMesh, type VmGroup } from '../fleet/helpers.js';

export const NS = 'faults';
export const GROUP = 'vm';
export const LABELS = { app: 'vm' };

/** A temp dir holding `mesh.yaml` (the group, its Service) and an empty `state/` for --state-dir. */
export function meshDir(groups: readonly VmGroup[] = [{ name: GROUP, namespace: NS, labels: LABELS }]): { dir: string; mesh: string; state: string } {
  const dir = mkdtempSync(join(tmpdir(), 'xdsim-faults-'));
  const mesh = join(dir, 'mesh.yaml');
  writeFileSync(mesh, vmMesh(groups).map((r) => stringify(r)).join('---\n'));
  const state = join(dir, 'state');
  mkdirSync(state);
  return { dir, mesh, state };
}

/** A loopback port that was free a moment ago (bound, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export async function listEntries(admin: number, timeoutMs = 5_000): Promise<WorkloadEntry[]> {
  const r = await fetch(`http://127.0.0.1:${admin}/debug/configz?kind=WorkloadEntry&namespace=${NS}`, { signal: AbortSignal.timeout(timeoutMs) });
  if (r.status !== 200) throw new Error(`configz: ${r.status} ${await r.text()}`);
  return (await r.json()) as WorkloadEntry[];
}

/** What must survive a fault: name, address, labels and the Healthy condition (not timestamps). */
export interface EntryView {
  name: string;
  address: string;
  labels: Record<string, string>;
  healthy: string | undefined;
}

export function entryView(e: WorkloadEntry): EntryView {
  return {
    name: e.metadata.name,
    address: e.spec.address ?? '',
    labels: e.spec.labels ?? {},
    healthy: e.status?.conditions?.find((c) => c.type === 'Healthy')?.status,
  };
}

/** Entries by name, sorted; throws on a name or an address seen twice (a duplicated registration). */
export function registrySnapshot(entries: readonly WorkloadEntry[]): EntryView[] {
  const names = new Set<string>();
  const addresses = new Set<string>();
  for (const e of entries) {
    if (names.has(e.metadata.name)) throw new Error(`duplicate entry ${e.metadata.name}`);
    if (addresses.has(e.spec.address ?? '')) throw new Error(`two entries for address ${e.spec.address}`);
    names.add(e.metadata.name);
    addresses.add(e.spec.address ?? '');
  }
  return entries.map(entryView).sort((a, b) => a.name.localeCompare(b.name));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls an async condition every `everyMs` until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitUntil(cond: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 200): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await cond()) return true;
    } catch {
      // A server that is restarting or stopped: try again until the deadline.
    }
    if (Date.now() >= end) return false;
    await sleep(everyMs);
  }
}

/** `Prometheus text -> value` for one sample line (exact name and label set), or undefined. */
export function metricValue(text: string, sample: string): number | undefined {
  for (const line of text.split('\n')) if (line.startsWith(`${sample} `)) return Number(line.slice(sample.length + 1));
  return undefined;
}
