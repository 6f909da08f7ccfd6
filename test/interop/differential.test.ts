// xdsim against istiod's real discovery server (the istiod peer, test/interop/istiod-peer), on
// the same YAML: random meshes from the topology generator, examples/ and the seeds' manifests,
// sidecar and proxyless proxies in many localities, networks, namespaces and with many labels.
// Every resource both servers send is compared (see differential/compare-mesh.ts); a difference
// whose kind docs/istiod-differences.md does not list fails the run. Then run-time changes
// (entries, rules, services) are applied to both and every proxy compared again.
//
// XDSIM_DIFF_MESHES (default 500) and XDSIM_DIFF_BATCH (meshes per server start, default 50)
// bound the run. `npm run test:interop` (the first Go build of istio takes minutes; cached after).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { rmSync, writeFileSync } from 'node:fs';
import { Rng } from '../../src/topology/generate.js';
import { loadConfigPaths } from '../../src/config/load.js';
import type { Resource } from '../../src/config/resources.js';
import { compareClusterLoadAssignment, type Difference } from './differential/compare.js';
import { compareMesh, proxyNode, type MeshCounts } from './differential/compare-mesh.js';
import { isKnown, knownDifferences } from './differential/known-differences.js';
import { randomMesh, staticMesh, type Mesh } from './differential/meshes.js';
import { randomChanges } from './differential/mutate.js';
import { fetchXds, watchEds } from './differential/xds-fetch.js';
import { protocolCases } from './differential/protocol.js';
import { adminPost, DEBOUNCE_MS, startXdsim, toYaml, writeMeshDir } from './differential/servers.js';
import { buildIstiodPeer, startIstiodPeer } from './istiod-peer.js';

const MESHES = Number(process.env['XDSIM_DIFF_MESHES'] ?? 500);
const BATCH = Number(process.env['XDSIM_DIFF_BATCH'] ?? 50);
/** Multi-network meshes (XDSIM_DIFF_MULTI_NETWORK_MESHES, default 100), each batch under its own gateways. */
const MULTI_NETWORK_MESHES = Number(process.env['XDSIM_DIFF_MULTI_NETWORK_MESHES'] ?? 100);
/** How long both servers get to push a change before proxies look again (debounce + margin). */
const SETTLE_MS = DEBOUNCE_MS + 1_500;

const known = knownDifferences();
const totals = { meshes: 0, proxies: 0, resources: 0, differences: 0, known: 0, changes: 0, gatewaySets: 0 };
const byKind = new Map<string, number>();

function record(diffs: Difference[]): Difference[] {
  const unknown: Difference[] = [];
  for (const d of diffs) {
    totals.differences++;
    byKind.set(d.kind, (byKind.get(d.kind) ?? 0) + 1);
    if (isKnown(d.kind, known)) totals.known++;
    else unknown.push(d);
  }
  return unknown;
}

function report(unknown: Difference[]): string {
  const kinds = new Map<string, Difference[]>();
  for (const d of unknown) kinds.set(d.kind, [...(kinds.get(d.kind) ?? []), d]);
  return [...kinds]
    .map(([kind, ds]) => `${kind} (${ds.length}x), e.g.\n${ds.slice(0, 3).map((d) => `  ${d.where}\n    ${d.detail}`).join('\n')}`)
    .join('\n');
}

/** Both servers on one batch of meshes; each mesh compared, then changed and compared again. */
/** Network gateways as Kubernetes Services: loaded with the meshes; `removeLater` deleted from both servers at run time, then every mesh compared again. */
interface GatewayServices {
  all: Resource[];
  removeLater: Resource[];
}

