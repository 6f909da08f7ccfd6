import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseManifests } from '../../src/config/parse.js';
import type { DestinationRule, Resource, WorkloadEntry } from '../../src/config/resources.js';
import { ConfigStore } from '../../src/config/store.js';
import { EdsCache } from '../../src/eds/eds-cache.js';
import { Registry } from '../../src/model/registry.js';
import { generateMesh, ipv4, meshLocalities, mulberry32, type MeshOptions } from '../../src/topology/generate.js';

const base: MeshOptions = {
  regions: 3,
  zonesPerRegion: 3,
  subzonesPerZone: 3,
  services: 4,
  namespaces: 2,
  entriesPerLocality: 2,
  seed: 7,
};

const entries = (rs: Resource[]) => rs.filter((r): r is WorkloadEntry => r.kind === 'WorkloadEntry');
const rules = (rs: Resource[]) => rs.filter((r): r is DestinationRule => r.kind === 'DestinationRule');

function toYaml(rs: Resource[]): string {
  // Namespaces are cluster-scoped: no metadata.namespace in a manifest.
  return rs
    .map((r) => stringify(r.kind === 'Namespace' ? { ...r, metadata: { name: r.metadata.name } } : r))
    .join('---\n');
}

describe('generateMesh', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const o: MeshOptions = { ...base, weights: 'random', racks: 3, networks: 2, destinationRules: 'mixed', subsets: 2 };
    expect(generateMesh(o)).toEqual(generateMesh(o));
    expect(generateMesh(o)).not.toEqual(generateMesh({ ...o, seed: 8 }));
    const a = mulberry32(1);
    const b = mulberry32(1);
    for (let i = 0; i < 100; i++) expect(a()).toBe(b());
  });

  it('names localities region-r/zone-rX/sz-s and spreads entries round-robin', () => {
    const locs = meshLocalities(base);
    expect(locs).toHaveLength(27);
    expect(locs[0]).toBe('region-1/zone-1a/sz-1');
    expect(locs[26]).toBe('region-3/zone-3c/sz-3');
    const we = entries(generateMesh(base));
    expect(we).toHaveLength(4 * 27 * 2);
    // Every (service, locality) pair gets exactly entriesPerLocality entries.
    const counts = new Map<string, number>();
    for (const e of we) {
      const key = `${e.spec.labels!.app}|${e.spec.locality}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(4 * 27);
    for (const n of counts.values()) expect(n).toBe(2);
    // Unique addresses and names.
    expect(new Set(we.map((e) => e.spec.address)).size).toBe(we.length);
    expect(new Set(we.map((e) => `${e.metadata.namespace}/${e.metadata.name}`)).size).toBe(we.length);
    expect(ipv4(0)).toBe('10.0.0.1');
    expect(ipv4(65535)).toBe('10.1.0.0');
  });

  it('honours totalEntries, weights and health fractions', () => {
    const we = entries(
      generateMesh({ ...base, totalEntries: 1000, weights: 'random', maxWeight: 0xffffffff, healthChecked: 0.5, unhealthy: 0.5 }),
    );
    expect(we).toHaveLength(1000);
    expect(we.every((e) => e.spec.weight! >= 1 && e.spec.weight! <= 0xffffffff)).toBe(true);
    const hc = we.filter((e) => e.metadata.annotations?.['proxy.istio.io/health-checks-enabled'] === 'true');
    expect(hc.length).toBeGreaterThan(400);
    expect(hc.length).toBeLessThan(600);
    const bad = hc.filter((e) => e.status?.conditions?.[0]?.status === 'False');
    expect(bad.length).toBeGreaterThan(hc.length * 0.35);
    expect(bad.length).toBeLessThan(hc.length * 0.65);
  });

  it('writes the requested DestinationRule policies', () => {
    const failover = rules(generateMesh({ ...base, destinationRules: 'failover' }));
    expect(failover).toHaveLength(4);
    for (const dr of failover) {
      expect(dr.spec.trafficPolicy?.outlierDetection).toBeDefined();
      expect(dr.spec.trafficPolicy?.loadBalancer?.localityLbSetting?.failover).toHaveLength(3);
    }
    for (const dr of rules(generateMesh({ ...base, destinationRules: 'distribute' }))) {
      for (const rule of dr.spec.trafficPolicy!.loadBalancer!.localityLbSetting!.distribute!) {
        if (rule.from !== '*') expect(Object.values(rule.to!).reduce((a, b) => a + b, 0)).toBe(100);
      }
    }
    for (const dr of rules(generateMesh({ ...base, destinationRules: 'failoverPriority', racks: 2 }))) {
      expect(dr.spec.trafficPolicy!.loadBalancer!.localityLbSetting!.failoverPriority!.length).toBeGreaterThan(0);
    }
    expect(rules(generateMesh({ ...base, destinationRules: 'none' }))).toHaveLength(0);
    // Subsets need a rule even without a policy.
    const subsetOnly = rules(generateMesh({ ...base, destinationRules: 'none', subsets: 2 }));
    expect(subsetOnly).toHaveLength(4);
    expect(subsetOnly[0]!.spec.trafficPolicy).toBeUndefined();
    expect(subsetOnly[0]!.spec.subsets!.map((s) => s.name)).toEqual(['v1', 'v2']);
  });

  it('produces manifests the config loader accepts, warning only about the deliberately inert failover', () => {
    const o: MeshOptions = {
      ...base,
      weights: 'random',
      healthChecked: 0.5,
      unhealthy: 0.5,
      destinationRules: 'mixed',
      subsets: 2,
      racks: 2,
      networks: 2,
      emptyServices: 1,
      serviceKind: 'mixed',
    };
    const rs = generateMesh(o);
    const parsed = parseManifests(toYaml(rs), 'mesh.yaml');
    // `mixed` includes failover without outlierDetection on purpose (istiod then sets no priorities).
    const inert = (d: (typeof parsed.diagnostics)[number]) => d.severity === 'warning' && d.message.startsWith('has no effect without outlierDetection');
    expect(parsed.diagnostics.filter((d) => !inert(d)).map((d) => `${d.line} ${d.path}: ${d.message}`)).toEqual([]);
    expect(parsed.diagnostics.filter(inert).length).toBeGreaterThan(0);
    expect(parsed.resources).toHaveLength(rs.length);
  });

  it('builds the expected clusters and endpoints in the registry', () => {
    const o: MeshOptions = { ...base, subsets: 2, emptyServices: 1, serviceKind: 'mixed', destinationRules: 'failover' };
    const store = new ConfigStore();
    store.commit(generateMesh(o).map((resource) => ({ op: 'apply', resource })));
    const registry = new Registry(store);
    const eds = new EdsCache(registry);
    const names = eds.clusterNames();
    expect(names).toHaveLength((4 + 1) * 3);
    const sizes = names.map((n) => eds.endpointCount(n));
    // Per real service: 54 entries, split 27/27 over v1/v2; the empty service has none.
    expect(sizes.filter((n) => n === 54)).toHaveLength(4);
    expect(sizes.filter((n) => n === 27)).toHaveLength(8);
    expect(sizes.filter((n) => n === 0)).toHaveLength(3);
    eds.close();
    registry.close();
  });
});
