// EDS benchmark definitions, shared by `npm run bench` (bench/run.ts) and any later perf gate.
// Each case builds its fixture up front; the timed functions do only the work named.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { ConfigStore } from '../src/config/store.js';
import type { WorkloadEntry } from '../src/config/resources.js';
import { encodeCounters } from '../src/eds/cluster-endpoints.js';
import { EdsCache, registryGroups } from '../src/eds/eds-cache.js';
import { proxyView, type ProxyView } from '../src/eds/proxy.js';
import { encodeReference, referenceClaObject } from '../src/encode/reference.js';
import { parseLocality } from '../src/model/locality.js';
import { Registry } from '../src/model/registry.js';
import { NetworkGateways } from '../src/model/mesh-networks.js';
import { generateMesh, type MeshOptions } from '../src/topology/generate.js';

export const VIEW_SIZES = [100, 1000, 10_000] as const;

/** 27 localities (3 regions x 3 zones x 3 subzones), one service, a failover DestinationRule. */
export function viewMesh(endpoints: number): MeshOptions {
  return {
    regions: 3,
    zonesPerRegion: 3,
    subzonesPerZone: 3,
    services: 1,
    namespaces: 1,
    totalEntries: endpoints,
    weights: 'random',
    destinationRules: 'failover',
    seed: 1,
  };
}

/** The mesh of `full_build_100k`: 100k entries over 1k services, most with a DestinationRule. */
export const FULL_BUILD_MESH: MeshOptions = {
  regions: 3,
  zonesPerRegion: 3,
  subzonesPerZone: 3,
  services: 1000,
  namespaces: 10,
  totalEntries: 100_000,
  weights: 'random',
  destinationRules: 'mixed',
  seed: 1,
};

export const BENCH_PROXY: ProxyView = proxyView({ locality: parseLocality('region-1/zone-1a/sz-1') });

export interface EdsFixture {
  readonly store: ConfigStore;
  readonly registry: Registry;
  readonly eds: EdsCache;
  readonly cluster: string;
}

export function edsFixture(mesh: MeshOptions): EdsFixture {
  const store = new ConfigStore();
  store.commit(generateMesh(mesh).map((resource) => ({ op: 'apply', resource })));
  const registry = new Registry(store);
  const eds = new EdsCache(registry);
  const cluster = eds.clusterNames()[0]!;
  // Steady state: endpoint fields and locality bodies are cached, as after the first push.
  eds.view(cluster, BENCH_PROXY);
  return { store, registry, eds, cluster };
}

export interface BenchCase {
  readonly name: string;
  readonly fn: () => unknown;
  /** Size of the ClusterLoadAssignment the case produces or copies. */
  readonly bytes?: number;
}

/**
 * eds_view_N: compute the view and splice its bytes (view cache bypassed);
 * object_encode_N: the same message as a protobufjs object, encoded whole;
 * memcpy_N: copying the same number of bytes into a fresh buffer (the floor).
 */
export function viewCases(sizes: readonly number[] = VIEW_SIZES): BenchCase[] {
  const cases: BenchCase[] = [];
  for (const n of sizes) {
    const { eds, cluster } = edsFixture(viewMesh(n));
    const view = eds.buildUncached(cluster, BENCH_PROXY)!;
    const bytes = view.bytes;
    const len = bytes.length;
    cases.push({ name: `eds_view_${n}`, bytes: len, fn: () => eds.buildUncached(cluster, BENCH_PROXY) });
    cases.push({
      name: `object_encode_${n}`,
      bytes: len,
      fn: () => encodeReference(referenceClaObject(cluster, registryGroups(view))),
    });
    cases.push({
      name: `memcpy_${n}`,
      bytes: len,
      fn: () => {
        const out = Buffer.allocUnsafeSlow(len);
        out.set(bytes);
        return out;
      },
    });
  }
  return cases;
}

/**
 * eds_view_multinetwork_N: the viewMesh with entries on three networks (all with mTLS), network-2
 * behind two gateways and network-3 behind one (meshNetworks), seen from network-1: split horizon
 * (fold, weights scaled by 2, encode) plus the locality rules and the splice, view cache bypassed.
 */
