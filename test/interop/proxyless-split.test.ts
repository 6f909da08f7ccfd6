// Every proxyless client flavour (grpc-js-xds, grpc-go, grpc-java, Python grpcio) spreads RPCs
// the same way whether xdsim or istiod (the istiod peer: istio's real discovery server) serves
// the same echo mesh. Per scenario, each client makes N RPCs (XDSIM_SPLIT_RPCS, default 2,000)
// through each server; per backend, the two shares must agree, and each must agree with the
// share src/lb's gRPC model predicts from the ClusterLoadAssignment that server sends.
//
// Tolerance: a two-proportion z-test per backend. With c1/n1 and c2/n2 the counts,
// p = (c1 + c2) / (n1 + n2) and se = sqrt(p (1 - p) (1/n1 + 1/n2)), the shares must satisfy
// |c1/n1 - c2/n2| <= 4 se; against the model share q, |c/n - q| <= 4 sqrt(q (1 - q) / n). Four
// standard errors is a false alarm about once in 16,000 comparisons for binomial picks; gRPC's
// weighted_target picks a locality at random but round_robin inside a locality is deterministic,
// so real counts vary less than that. A backend with share 0 (or 1) on both sides has se 0: it
// must get exactly none (all) of the RPCs through both servers. Failed RPCs count as their own
// "error:<code>" backend, so any failure is a difference too.
//
// Run with `npm run test:interop` (it builds the Go, Java and Python clients and the istiod peer,
// each cached by source hash). A flavour whose toolchain (go, mvn + java, python3) is not
// installed is skipped, with a message; a failing build fails its test.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeShares, type ClaJson } from '../../src/lb/index.js';
import { ECHO_HOST, ECHO_SERVICE_YAML, echoEntryYaml, proxylessBootstrap, startEchoBackends, type EchoBackend, type EchoBackends } from '../helpers/echo-mesh.js';
import { bootstrapNode, fetchCla, startMeshServer, type MeshServer, type MeshServerKind } from './echo-mesh-servers.js';
import { buildIstiodPeer } from './istiod-peer.js';
import { CLIENT_FLAVOURS, startProxylessChild, type ClientCommand, type ClientFlavour } from './proxyless-clients.js';

const N = Number(process.env['XDSIM_SPLIT_RPCS'] ?? 2000);
const TARGET = `xds:///${ECHO_HOST}:5000`;
const CLUSTER = `outbound|5000||${ECHO_HOST}`;
const Z = 4;

/** Six backends in five localities of two regions; entry weights make locality weights unequal. */
const BACKENDS: readonly EchoBackend[] = [
  { name: 'echo-a1', ip: '127.0.0.2', locality: 'r1/z1/s1' },
  { name: 'echo-a2', ip: '127.0.0.3', locality: 'r1/z1/s1' },
  { name: 'echo-b', ip: '127.0.0.4', locality: 'r1/z2/s1', weight: 2 },
  { name: 'echo-d', ip: '127.0.0.5', locality: 'r1/z3/s1', weight: 3 },
  { name: 'echo-c1', ip: '127.0.0.6', locality: 'r2/z1/s1' },
  { name: 'echo-c2', ip: '127.0.0.7', locality: 'r2/z2/s1' },
];

interface Scenario {
  name: string;
  /** The client's locality (bootstrap node.locality). */
  clientLocality: string;
  rule: string;
  unhealthy: readonly string[];
  /**
   * Backends each server is told are unhealthy (their WorkloadEntry with a Healthy=False
   * condition, through POST /apply on either server) while each client is connected and has
   * warmed up; the shares measured and compared are those after the change. Restored afterwards.
   */
  flip?: readonly string[];
}

const OUTLIER = 'outlierDetection: { consecutive5xxErrors: 100, interval: 10s, baseEjectionTime: 30s }';

/** The echo service's DestinationRule with `trafficPolicy` (YAML, indented under it). */
const echoRule = (trafficPolicy: string): string => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: echo, namespace: pay }
spec:
  host: echo
  trafficPolicy:
    ${trafficPolicy}