async function runBatch(meshes: Mesh[], withChanges: boolean, sendUnhealthy = false, meshNetworks?: string, gatewayServices?: GatewayServices): Promise<Difference[]> {
  const { dir, remove } = writeMeshDir([...meshes.flatMap((m) => m.resources), ...(gatewayServices?.all ?? [])]);
  let meshNetworksFile: string | undefined;
  if (meshNetworks !== undefined) {
    // Outside the mesh directory: both servers read that as manifests.
    meshNetworksFile = `${dir}.networks.yaml`;
    writeFileSync(meshNetworksFile, meshNetworks);
  }
  const ours = await startXdsim([dir], { sendUnhealthyEndpoints: sendUnhealthy, ...(meshNetworksFile ? { meshNetworksFile } : {}) });
  const peer = await startIstiodPeer({
    files: [dir],
    debounceMs: DEBOUNCE_MS,
    validateIdentity: false,
    ...(sendUnhealthy ? { extraArgs: ['--send-unhealthy'] } : {}),
    ...(meshNetworksFile ? { meshNetworksFile } : {}),
  });
  const unknown: Difference[] = [];
  try {
    const counts: MeshCounts = { proxies: 0, resources: 0 };
    for (const mesh of meshes) unknown.push(...record(await compareMesh(mesh, ours.target, peer.xds, counts)));
    if (withChanges) {
      // One proxy per mesh keeps a stream open on each server through the changes: what the
      // pushes leave it holding must match too, not only what a fresh stream gets afterwards.
      const watches = await Promise.all(meshes.map(async (m) => {
        const p = m.proxies.find((x) => x.kind === 'sidecar')!;
        const node = proxyNode(p);
        const cds = await fetchXds(ours.target, node, [{ type: 'cds', names: [] }]);
        const names = [...cds.cds.keys()].filter((n) => n.startsWith('outbound|') && m.owns(n));
        return { mesh: m, proxy: p, names, ours: watchEds(ours.target, node, names), theirs: watchEds(peer.xds, node, names) };
      }));
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      const changes = meshes.map((m) => ({ mesh: m, changes: randomChanges(m, m.index + 1) }));
      for (const { changes: cs } of changes) {
        for (const c of cs) {
          totals.changes++;
          if (c.apply.length) await Promise.all([adminPost(ours.adminPort, '/apply', toYaml(c.apply)), peer.apply(toYaml(c.apply))]);
          if (c.remove.length) await Promise.all([adminPost(ours.adminPort, '/delete', toYaml(c.remove)), peer.remove(toYaml(c.remove))]);
        }
      }
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      for (const w of watches) {
        const what = changes.find((c) => c.mesh === w.mesh)!.changes.map((c) => c.what).join('; ');
        for (const name of w.names) {
          const a = w.ours.latest.get(name);
          const b = w.theirs.latest.get(name);
          const where = `mesh ${w.mesh.index} ${w.proxy.name} pushed ${name} after [${what}]`;
          if (!a || !b) unknown.push(...record([{ kind: 'eds.pushed', where, detail: `xdsim ${a ? 'has' : 'lacks'} it, istiod ${b ? 'has' : 'lacks'} it` }]));
          else unknown.push(...record(compareClusterLoadAssignment(where, a, b)));
        }
        w.ours.close();
        w.theirs.close();
      }
      for (const { mesh, changes: cs } of changes) {
        const after = await compareMesh(mesh, ours.target, peer.xds, counts);
        for (const d of after) d.where = `${d.where} after [${cs.map((c) => c.what).join('; ')}]`;
        unknown.push(...record(after));
      }
    }
    if (gatewayServices?.removeLater.length) {
      const yaml = toYaml(gatewayServices.removeLater);
      await Promise.all([adminPost(ours.adminPort, '/delete', yaml), peer.remove(yaml)]);
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      const what = gatewayServices.removeLater.map((r) => `${r.metadata.namespace}/${r.metadata.name}`).join(', ');
      for (const mesh of meshes) {
        const after = await compareMesh(mesh, ours.target, peer.xds, counts);
        for (const d of after) d.where = `${d.where} after deleting gateway Service ${what}`;
        unknown.push(...record(after));
      }
    }
    totals.meshes += meshes.length;
    totals.proxies += counts.proxies;
    totals.resources += counts.resources;
  } finally {
    await Promise.all([ours.close(), peer.stop()]);
    remove();
    if (meshNetworksFile) rmSync(meshNetworksFile, { force: true });
  }
  return unknown;
}

interface GatewaySpec {
  network: string;
  address: string;
  port: number;
}