function multiNetworkFixture(n: number): { store: ConfigStore; eds: EdsCache; cluster: string; proxy: ProxyView } {
  const store = new ConfigStore();
  const resources = generateMesh({ ...viewMesh(n), networks: 3 });
  for (const r of resources) if (r.kind === 'WorkloadEntry') (r as WorkloadEntry).spec.serviceAccount = 'vm-sa';
  store.commit(resources.map((resource) => ({ op: 'apply', resource })));
  const eds = new EdsCache(new Registry(store));
  eds.setNetworkGateways(
    NetworkGateways.fromMeshNetworks({
      networks: {
        'network-2': { gateways: [{ address: '192.0.2.1', port: 15443 }, { address: '192.0.2.2', port: 15443 }] },
        'network-3': { gateways: [{ address: '198.51.100.1', port: 15443 }] },
      },
    }),
  );
  const cluster = eds.clusterNames()[0]!;
  const proxy = proxyView({ locality: parseLocality('region-1/zone-1a/sz-1'), network: 'network-1' });
  eds.view(cluster, proxy);
  return { store, eds, cluster, proxy };
}

export function multiNetworkViewCase(n = 1000): BenchCase {
  const { eds, cluster, proxy } = multiNetworkFixture(n);
  const bytes = eds.view(cluster, proxy)!.bytes.length;
  return { name: `eds_view_multinetwork_${n}`, bytes, fn: () => eds.buildUncached(cluster, proxy) };
}

/**
 * eds_one_change_multinetwork_N: eds_one_change_N on that mesh: one weight update through the
 * store, registry and EDS cache, then the view rebuilt (its locality split again, the others reused).
 */
export function multiNetworkOneChangeCase(n = 1000): BenchCase {
  const { store, eds, cluster, proxy } = multiNetworkFixture(n);
  const entries = store.list('WorkloadEntry');
  const versions = entries.map((we): [WorkloadEntry, WorkloadEntry] => {
    const w = we.spec.weight ?? 1;
    return [
      { ...we, spec: { ...we.spec, weight: w + 1 } },
      { ...we, spec: { ...we.spec, weight: w } },
    ];
  });
  let i = 0;
  return {
    name: `eds_one_change_multinetwork_${n}`,
    fn: () => {
      const k = i++;
      store.commit([{ op: 'apply', resource: versions[k % versions.length]![Math.floor(k / versions.length) % 2]! }]);
      return eds.view(cluster, proxy);
    },
  };
}

export interface OneChangeCase extends BenchCase {
  /** Endpoint encodes and group joins per change, averaged over `changes` changes. */
  measureCounts(changes?: number): { endpointEncodes: number; groupJoins: number };
}

/**
 * eds_one_change_N: one WorkloadEntry weight update committed to the store, flowing through the
 * registry and the EDS cache, then the (invalidated) view rebuilt for the proxy.
 */
export function oneChangeCase(n = 1000): OneChangeCase {
  const { store, eds, cluster } = edsFixture(viewMesh(n));
  const entries = store.list('WorkloadEntry');
  // Two precomputed versions per entry, alternated, so every commit is a real change.
  const versions = entries.map((we): [WorkloadEntry, WorkloadEntry] => {
    const w = we.spec.weight ?? 1;
    return [
      { ...we, spec: { ...we.spec, weight: w + 1 } },
      { ...we, spec: { ...we.spec, weight: w } },
    ];
  });
  let i = 0;
  const change = () => {
    const k = i++;
    const pair = versions[k % versions.length]!;
    store.commit([{ op: 'apply', resource: pair[Math.floor(k / versions.length) % 2]! }]);
    return eds.view(cluster, BENCH_PROXY);
  };
  return {
    name: `eds_one_change_${n}`,
    bytes: eds.view(cluster, BENCH_PROXY)!.bytes.length,
    fn: change,
    measureCounts(changes = 200) {
      const e0 = encodeCounters.endpointEncodes;
      const j0 = encodeCounters.groupJoins;
      for (let c = 0; c < changes; c++) change();
      return {
        endpointEncodes: (encodeCounters.endpointEncodes - e0) / changes,
        groupJoins: (encodeCounters.groupJoins - j0) / changes,
      };
    },
  };
}

