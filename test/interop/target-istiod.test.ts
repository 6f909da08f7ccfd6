// What `xdsim run` reads from a remote istiod beside xDS, against the istiod peer (istio's own
// discovery server and debug handlers): config piped through a command into its apply API, its
// auto-registered WorkloadEntries from istiod's /debug/configz, and its Prometheus metrics
// turned into run figures while agents register and get pushes.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { parseManifests } from '../../src/config/parse.js';
import { ANNOTATION_AUTO_REGISTRATION_GROUP } from '../../src/registration/annotations.js';
import { RemoteTarget } from '../../src/scenario/target.js';
import { TargetMetrics } from '../../src/scenario/target-metrics.js';
import { startIstiodPeer, type IstiodPeer } from './istiod-peer.js';

const MESH = `apiVersion: v1
kind: Service
metadata: { name: app, namespace: pay }
spec: { selector: { app: app }, ports: [{ name: http, port: 80, targetPort: 8080 }] }
---
apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: { name: app, namespace: pay }
spec:
  metadata: { labels: { app: app } }
  template: { ports: { http: 8080 }, serviceAccount: app }
`;

let peer: IstiodPeer | undefined;
const agents: Agent[] = [];
afterEach(() => {
  for (const a of agents.splice(0)) a.stop();
});
afterAll(async () => {
  await peer?.stop();
});

async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  let v = await f();
  while (!ok(v) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 200));
    v = await f();
  }
  return v;
}

describe('a remote istiod: commands, debug API, metrics', () => {
  it('applies through a command, lists registered entries from /debug/configz, and reports its metrics', async () => {
    // Identity validation off: these agents carry no token (the quickstart test covers tokens).
    peer = await startIstiodPeer({ files: [], validateIdentity: false, extraArgs: ['--grace-period', '1s'] });
    const admin = `http://${peer.admin}`;
    const target = new RemoteTarget({
      address: peer.xds,
      applyCommand: `curl -sS --fail-with-body -H 'content-type: application/yaml' --data-binary @- ${admin}/apply`,
      debugUrl: admin,
      metricsUrl: `${admin}/metrics`,
      name: 'istiod peer',
    });
    const metrics = new TargetMetrics(target.metricsUrl!, { intervalMs: 500 });
    const first = await metrics.start();
    expect(first).toMatchObject({ rssBytes: expect.any(Number) });

    expect(await target.apply(parseManifests(MESH, 'mesh.yaml').resources.map((l) => l.resource))).toBe('applied 2 resource(s) ({"applied":2})');
    expect(await target.autoRegisteredEntries()).toEqual([]);

    const n = 6;
    for (let i = 0; i < n; i++) {
      const a = new Agent({
        target: peer.xds,
        index: i,
        identity: { name: `vm-${i}`, namespace: 'pay', ip: `10.78.0.${i + 1}`, group: 'app', serviceAccount: 'app', labels: { app: 'app' }, locality: { region: 'r1', zone: 'z1', subZone: 's1' } },
        backoff: { initialMs: 100, maxMs: 500, multiplier: 2, jitter: 0.5, maxAttempts: 50 },
        connectTimeoutMs: 5000,
      });
      a.start();
      agents.push(a);
    }
    const want = Array.from({ length: n }, (_, i) => `WorkloadEntry/pay/app-10.78.0.${i + 1}`).sort();
    expect(await until(() => target.autoRegisteredEntries(), (k) => k?.length === n)).toEqual(want);
    // The same set as the peer's own listing (which shows ownerReferences too).
    const listed = (await peer.workloadEntries()) as { metadata: { name: string; namespace: string; annotations?: Record<string, string> } }[];
    expect(listed.filter((w) => w.metadata.annotations?.[ANNOTATION_AUTO_REGISTRATION_GROUP]).map((w) => `WorkloadEntry/${w.metadata.namespace}/${w.metadata.name}`).sort()).toEqual(want);
    // Every agent sees every registration: pushes to converge.
    await until(async () => agents.every((a) => a.visible), (v) => v);
    // A change every agent needs, so at least one push goes to them all; it converges when the
    // last one ACKs, which may come after the agents saw their addresses.
    await target.apply(parseManifests('apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: { name: static, namespace: pay }\nspec: { address: 10.9.9.9, labels: { app: app } }\n', 'we.yaml').resources.map((l) => l.resource));
    await until(async () => (await metrics.sample(), metrics.summary().convergence?.count ?? 0), (c) => c > 0);
    // Long enough for the 500 ms timer's scrapes between start and finish.
    await new Promise((r) => setTimeout(r, 1200));

    const s = await metrics.finish();
    expect(s.failedScrapes).toBe(0);
    expect(s.scrapes).toBeGreaterThanOrEqual(3);
    expect(s.missing).toEqual([]);
    expect(s.connectedProxies!.start).toBe(0);
    expect(s.connectedProxies!.peak).toBe(n);
    expect(s.convergence!.count).toBeGreaterThan(0);
    expect(s.convergence!.p50Ms).toBeGreaterThan(0);
    expect(s.convergence!.p99Ms).toBeGreaterThanOrEqual(s.convergence!.p50Ms!);
    expect(s.convergence!.buckets.at(-1)).toEqual({ le: '+Inf', count: s.convergence!.count });
    // One CDS and at least one EDS response per agent.
    expect(s.pushesByType!['cds']).toBeGreaterThanOrEqual(n);
    expect(s.pushesByType!['eds']).toBeGreaterThanOrEqual(n);
    expect(s.cpu!.seconds).toBeGreaterThan(0);
    expect(s.rssBytes!.peak).toBeGreaterThan(10 * 1024 * 1024);

    // Agents gone: istiod removes their entries after the grace period (what leakedEntries counts).
    for (const a of agents.splice(0)) a.stop();
    expect(await until(() => target.autoRegisteredEntries(), (k) => k?.length === 0)).toEqual([]);
  }, 120_000);
});