`;

const SCENARIOS: readonly Scenario[] = [
  {
    // Own locality 50 (two endpoints), r1/z2 20, r2's two localities 30 by endpoint weight, r1/z3 nothing.
    name: 'distribute from the client locality',
    clientLocality: 'r1/z1/s1',
    rule: echoRule(`loadBalancer:
      localityLbSetting:
        enabled: true
        distribute:
        - from: r1/z1/*
          to: { "r1/z1/*": 50, "r1/z2/*": 20, "r2/*": 30 }`),
    unhealthy: [],
  },
  {
    // Own locality unhealthy: the rest of r1 (r1/z2 weight 2, r1/z3 weight 3) is the first priority, r2 the next.
    name: 'failover: own locality unhealthy, weighted localities of the region next',
    clientLocality: 'r1/z1/s1',
    rule: echoRule(OUTLIER),
    unhealthy: ['echo-a1', 'echo-a2'],
  },
  {
    // A client in a zone with no backends: r1's three localities (weights 2, 2, 3) first, r2 next.
    name: 'failover: client zone empty, three weighted localities of the region',
    clientLocality: 'r1/z9/s1',
    rule: echoRule(OUTLIER),
    unhealthy: [],
  },
  {
    // The same, then r1/z3 turns unhealthy at run time: r1/z1 (weight 2) and r1/z2 (weight 2) share.
    name: 'failover: a weighted locality turns unhealthy while the clients run',
    clientLocality: 'r1/z9/s1',
    rule: echoRule(OUTLIER),
    unhealthy: [],
    flip: ['echo-d'],
  },
];

type Counts = Record<string, number>;

/** |p1 - p2| <= Z se, the pooled two-proportion standard error; exact when se is 0. */
function agree(c1: number, n1: number, c2: number, n2: number): { ok: boolean; diff: number; bound: number } {
  const p = (c1 + c2) / (n1 + n2);
  const bound = Z * Math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2));
  const diff = Math.abs(c1 / n1 - c2 / n2);
  return { ok: diff <= bound + 1e-12, diff, bound };
}

/** |c/n - q| <= Z sqrt(q (1 - q) / n). */
function fits(c: number, n: number, q: number): { ok: boolean; diff: number; bound: number } {
  const bound = Z * Math.sqrt((q * (1 - q)) / n);
  const diff = Math.abs(c / n - q);
  return { ok: diff <= bound + 1e-9, diff, bound };
}

function hasTool(cmd: string): boolean {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore', timeout: 30_000 });
  return r.error === undefined;
}

const TOOLS: Record<string, string[]> = { 'grpc-js': [], 'grpc-go': ['go'], 'grpc-java': ['mvn', 'java'], 'grpc-python': ['python3'] };

let backends: EchoBackends;
const commands = new Map<string, ClientCommand | { missing: string }>();
const report: string[] = [];

beforeAll(async () => {
  const log = (l: string) => process.stderr.write(`${l}\n`);
  // Builds one after the other: two cores.
  await buildIstiodPeer({ log });
  for (const f of CLIENT_FLAVOURS) {
    const missing = (TOOLS[f.name] ?? []).filter((t) => !hasTool(t));
    if (missing.length > 0) {
      commands.set(f.name, { missing: missing.join(', ') });
      continue;
    }
    const started = Date.now();
    commands.set(f.name, await f.prepare({ log, timeoutMs: 1_200_000 }));
    report.push(`${f.name}: ready in ${((Date.now() - started) / 1000).toFixed(1)} s (build or cache hit)`);
  }
  backends = await startEchoBackends(BACKENDS);
}, 1_560_000);

afterAll(() => {
  backends?.close();
  if (report.length > 0) process.stderr.write(`\nproxyless split (N=${N}, |Δp| <= ${Z} se):\n${report.join('\n')}\n`);
});

function entriesYaml(names: readonly string[], healthy: boolean): string {
  return BACKENDS.filter((b) => names.includes(b.name))
    .map((b) => echoEntryYaml(b, backends.ports.get(b.name)!, healthy))
    .join('---\n');
}

