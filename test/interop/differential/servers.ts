// Both control planes of a differential run, started on the same YAML files: xdsim in this
// process (from the files, as `xdsim serve -f` reads them) and istio's discovery server as the
// istiod peer. The same debounce on both, so a change is compared push for push.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import type { Resource } from '../../../src/config/resources.js';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../../../src/server/control-plane.js';

export const DEBOUNCE_MS = 100;

export interface Reference {
  /** host:port of its xDS server. */
  readonly xds: string;
  apply(yaml: string): Promise<void>;
  remove(yaml: string): Promise<void>;
  stop(): Promise<void>;
}

export type StartReference = (files: string[]) => Promise<Reference>;

export function toYaml(resources: readonly Resource[]): string {
  return resources.map((r) => stringify(r, { lineWidth: 0 })).join('---\n');
}

/** A directory holding `resources` as one multi-document YAML file; `remove` deletes it. */
export function writeMeshDir(resources: readonly Resource[]): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'xdsim-differential-'));
  writeFileSync(path.join(dir, 'mesh.yaml'), toYaml(resources));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function startXdsim(files: string[], extra: Partial<ControlPlaneOptions> = {}): Promise<ControlPlane & { readonly target: string }> {
  const plane = await startControlPlane({
    ...extra,
    configPaths: files,
    xdsAddress: '127.0.0.1:0',
    adminAddress: '127.0.0.1:0',
    logger: pino({ level: process.env['XDSIM_TEST_LOG'] ?? 'silent' }),
    processMetrics: false,
    debounce: { debounceAfterMs: DEBOUNCE_MS },
  });
  return Object.assign(plane, { target: `127.0.0.1:${plane.xdsPort}` });
}

/** xdsim's own admin API, the same shape as the peer's: POST YAML to /apply or /delete. */
export async function adminPost(adminPort: number, route: '/apply' | '/delete', yaml: string): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${adminPort}${route}`, { method: 'POST', body: yaml, headers: { 'content-type': 'application/yaml' } });
  if (!res.ok) throw new Error(`xdsim ${route}: ${res.status} ${await res.text()}`);
}
