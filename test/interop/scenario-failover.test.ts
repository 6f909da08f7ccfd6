// A zone fails through its agents' probes, against the embedded xdsim and the istiod peer alike:
// the health reports show in the agents' counters, the failover in the observer's shares. Then
// the same run with failover broken on the control plane (a DestinationRule without
// outlierDetection: istiod sets no priorities) must fail that expectation on both.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseScenario } from '../../src/scenario/load.js';
import { runScenario } from '../../src/scenario/runner.js';
import type { RemoteTargetSpec } from '../../src/scenario/target.js';
import type { RunReport } from '../../src/report/types.js';
import { TokenIssuer } from '../../src/security/token-issuer.js';
import { startIstiodPeer, type IstiodPeer } from './istiod-peer.js';

function scenarioYaml(name: string, outlierDetection: boolean): string {
  return `
apiVersion: xdsim.io/v1alpha1
kind: Scenario
metadata: { name: ${name} }
mesh:
  manifests:
    - apiVersion: v1
      kind: Service
      metadata: { name: vm-app, namespace: ns-1 }
      spec:
        selector: { app: vm-app }
        ports: [{ name: http, port: 80, targetPort: 8080 }]
    - apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: { name: vm-app, namespace: ns-1 }
      spec:
        host: vm-app.ns-1.svc.cluster.local
        trafficPolicy:
${outlierDetection ? '          outlierDetection: { consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s }\n' : ''}          loadBalancer:
            localityLbSetting: { enabled: true }
workloadGroups:
  - apiVersion: networking.istio.io/v1
    kind: WorkloadGroup
    metadata: { name: vm-app, namespace: ns-1 }
    spec:
      metadata: { labels: { app: vm-app } }
      template: { ports: { http: 8080 }, serviceAccount: vm-app }
      probe: { periodSeconds: 2, httpGet: { path: /ready, port: 8080 } }
controlPlane: { gracePeriod: 2s }
fleet:
  duration: 16s
  ramp: 60/s
  agents:
    - group: ns-1/vm-app
      count: 36
      localities: [region-1/zone-1a/sz-1, region-1/zone-1b/sz-1, region-2/zone-2a/sz-1, region-2/zone-2b/sz-1]
timeline:
  - at: 7s
    unhealthy: { group: ns-1/vm-app, locality: region-1/zone-1a }
expectations:
  - name: traffic stays in the local zone
    at: 6s
    lbShares:
      cluster: outbound|80||vm-app.ns-1.svc.cluster.local
      proxy: { locality: region-1/zone-1a/sz-1 }
      localities: { region-1/zone-1a: 100% }
  - name: zone down, traffic fails over inside the region
    at: 12s
    lbShares:
      cluster: outbound|80||vm-app.ns-1.svc.cluster.local
      proxy: { locality: region-1/zone-1a/sz-1 }
      localities: { region-1/zone-1a: 0%, region-1/zone-1b: 100% }
  - errors: 0
`;
}

const dir = mkdtempSync(path.join(tmpdir(), 'xdsim-scenario-failover-'));
// The peer verifies the agents' tokens with this key, as istiod verifies a cluster's.
const issuer = TokenIssuer.generate();
let peer: IstiodPeer | undefined;

beforeAll(async () => {
  const keyFile = path.join(dir, 'key.pem');
  writeFileSync(keyFile, issuer.publicKey.export({ type: 'spki', format: 'pem' }));
  peer = await startIstiodPeer({ files: [], validateIdentity: true, jwtPublicKeyFile: keyFile, extraArgs: ['--grace-period', '2s'] });
}, 600_000);

afterAll(async () => {
  await peer?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** One run, in its own namespace (runs share the peer and must not see each other's entries). */
async function run(name: string, outlierDetection: boolean, remote: boolean): Promise<{ report: RunReport; byName: Record<string, RunReport['expectations'][number]> }> {
  const ns = `ns-${name}`;
  const loaded = await parseScenario(scenarioYaml(name, outlierDetection).replaceAll('ns-1', ns), `${name}.yaml`);
  expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  let target: RemoteTargetSpec | undefined;
  if (remote) {
    const tokenFile = path.join(dir, `${ns}.jwt`);
    writeFileSync(tokenFile, await issuer.mint(ns, 'vm-app'));
    target = { address: peer!.xds, applyUrl: `http://${peer!.admin}/apply`, tokenFile, name: 'istiod peer' };
  }
  const report = await runScenario(loaded.scenario!, { ...(target ? { target } : {}), logLevel: 'silent' });
  return { report, byName: Object.fromEntries(report.expectations.map((e) => [e.name, e])) };
}

describe.each([
  ['embedded xdsim', false],
  ['istiod peer', true],
] as const)('a zone failing through its agents\' probes, against the %s', (label, remote) => {
  it('reports the failing probes over xDS and the observer sees the failover', async () => {
    const { report, byName } = await run(remote ? 'peer-ok' : 'emb-ok', true, remote);
    expect(report.target?.name).toBe(label);
    expect(report.agents.healthReports!.unhealthy).toBeGreaterThanOrEqual(9);
    expect(report.timeline[0]).toMatchObject({ ok: true, result: expect.stringMatching(/9 agent\(s\)' probes fail/) });
    for (const e of report.expectations) expect(e, `${e.name}: ${e.detail}`).toMatchObject({ pass: true });
    expect(byName['zone down, traffic fails over inside the region']!.pass).toBe(true);
    expect(report.clientConvergence?.byKind.health?.count).toBeGreaterThan(0);
  }, 120_000);

  it('fails the failover expectation when the DestinationRule has no outlierDetection', async () => {
    const { byName } = await run(remote ? 'peer-broken' : 'emb-broken', false, remote);
    // No outlier detection: no locality priorities, so traffic spreads over every region.
    expect(byName['traffic stays in the local zone']).toMatchObject({ pass: false });
    expect(byName['zone down, traffic fails over inside the region']).toMatchObject({ pass: false, detail: expect.stringMatching(/region-2/) });
  }, 120_000);
});