function meshYaml(sc: Scenario): string {
  const entries = BACKENDS.map((b) => echoEntryYaml(b, backends.ports.get(b.name)!, !sc.unhealthy.includes(b.name)));
  return [ECHO_SERVICE_YAML, sc.rule, ...entries].join('---\n');
}

/** backend name -> the gRPC model's share for the CLA (names by address). */
function modelShares(cla: ClaJson): Record<string, number> {
  const shares = computeShares(cla, { client: 'grpc' });
  const byAddress = new Map(BACKENDS.map((b) => [`${b.ip}:${backends.ports.get(b.name)}`, b.name]));
  const out: Record<string, number> = Object.fromEntries(BACKENDS.map((b) => [b.name, 0]));
  for (const e of shares.endpoints) {
    const name = byAddress.get(e.address);
    if (name === undefined) throw new Error(`CLA endpoint ${e.address} is no echo backend`);
    out[name] = (out[name] ?? 0) + e.share;
  }
  return out;
}

/**
 * RPCs through one client process against one server: warm up until every backend `warm` expects
 * answered; with a flip, turn those backends unhealthy and wait until only backends `model`
 * expects answer; then N RPCs.
 */
async function measure(
  f: ClientFlavour,
  cmd: ClientCommand,
  server: MeshServer,
  sc: Scenario,
  warm: Record<string, number>,
  model: Record<string, number>,
): Promise<Counts> {
  const what = `${f.name} via ${server.kind}`;
  const child = await startProxylessChild(cmd, TARGET, proxylessBootstrap(server.xds, sc.clientLocality), { label: `${f.name} client (${server.kind})` });
  try {
    const expected = Object.entries(warm).filter(([, q]) => q >= 0.05).map(([name]) => name);
    let deadline = Date.now() + 30_000;
    for (let seen = new Set<string>(); ; ) {
      const t = await child.tally(100);
      const errors = Object.keys(t).filter((k) => k.startsWith('error:'));
      for (const k of Object.keys(t)) seen.add(k);
      if (errors.length === 0 && expected.every((b) => seen.has(b))) break;
      if (errors.length > 0) seen = new Set();
      if (Date.now() > deadline) throw new Error(`${what}: warm-up did not reach ${expected.join(', ')} in 30 s (last: ${JSON.stringify(t)})`);
    }
    if (sc.flip) {
      await server.apply(entriesYaml(sc.flip, false));
      deadline = Date.now() + 30_000;
      for (;;) {
        const t = await child.tally(100);
        if (Object.keys(t).every((k) => (model[k] ?? 0) > 0)) break;
        if (Date.now() > deadline) throw new Error(`${what}: traffic still outside the model 30 s after the flip (last: ${JSON.stringify(t)})`);
      }
    }
    return await child.tally(N);
  } finally {
    await child.stop();
    if (sc.flip) await server.apply(entriesYaml(sc.flip, true));
  }
}