/** Gateways for network-1..n: 0 to 3 each (at least one network has one), addresses that sort differently as strings and numbers. */
function randomGateways(seed: number, networks: number): GatewaySpec[] {
  const rng = new Rng(seed);
  const out: GatewaySpec[] = [];
  for (let n = 1; n <= networks; n++) {
    const count = n === 1 ? rng.int(1, 3) : rng.pick([0, 1, 1, 2, 3]);
    for (let g = 0; g < count; g++) out.push({ network: `network-${n}`, address: `203.0.${n}.${rng.pick([2, 9, 10, 100]) + 3 * g}`, port: rng.pick([15443, 15443, 15444]) });
  }
  return out;
}

/** The same gateways as Services labeled with their network: one LoadBalancer Service per (network, port), its gateways as ingress IPs, some as externalIPs. */
function gatewayServices(seed: number, gateways: readonly GatewaySpec[]): Resource[] {
  const rng = new Rng(seed);
  const byService = new Map<string, GatewaySpec[]>();
  for (const g of gateways) byService.set(`${g.network}|${g.port}`, [...(byService.get(`${g.network}|${g.port}`) ?? []), g]);
  return [...byService.values()].map((gs, i) => {
    const { network, port } = gs[0]!;
    const external = gs.filter(() => rng.chance(0.3)).map((g) => g.address);
    const ingress = gs.filter((g) => !external.includes(g.address)).map((g) => ({ ip: g.address }));
    return {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: `eastwest-${i}`,
        namespace: 'istio-system',
        labels: { 'topology.istio.io/network': network, ...(port !== 15443 ? { 'networking.istio.io/gatewayPort': String(port) } : {}) },
      },
      spec: { type: 'LoadBalancer', ports: [{ name: 'tls', port }], ...(external.length ? { externalIPs: external } : {}) },
      ...(ingress.length ? { status: { loadBalancer: { ingress } } } : {}),
    } as unknown as Resource;
  });
}

function meshNetworksYaml(gateways: readonly GatewaySpec[], networks: number): string {
  const doc: Record<string, { endpoints: { fromRegistry: string }[]; gateways?: { address: string; port: number }[] }> = {};
  for (let n = 1; n <= networks; n++) {
    const gws = gateways.filter((g) => g.network === `network-${n}`).map((g) => ({ address: g.address, port: g.port }));
    doc[`network-${n}`] = { endpoints: [{ fromRegistry: `registry-${n}` }], ...(gws.length ? { gateways: gws } : {}) };
  }
  return toYaml([{ networks: doc } as never]);
}

