// End to end over loopback: the real control plane, the real fleet in its child process, real
// gRPC. Small and bounded (seconds), but every piece is the one `xdsim run` uses.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeHistogram } from '../../src/report/histogram.js';
import type { RunReport } from '../../src/report/types.js';
import { loadScenario } from '../../src/scenario/load.js';
import { runScenario } from '../../src/scenario/runner.js';

const BIN = join(import.meta.dirname, '../../bin/xdsim.js');

function xdsim(args: string[], timeout = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A service whose endpoints are the agents themselves, in two zones of us-east and in us-west. */
function scenario(opts: { outlierDetection: boolean; name: string }): string {
  return `apiVersion: xdsim.io/v1alpha1
kind: Scenario
metadata: { name: ${opts.name} }
mesh:
  manifests:
    - apiVersion: v1
      kind: Service
      metadata: { name: app, namespace: pay }
      spec: { selector: { app: app }, ports: [{ name: http, port: 80, targetPort: 8080 }] }
    - apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: { name: app, namespace: pay }
      spec:
        host: app.pay.svc.cluster.local
        trafficPolicy:
${opts.outlierDetection ? '          outlierDetection: { consecutive5xxErrors: 5, interval: 10s }\n' : ''}          loadBalancer:
            localityLbSetting: { enabled: true, failover: [{ from: us-east, to: us-west }] }
workloadGroups:
  - apiVersion: networking.istio.io/v1
    kind: WorkloadGroup
    metadata: { name: app, namespace: pay }
    spec:
      metadata: { labels: { app: app } }
      template: { ports: { http: 8080 } }
      probe: { periodSeconds: 1, tcpSocket: { port: 8080 } }
controlPlane: { gracePeriod: 1s }
fleet:
  duration: 7s
  agents:
    - group: pay/app
      count: 24
      localities: [us-east/1a/r1, us-east/1b/r1, us-west/2a/r1]
timeline:
  - at: 4s
    unhealthy: { locality: us-east/1a }
expectations:
  - registered: all
    at: 3500ms
  - name: us-east proxy stays local
    at: 3500ms
    lbShares:
      cluster: outbound|80||app.pay.svc.cluster.local
      proxy: { locality: us-east/1a/r1 }
      localities: { us-east/1a: 100% }
  - name: zone down, the rest of us-east
    at: 6s
    lbShares:
      cluster: outbound|80||app.pay.svc.cluster.local
      proxy: { locality: us-east/1a/r1 }
      localities: { us-east/1b: 100% }
  - convergence: { p99Ms: 5000, from: 3900ms }
  - nacks: 0
  - errors: 0
  - leakedEntries: 0
`;
}

describe('xdsim run, end to end', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xdsim-run-'));
  const good = join(dir, 'good.yaml');
  const broken = join(dir, 'broken.yaml');
  writeFileSync(good, scenario({ outlierDetection: true, name: 'small' }));
  // The failover rule broken on purpose: without outlierDetection istiod sets no priorities.
  writeFileSync(broken, scenario({ outlierDetection: false, name: 'no-outlier-detection' }));

  it('runs a small scenario: agents register, fail over, leave no entries', { timeout: 60_000 }, async () => {
    const loaded = await loadScenario(good);
    expect(loaded.diagnostics).toEqual([]);
    const r = await runScenario(loaded.scenario!, { logLevel: 'silent' });
    expect(r.expectations.filter((e) => !e.pass)).toEqual([]);
    expect(r.pass).toBe(true);
    // At the end the 8 agents of us-east/1a report unhealthy, so are out of EDS.
    expect(r.agents).toMatchObject({ total: 24, registered: 24, registeredPeak: 24, connectedPeak: 24, visibleInEds: 16 });
    expect(r.agents.edsVisible!.count).toBeGreaterThanOrEqual(24);
    expect(r.leakedEntries).toBe(0);
    expect(r.pushes).toBeGreaterThan(0);
    expect(r.convergence.count).toBeGreaterThan(0);
    expect(decodeHistogram(r.convergence.histogram).totalCount).toBe(r.convergence.count);
    expect(r.server.cpu.scope).toBe('process');
    expect(r.timeline).toHaveLength(1);
    // The zone went down through its agents' probes, reported over xDS.
    expect(r.timeline[0]!.result).toBe("pay/app: 8 agent(s)' probes fail from their next period");
    expect(r.agents.healthReports!.unhealthy).toBeGreaterThanOrEqual(8);
    // Seen from the agents: the registrations and the 8 flips reached every subscribed agent.
    expect(r.clientConvergence!.byKind.health!.count).toBe(8);
    expect(r.clientConvergence!.byKind.registration!.count).toBeGreaterThan(0);
    expect(r.clientConvergence!.incomplete).toBe(0);
  });

  it('breaking the failover rule fails the run with exit 1 and a readable reason', { timeout: 60_000 }, async () => {
    const out = join(dir, 'out');
    const r = await xdsim(['run', broken, '--out', out, '--json', '--no-progress']);
    expect(r.code).toBe(1);
    const reason = r.stderr.split('\n').find((l) => l.includes('us-east proxy stays local'));
    expect(reason).toMatch(
      new RegExp(`^${broken.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+: expectation "us-east proxy stays local" failed at 3\\.\\ds: us-east/1a 33\\.3% \\(expected 100\\.0%\\) beyond ±1\\.0%; traffic went to: `),
    );
    expect(r.stderr).toMatch(/xdsim: \d of 7 expectation\(s\) failed/);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as RunReport;
    // --json prints the same report on stdout.
    expect(JSON.parse(r.stdout)).toEqual(report);
    expect(report.pass).toBe(false);
    expect(report.agents.registered).toBe(24);
    expect(report.expectations.find((e) => e.name === 'us-east proxy stays local')!.pass).toBe(false);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain('<span class="verdict fail">FAIL</span>');

    // Shard reports merge: counts add, histograms merge.
    const merged = await xdsim(['report', 'merge', join(out, 'report.json'), join(out, 'report.json')]);
    expect(merged.code).toBe(0);
    const m = JSON.parse(merged.stdout) as RunReport;
    expect(m.shards).toBe(2);
    expect(m.agents.total).toBe(48);
    expect(m.convergence.count).toBe(2 * report.convergence.count);
  });

  it('bad input exits 2 with file:line errors and runs nothing', { timeout: 60_000 }, async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, scenario({ outlierDetection: true, name: 'bad' }).replace('count: 24', 'count: many'));
    const r = await xdsim(['run', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${bad}:32 Scenario bad fleet.agents[0].count: expected an integer >= 1, got "many"`);
    expect(r.stderr).toContain('xdsim: 1 error(s) in the scenario; nothing run');
    expect(r.stdout).toBe('');
    expect((await xdsim(['run', join(dir, 'missing.yaml')])).code).toBe(2);
    expect((await xdsim(['report', 'merge', bad])).code).toBe(2);
  });
});