export interface FullBuildResult {
  readonly ms: number;
  /** CPU time of the build (user + system, all threads): less sensitive than `ms` to a busy machine. */
  readonly cpuMs: number;
  /** Process RSS right after the build, everything still referenced. */
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly clusters: number;
  readonly endpoints: number;
  readonly bytes: number;
  /** Milliseconds per stage: store commit, registry, EDS cache, one view per cluster. */
  readonly stages: { commit: number; registry: number; eds: number; views: number };
}

/**
 * full_build_100k: store load of the generated resources -> Registry -> EdsCache (every cluster)
 * -> one view per cluster. Resource generation is not timed (it stands in for parsing files).
 */
export function fullBuild(mesh: MeshOptions = FULL_BUILD_MESH): FullBuildResult {
  const ops = generateMesh(mesh).map((resource) => ({ op: 'apply' as const, resource }));
  // Start timing from a settled heap: promoting the freshly generated input to the old generation
  // is the cost of producing it (parsing, in a real load), which this benchmark leaves out.
  (globalThis as { gc?: () => void }).gc?.();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const store = new ConfigStore();
  store.commit(ops);
  const t1 = performance.now();
  const registry = new Registry(store);
  const t2 = performance.now();
  const eds = new EdsCache(registry);
  const t3 = performance.now();
  let bytes = 0;
  let endpoints = 0;
  const clusters = eds.clusterNames();
  for (const c of clusters) {
    bytes += eds.view(c, BENCH_PROXY)!.bytes.length;
    endpoints += eds.endpointCount(c);
  }
  const t4 = performance.now();
  const cpu = process.cpuUsage(c0);
  const mem = process.memoryUsage();
  return {
    ms: t4 - t0,
    cpuMs: (cpu.user + cpu.system) / 1000,
    rssBytes: mem.rss,
    heapUsedBytes: mem.heapUsed,
    clusters: clusters.length,
    endpoints,
    bytes,
    stages: { commit: t1 - t0, registry: t2 - t1, eds: t3 - t2, views: t4 - t3 },
  };
}

/** One full build in a child process (bench/full-build.ts), so its RSS is the build's alone. */
export function fullBuildInFreshProcess(): FullBuildResult {
  const script = fileURLToPath(new URL('./full-build.ts', import.meta.url));
  // execArgv carries tsx's loader hooks into the child.
  const stdout = execFileSync(process.execPath, [...process.execArgv, '--expose-gc', script], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as FullBuildResult;
}

export interface BenchmarkResult {
  name: string;
  medianNs: number;
  p99Ns: number;
  samples: number;
  bytes?: number;
}

/** Runs cases with tinybench (sequentially); `quick` trades precision for a run of seconds. */
export async function runBenchCases(cases: readonly BenchCase[], opts: { quick?: boolean } = {}): Promise<BenchmarkResult[]> {
  const quick = opts.quick === true;
  const bench = new Bench({
    time: quick ? 150 : 1000,
    warmupTime: quick ? 50 : 250,
    iterations: quick ? 16 : 64,
    throws: true,
  });
  for (const c of cases) bench.add(c.name, c.fn);
  await bench.run();
  return bench.tasks.map((t, i) => {
    const r = t.result;
    if (r.state !== 'completed') throw new Error(`benchmark ${t.name}: ${r.state}`);
    const out: BenchmarkResult = {
      name: t.name,
      medianNs: r.latency.p50 * 1e6,
      p99Ns: r.latency.p99 * 1e6,
      samples: r.latency.samplesCount,
    };
    const bytes = cases[i]!.bytes;
    if (bytes !== undefined) out.bytes = bytes;
    return out;
  });
}
