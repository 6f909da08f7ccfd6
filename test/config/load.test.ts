import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/diagnostics.js';
import { applyLoaded, loadConfigPaths } from '../../src/config/load.js';
import type { DestinationRule, WorkloadEntry } from '../../src/config/resources.js';
import { ConfigStore, type ConfigBatch } from '../../src/config/store.js';

const DIR = 'test/fixtures/config/dir';

const countKinds = (rs: readonly { resource: { kind: string } }[]) => {
  const c: Record<string, number> = {};
  for (const r of rs) c[r.resource.kind] = (c[r.resource.kind] ?? 0) + 1;
  return c;
};

describe('loadConfigPaths', () => {
  it('walks directories recursively in sorted order, reading only .yaml/.yml/.json', async () => {
    const r = await loadConfigPaths([DIR]);
    // a.yaml, then sub/b.yml (later, so it wins), then sub/c.json; notes.txt is ignored.
    expect(r.resources.map((l) => [l.source.file, l.resource.kind, l.resource.metadata.name])).toEqual([
      [`${DIR}/sub/b.yml`, 'WorkloadEntry', 'we-shared'],
      [`${DIR}/sub/c.json`, 'Namespace', 'pay'],
    ]);
    expect((r.resources[0]!.resource as WorkloadEntry).spec.address).toBe('10.0.3.2');
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([
      `${DIR}/sub/b.yml:1 WorkloadEntry pay/we-shared: warning: defined again: replaces the definition at ${DIR}/a.yaml:1 (the later one wins)`,
    ]);
  });

  it('takes files of any name when named explicitly, keeping the path as given', async () => {
    const r = await loadConfigPaths([`./${DIR}/notes.txt`, `${DIR}/a.yaml`]);
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([
      `./${DIR}/notes.txt:1: expected a Kubernetes object (a mapping with apiVersion and kind), got "not a manifest"`,
    ]);
    expect(r.resources).toHaveLength(1);
  });

  it('reports unreadable paths and still loads the rest', async () => {
    const r = await loadConfigPaths(['does/not/exist.yaml', `${DIR}/sub/c.json`]);
    expect(r.diagnostics).toEqual([
      { severity: 'error', file: 'does/not/exist.yaml', line: 1, document: 1, message: 'cannot read: no such file or directory' },
    ]);
    expect(r.resources.map((l) => l.resource.kind)).toEqual(['Namespace']);
  });
});

describe('applyLoaded', () => {
  it('commits everything in one batch', async () => {
    const store = new ConfigStore();
    const batches: ConfigBatch[] = [];
    store.subscribe((b) => batches.push(b));
    const loaded = await loadConfigPaths(['examples/mesh']);
    const events = applyLoaded(store, loaded);
    expect(batches).toHaveLength(1);
    expect(events).toHaveLength(loaded.resources.length);
    expect(store.size).toBe(loaded.resources.length);
    // Re-applying the same files changes nothing.
    expect(applyLoaded(store, loaded.resources)).toEqual([]);
    expect(batches).toHaveLength(1);
  });
});

describe('examples/mesh', () => {
  it('loads cleanly: 9 VMs in 3 localities behind reviews, with failover and subsets', async () => {
    const r = await loadConfigPaths(['examples/mesh']);
    expect(r.diagnostics).toEqual([]);
    expect(countKinds(r.resources)).toEqual({
      Namespace: 1,
      ServiceAccount: 1,
      Service: 1,
      WorkloadEntry: 9,
      DestinationRule: 1,
      ServiceEntry: 1,
    });
    const entries = r.resources.map((l) => l.resource).filter((x): x is WorkloadEntry => x.kind === 'WorkloadEntry');
    expect(new Set(entries.map((e) => e.spec.locality))).toEqual(
      new Set(['us-east/us-east-1a/rack1', 'us-east/us-east-1b/rack1', 'us-west/us-west-2a/rack1']),
    );
    expect(entries.every((e) => e.metadata.namespace === 'pay' && e.spec.labels?.['app'] === 'reviews')).toBe(true);
    const dr = r.resources.map((l) => l.resource).find((x): x is DestinationRule => x.kind === 'DestinationRule')!;
    expect(dr.spec.trafficPolicy?.loadBalancer?.localityLbSetting?.failover).toEqual([{ from: 'us-east', to: 'us-west' }]);
    expect(dr.spec.trafficPolicy?.outlierDetection).toBeDefined();
    expect(dr.spec.subsets?.map((s) => s.name)).toEqual(['v1', 'v2']);
  });
});

describe('examples/seeds (manifests from the seed articles)', () => {
  // Every field in these manifests was checked against the Istio and Kubernetes APIs: none is
  // unknown, so there are no unknown-field warnings. The only warnings are duplicates: the
  // articles show the same resource again as they refine it (postgres-vm-1 three times;
  // payment-service's WorkloadGroup and Service again in the closing "complete manifest").
  const ACCEPTED = new Set(['WorkloadEntry', 'WorkloadGroup', 'Service', 'ServiceEntry', 'DestinationRule', 'PeerAuthentication', 'Namespace', 'ServiceAccount']);

  it('load without errors; everything xdsim does not read is reported as unused', async () => {
    const r = await loadConfigPaths(['examples/seeds']);
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const warnings = r.diagnostics.filter((d) => d.severity === 'warning');
    // `selector: {}` on a PeerAuthentication: istiod's validateWorkloadSelector warns too.
    expect(warnings.map((d) => `${d.kind} ${d.name}: ${d.message.split(':')[0]}`)).toEqual([
      'WorkloadEntry databases/postgres-vm-1: defined again',
      'WorkloadEntry databases/postgres-vm-1: defined again',
      'PeerAuthentication vm-workloads/strict-mtls: workload selector specified without labels',
      'WorkloadGroup vm-workloads/payment-service: defined again',
      'Service vm-workloads/payment-service: defined again',
    ]);
    const unused = r.diagnostics.filter((d) => d.severity === 'unused');
    expect(unused.every((d) => d.message === 'not used by xdsim' && d.kind && !ACCEPTED.has(d.kind))).toBe(true);
    expect(countKinds(unused.map((d) => ({ resource: { kind: d.kind! } })))).toEqual({
      IstioOperator: 3,
      AuthorizationPolicy: 5,
      VirtualService: 3,
      Gateway: 1,
      ConfigMap: 1,
      Telemetry: 2,
    });
    expect(countKinds(r.resources)).toEqual({
      WorkloadEntry: 5,
      WorkloadGroup: 7,
      Service: 4,
      ServiceEntry: 1,
      DestinationRule: 6,
      PeerAuthentication: 4,
      Namespace: 2,
      ServiceAccount: 3,
    });
  });
});