describe('xdsim vs the istiod peer (differential)', () => {
  beforeAll(async () => {
    await buildIstiodPeer();
  }, 1_200_000);

  afterAll(() => {
    console.log(
      `differential: ${totals.meshes} meshes, ${totals.proxies} proxies, ${totals.resources} resources compared, ` +
        `${totals.changes} run-time changes, ${totals.gatewaySets} meshNetworks gateway sets; ${totals.differences} differences (${totals.known} listed in docs/istiod-differences.md)` +
        (byKind.size ? `\n  by kind: ${[...byKind].map(([k, n]) => `${k}=${n}`).join(', ')}` : ''),
    );
  });

  it('examples/ and the seeds’ manifests', async () => {
    const meshes: Mesh[] = [];
    for (const [i, p] of ['../../examples/mesh', '../../examples/seeds'].entries()) {
      const loaded = await loadConfigPaths([fileURLToPath(new URL(p, import.meta.url))]);
      meshes.push(staticMesh(10_000 + i, loaded.resources.map((l) => l.resource), i + 1));
    }
    // One server pair per file set: their namespaces and hosts may overlap.
    const unknown: Difference[] = [];
    for (const m of meshes) unknown.push(...(await runBatch([m], false)));
    expect(unknown, report(unknown)).toEqual([]);
  }, 300_000);

  it(`${MESHES} random meshes, then run-time changes on each`, async () => {
    const unknown: Difference[] = [];
    for (let start = 0; start < MESHES; start += BATCH) {
      const meshes = Array.from({ length: Math.min(BATCH, MESHES - start) }, (_, k) => randomMesh(start + k, start + k + 1));
      unknown.push(...(await runBatch(meshes, true)));
    }
    expect(unknown, report(unknown)).toEqual([]);
  }, 1_800_000);

  it(`multi-network: ${MULTI_NETWORK_MESHES} random meshes under meshNetworks gateways (split horizon), with run-time changes, then again with a gateway removed`, async () => {
    const unknown: Difference[] = [];
    for (let start = 0; start < MULTI_NETWORK_MESHES; start += BATCH) {
      const networks = 2 + ((start / BATCH) % 2);
      const meshes = Array.from({ length: Math.min(BATCH, MULTI_NETWORK_MESHES - start) }, (_, k) => randomMesh(30_000 + start + k, 30_000 + start + k + 1, { networks }));
      const gateways = randomGateways(40_000 + start, networks);
      totals.gatewaySets++;
      unknown.push(...(await runBatch(meshes, true, false, meshNetworksYaml(gateways, networks))));
      // The same meshes once a gateway is gone (the peer's meshNetworks is fixed at start, so on a fresh pair).
      const fewer = gateways.filter((_, i) => i !== (start / BATCH) % gateways.length);
      totals.gatewaySets++;
      unknown.push(...(await runBatch(meshes, false, false, meshNetworksYaml(fewer, networks))));
    }
    expect(unknown, report(unknown)).toEqual([]);
  }, 1_800_000);

  it(`multi-network: ${MULTI_NETWORK_MESHES / 2} random meshes with gateways as Services labeled topology.istio.io/network, then one deleted at run time`, async () => {
    const unknown: Difference[] = [];
    for (let start = 0; start < MULTI_NETWORK_MESHES / 2; start += BATCH) {
      const networks = 2 + ((start / BATCH) % 2);
      const meshes = Array.from({ length: Math.min(BATCH, MULTI_NETWORK_MESHES / 2 - start) }, (_, k) => randomMesh(50_000 + start + k, 50_000 + start + k + 1, { networks }));
      const services = gatewayServices(60_000 + start, randomGateways(60_000 + start, networks));
      totals.gatewaySets += 2;
      // meshNetworks without addresses names the networks, as a real mesh does beside labeled Services.
      unknown.push(...(await runBatch(meshes, false, false, meshNetworksYaml([], networks), { all: services, removeLater: [services[(start / BATCH) % services.length]!] })));
    }
    expect(unknown, report(unknown)).toEqual([]);
  }, 1_800_000);

  it('with PILOT_SEND_UNHEALTHY_ENDPOINTS on both: 20 more random meshes', async () => {
    const meshes = Array.from({ length: 20 }, (_, k) => randomMesh(20_000 + k, 20_000 + k + 1));
    const unknown = await runBatch(meshes, false, true);
    expect(unknown, report(unknown)).toEqual([]);
  }, 300_000);

  it('the xDS protocol: unknown names, unsubscribe, NACK, stale nonces, wildcard, delta', async () => {
    const dir = fileURLToPath(new URL('../../examples/mesh', import.meta.url));
    const ours = await startXdsim([dir]);
    const peer = await startIstiodPeer({ files: [dir], debounceMs: DEBOUNCE_MS, validateIdentity: false });
    const unknown: Difference[] = [];
    try {
      const node = proxyNode({ name: 'protocol', namespace: 'pay', ip: '10.97.0.1', locality: 'us-east/us-east-1a/rack1', network: '', labels: {}, kind: 'sidecar' });
      const cases = protocolCases('outbound|9080||reviews.pay.svc.cluster.local', 'outbound|9080||ratings.pay.internal', 'outbound|80||nobody.pay.svc.cluster.local');
      for (const [i, c] of cases.entries()) {
        const [a, b] = await Promise.all([c.run(ours.target, node, 500), c.run(peer.xds, node, 500)]);
        for (const [k, step] of a.entries()) {
          const theirs = b[k]?.responses ?? [];
          if (JSON.stringify(step.responses) !== JSON.stringify(theirs)) {
            unknown.push(...record([{ kind: `protocol.${i + 1}`, where: `${c.name}: after "${step.step}"`, detail: `xdsim ${JSON.stringify(step.responses)} istiod ${JSON.stringify(theirs)}` }]));
          }
        }
      }
    } finally {
      await Promise.all([ours.close(), peer.stop()]);
    }
    expect(unknown, report(unknown)).toEqual([]);
  }, 120_000);
});