/** src/lb's gRPC shares for the CLA a node in the scenario's locality gets, once `ready` holds for it (bounded). */
async function claModel(server: MeshServer, sc: Scenario, ready: (addresses: Set<string>) => boolean): Promise<Record<string, number>> {
  const node = bootstrapNode(proxylessBootstrap('unused', sc.clientLocality));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const cla = await fetchCla(server.xds, node, CLUSTER);
    const addresses = new Set((cla.endpoints ?? []).flatMap((g) => (g.lbEndpoints ?? []).map((e) => e.endpoint?.address?.socketAddress?.address ?? '')));
    if (ready(addresses)) return modelShares(cla);
    if (Date.now() > deadline) throw new Error(`${server.kind}: the CLA for ${CLUSTER} did not settle in 30 s (endpoints ${[...addresses].join(', ')})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.each(SCENARIOS)('proxyless split: $name', (sc) => {
  const servers = new Map<MeshServerKind, MeshServer>();
  /** Shares the model predicts before the flip (for warm-up) and the ones measured against. */
  const warmModels = new Map<MeshServerKind, Record<string, number>>();
  const models = new Map<MeshServerKind, Record<string, number>>();

  beforeAll(async () => {
    const yaml = meshYaml(sc);
    for (const kind of ['xdsim', 'istiod'] as const) servers.set(kind, await startMeshServer(kind, yaml));
    const ipsOf = (names: readonly string[]) => BACKENDS.filter((b) => names.includes(b.name)).map((b) => b.ip);
    for (const [kind, s] of servers) {
      // istiod debounces its first push after the config lands: ask until endpoints are in.
      warmModels.set(kind, await claModel(s, sc, (a) => a.size > 0));
      if (sc.flip) {
        await s.apply(entriesYaml(sc.flip, false));
        models.set(kind, await claModel(s, sc, (a) => ipsOf(sc.flip!).every((ip) => !a.has(ip))));
        await s.apply(entriesYaml(sc.flip, true));
        await claModel(s, sc, (a) => ipsOf(sc.flip!).every((ip) => a.has(ip)));
      } else {
        models.set(kind, warmModels.get(kind)!);
      }
    }
    report.push(`\n${sc.name} (client in ${sc.clientLocality}${sc.flip ? `; ${sc.flip.join(', ')} unhealthy at run time` : ''})`);
    if (sc.flip) report.push(`  model before the flip, from xdsim's CLA: ${fmt(warmModels.get('xdsim')!)}`);
    report.push(`  model (grpc, src/lb) from xdsim's CLA:  ${fmt(models.get('xdsim')!)}`);
    report.push(`  model (grpc, src/lb) from istiod's CLA: ${fmt(models.get('istiod')!)}`);
  }, 180_000);

  afterAll(async () => {
    for (const s of servers.values()) await s.stop();
  });

  it('the gRPC model predicts the same shares from either server\'s ClusterLoadAssignment', () => {
    for (const m of [warmModels, models]) {
      const a = m.get('xdsim')!;
      const b = m.get('istiod')!;
      for (const name of Object.keys(a)) expect(a[name], name).toBeCloseTo(b[name]!, 9);
    }
  });

  for (const f of CLIENT_FLAVOURS) {
    it(`${f.title}: the same shares through xdsim and istiod, and as the model predicts`, async (ctx) => {
      const cmd = commands.get(f.name);
      if (!cmd || 'missing' in cmd) {
        report.push(`  ${f.name}: skipped (${cmd ? `no ${cmd.missing}` : 'not prepared'})`);
        ctx.skip();
        return;
      }
      const counts = new Map<MeshServerKind, Counts>();
      for (const kind of ['xdsim', 'istiod'] as const) counts.set(kind, await measure(f, cmd, servers.get(kind)!, sc, warmModels.get(kind)!, models.get(kind)!));
      const x = counts.get('xdsim')!;
      const i = counts.get('istiod')!;
      const nx = Object.values(x).reduce((s, c) => s + c, 0);
      const ni = Object.values(i).reduce((s, c) => s + c, 0);
      report.push(`  ${f.name.padEnd(11)} via xdsim:  ${fmt(x, nx)}`);
      report.push(`  ${f.name.padEnd(11)} via istiod: ${fmt(i, ni)}`);
      const problems: string[] = [];
      const names = new Set([...Object.keys(x), ...Object.keys(i), ...BACKENDS.map((b) => b.name)]);
      for (const name of names) {
        const cx = x[name] ?? 0;
        const ci = i[name] ?? 0;
        const a = agree(cx, nx, ci, ni);
        if (!a.ok) problems.push(`${name}: xdsim ${cx}/${nx} vs istiod ${ci}/${ni}, |Δp| ${a.diff.toFixed(4)} > ${a.bound.toFixed(4)}`);
        for (const [kind, c, n] of [['xdsim', cx, nx], ['istiod', ci, ni]] as const) {
          const q = models.get(kind)![name] ?? 0;
          const m = fits(c, n, q);
          if (!m.ok) problems.push(`${name} via ${kind}: ${c}/${n} vs model ${q.toFixed(4)}, |Δp| ${m.diff.toFixed(4)} > ${m.bound.toFixed(4)}`);
        }
      }
      expect(problems).toEqual([]);
    }, 300_000);
  }
});

function fmt(t: Record<string, number>, n = 1): string {
  return Object.entries(t)
    .filter(([, v]) => v > 0)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k} ${(v / n).toFixed(3)}`)
    .join(', ');
}
