// A real xdsim control plane on a loopback port with a VM mesh (WorkloadGroup + Service), with
// auto-registration and health over xDS on (when src/registration exists).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Resource, WorkloadEntry } from '../../src/config/resources.js';
import { startControlPlane, type ControlPlane } from '../../src/server/control-plane.js';

export const REGISTRATION_AVAILABLE = existsSync(join(import.meta.dirname, '../../src/registration/controller.ts'));

export interface VmGroup {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  /** The group has a readiness probe: entries get the health-checks annotation (SPEC §6). */
  probe?: boolean;
  port?: number;
}

export function vmMesh(groups: readonly VmGroup[]): Resource[] {
  const out: Resource[] = [];
  for (const g of groups) {
    const port = g.port ?? 8080;
    out.push({
      apiVersion: 'networking.istio.io/v1',
      kind: 'WorkloadGroup',
      metadata: { name: g.name, namespace: g.namespace },
      spec: {
        metadata: { labels: g.labels },
        template: { ports: { http: port }, serviceAccount: g.name },
        ...(g.probe !== false ? { probe: { httpGet: { port, path: '/ready' }, periodSeconds: 1 } } : {}),
      },
    } as Resource);
    out.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: g.name, namespace: g.namespace },
      spec: { selector: g.labels, ports: [{ name: 'http', port: 80, targetPort: port }] },
    } as Resource);
  }
  return out;
}

export interface TestServer {
  cp: ControlPlane;
  target: string;
  port: number;
  /** The registration controller (undefined when registration is off). */
  registration: ControlPlane['workloadEntries'];
  entries(namespace?: string): WorkloadEntry[];
  close(): Promise<void>;
}

export async function startTestServer(opts: { groups: readonly VmGroup[]; gracePeriodMs?: number; port?: number }): Promise<TestServer> {
  const cp = await startControlPlane({
    xdsAddress: `127.0.0.1:${opts.port ?? 0}`,
    adminAddress: null,
    logLevel: 'silent',
    processMetrics: false,
    resources: vmMesh(opts.groups),
    debounce: { debounceAfterMs: 50 },
    registration: REGISTRATION_AVAILABLE,
    // Plaintext agents without tokens; identity validation has its own tests (test/registration).
    validateIdentity: false,
    gracePeriodMs: opts.gracePeriodMs ?? 1000,
    // Fleets of hundreds leave at once here; istiod's 20 deletions/s has its own test (test/registration).
    cleanupPerSecond: 1000,
  });
  return {
    cp,
    port: cp.xdsPort,
    target: `127.0.0.1:${cp.xdsPort}`,
    registration: cp.workloadEntries,
    entries: (ns) => cp.store.list('WorkloadEntry', ns),
    close: () => cp.close(),
  };
}

/** Polls `cond` every 50 ms until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}
