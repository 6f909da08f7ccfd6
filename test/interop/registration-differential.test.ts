// Auto-registration against istiod: the same simulated agents (src/agent, real gRPC, bearer
// tokens) connect to xdsim and to the istiod peer with identity validation on, as istiod runs by
// default. The WorkloadEntries both create must be equal (name, labels, annotations but
// timestamps and controller id, spec, owner reference but uid, conditions but times); an agent
// whose token names another service account is refused by both; a failing probe flips the
// Healthy condition and takes the endpoint out of EDS on both; a disconnected agent's entry is
// deleted by both after the grace period (within a stated tolerance). `npm run test:interop`.
import { writeFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Agent } from '../../src/agent/agent.js';
import type { ProbeModel, ProbeSettings } from '../../src/agent/probe.js';
import { readinessProbeFor } from '../../src/agent/probe.js';
import type { Resource } from '../../src/config/resources.js';
import { toStruct } from '../../src/proto/index.js';
import { TokenIssuer } from '../../src/security/token-issuer.js';
import { startControlPlane, type ControlPlane } from '../../src/server/control-plane.js';
import { proxyNode } from './differential/compare-mesh.js';
import { fetchXds } from './differential/xds-fetch.js';
import { writeMeshDir } from './differential/servers.js';
import { startIstiodPeer, type IstiodPeer } from './istiod-peer.js';

const NS = 'vm-ns';
const SA = 'vm-sa';
const GROUP = 'vm-group';
const CLUSTER = `outbound|8080||vm-app.${NS}.svc.cluster.local`;
const GRACE_MS = 2_000;
/** Deletion after the grace period: istiod checks on a timer, so allow this much beyond it. */
const CLEANUP_TOLERANCE_MS = 4_000;

const PROBE: ProbeSettings = {
  check: { kind: 'model', model: { kind: 'healthy' } },
  initialDelayMs: 0,
  periodMs: 300,
  timeoutMs: 200,
  successThreshold: 1,
  failureThreshold: 1,
};

const MESH: Resource[] = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, namespace: '' } },
  { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: SA, namespace: NS } },
  {
    apiVersion: 'networking.istio.io/v1',
    kind: 'WorkloadGroup',
    metadata: { name: GROUP, namespace: NS, labels: { team: 'pay' } },
    spec: {
      metadata: { labels: { app: 'vm-app', version: 'v1' }, annotations: { owner: 'pay-team' } },
      template: { serviceAccount: SA, ports: { http: 8080 }, network: 'vm-network' },
      probe: { periodSeconds: 1, httpGet: { path: '/ready', port: 8080 } },
    },
  } as Resource,
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'vm-app', namespace: NS },
    spec: { selector: { app: 'vm-app' }, ports: [{ name: 'http', port: 8080, targetPort: 8080 }] },
  },
];

interface Side {
  name: 'xdsim' | 'istiod';
  xds: string;
  entries(): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
}

const issuer = TokenIssuer.generate();
const dir = writeMeshDir(MESH);
const keyFile = `${dir.dir}/token-key.pem`;
let sides: Side[] = [];
const agents: Agent[] = [];

async function startSides(): Promise<Side[]> {
  writeFileSync(keyFile, issuer.publicKey.export({ type: 'spki', format: 'pem' }));
  const plane: ControlPlane = await startControlPlane({
    configPaths: [dir.dir],
    xdsAddress: '127.0.0.1:0',
    adminAddress: '127.0.0.1:0',
    logger: pino({ level: process.env['XDSIM_TEST_LOG'] ?? 'silent' }),
    processMetrics: false,
    debounce: { debounceAfterMs: 100 },
    validateIdentity: true,
    tokenAuth: issuer.authOptions(),
    gracePeriodMs: GRACE_MS,
  });
  const peer: IstiodPeer = await startIstiodPeer({
    files: [dir.dir],
    debounceMs: 100,
    validateIdentity: true,
    jwtPublicKeyFile: keyFile,
    extraArgs: ['--grace-period', `${GRACE_MS}ms`],
  });
  return [
    {
      name: 'xdsim',
      xds: `127.0.0.1:${plane.xdsPort}`,
      entries: async () => {
        const r = await fetch(`http://127.0.0.1:${plane.adminPort}/debug/configz?kind=WorkloadEntry`);
        return (await r.json()) as Record<string, unknown>[];
      },
      stop: () => plane.close(),
    },
    { name: 'istiod', xds: peer.xds, entries: async () => (await peer.workloadEntries()) as Record<string, unknown>[], stop: () => peer.stop() },
  ];
}

async function agent(side: Side, i: number, serviceAccount = SA, model: ProbeModel = { kind: 'healthy' }): Promise<Agent> {
  const token = await issuer.mint(NS, serviceAccount);
  const a = new Agent({
    target: side.xds,
    index: i,
    identity: {
      name: `vm-${i}`,
      namespace: NS,
      ip: `10.60.0.${i + 1}`,
      group: GROUP,
      serviceAccount,
      locality: { region: 'r1', zone: 'z1', subZone: `s${i % 2}` },
      labels: { app: 'vm-app', version: 'v1' },
      readinessProbe: readinessProbeFor(PROBE),
    },
    probe: { ...PROBE, check: { kind: 'model', model } },
    callMetadata: { authorization: `Bearer ${token}` },
    backoff: { initialMs: 200, maxMs: 1000, multiplier: 2, jitter: 0.2, maxAttempts: 5 },
    connectTimeoutMs: 5_000,
    subscription: { cds: false, eds: [CLUSTER] },
  });
  agents.push(a);
  a.start();
  return a;
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What must be equal across servers: everything but times, controller ids, uids and versions. */
function comparable(e: Record<string, unknown>): unknown {
  const md = (e['metadata'] ?? {}) as Record<string, unknown>;
  const annotations = { ...((md['annotations'] ?? {}) as Record<string, string>) };
  for (const k of ['istio.io/connectedAt', 'istio.io/disconnectedAt', 'istio.io/workloadController']) {
    if (k in annotations) annotations[k] = '<set>';
  }
  const owners = ((md['ownerReferences'] ?? []) as Record<string, unknown>[]).map(({ uid: _u, ...rest }) => rest);
  const status = (e['status'] ?? {}) as { conditions?: Record<string, unknown>[] };
  const conditions = (status.conditions ?? []).map((c) => ({ type: c['type'], status: c['status'] }));
  return {
    name: md['name'],
    namespace: md['namespace'],
    labels: md['labels'] ?? {},
    annotations,
    ownerReferences: owners,
    spec: e['spec'],
    conditions,
  };
}

async function entriesOf(side: Side): Promise<Map<string, Record<string, unknown>>> {
  const list = await side.entries();
  return new Map(list.filter((e) => (e['metadata'] as Record<string, string>)['namespace'] === NS).map((e) => [(e['metadata'] as Record<string, string>)['name']!, e]));
}

async function edsAddresses(side: Side): Promise<string[]> {
  const node = proxyNode({ name: 'observer', namespace: NS, ip: '10.61.0.1', locality: 'r1/z1/s0', network: '', labels: {}, kind: 'sidecar', serviceAccount: 'observer' });
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${await issuer.mint(NS, 'observer')}`);
  const got = await fetchXds(side.xds, node, [{ type: 'eds', names: [CLUSTER] }], 5000, md);
  const cla = got.eds.get(CLUSTER) as { endpoints?: { lb_endpoints?: { endpoint?: { address?: { socket_address?: { address?: string } } } }[] }[] } | undefined;
  return (cla?.endpoints ?? []).flatMap((g) => (g.lb_endpoints ?? []).map((e) => e.endpoint?.address?.socket_address?.address ?? '?')).sort();
}

/** How a server treats one stream: `served` (a response came), or the status it ended with. */
async function streamOutcome(side: Side, node: ReturnType<typeof proxyNode>, token?: string): Promise<string> {
  const md = new grpc.Metadata();
  if (token) md.set('authorization', `Bearer ${token}`);
  try {
    const got = await fetchXds(side.xds, node, [{ type: 'eds', names: [CLUSTER] }], 3_000, md);
    return got.eds.size > 0 ? 'served' : 'no response';
  } catch (e) {
    return grpc.status[(e as grpc.ServiceError).code] ?? String(e);
  }
}

function vmNode(ip: string, serviceAccount: string, group = GROUP): ReturnType<typeof proxyNode> {
  const n = proxyNode({ name: `vm-${ip}`, namespace: NS, ip, locality: 'r1/z1/s0', network: '', labels: { app: 'vm-app' }, kind: 'sidecar', serviceAccount });
  const extra = toStruct({ AUTO_REGISTER_GROUP: group });
  return { ...n, metadata: { fields: { ...n.metadata!.fields, ...extra.fields } } };
}

describe('auto-registration: xdsim vs the istiod peer', () => {
  beforeAll(async () => {
    sides = await startSides();
  }, 1_200_000);

  afterAll(async () => {
    for (const a of agents.splice(0)) a.stop();
    await Promise.all(sides.map((s) => s.stop()));
    dir.remove();
  });

  it('the same agents make the same WorkloadEntries; the wrong service account is refused by both', async () => {
    for (const side of sides) {
      for (let i = 0; i < 4; i++) await agent(side, i);
      await agent(side, 9, 'intruder');
    }
    const [ours, theirs] = await Promise.all(sides.map((s) => waitFor(`4 entries on ${s.name}`, async () => {
      const m = await entriesOf(s);
      return [...m.values()].filter((e) => ((e['status'] as { conditions?: unknown[] } | undefined)?.conditions ?? []).length > 0).length >= 4 && m;
    })));
    expect([...ours!.keys()].sort()).toEqual([...theirs!.keys()].sort());
    expect(ours!.size).toBe(4);
    for (const [name, e] of ours!) expect(comparable(e), name).toEqual(comparable(theirs!.get(name)!));
    const ownerRef = ((theirs!.values().next().value!['metadata'] as Record<string, unknown>)['ownerReferences'] as unknown[])[0];
    expect(ownerRef).toMatchObject({ kind: 'WorkloadGroup', name: GROUP });
    // The entries' health is written before the push that carries it: wait (bounded) for both
    // servers' EDS to hold the four, then compare.
    const eds = await Promise.all(sides.map((s) => waitFor(`4 endpoints in ${s.name}'s EDS`, async () => {
      const a = await edsAddresses(s);
      return a.length >= 4 && a;
    })));
    expect(eds[0]).toEqual(eds[1]);
  }, 60_000);

  it.each<[string, () => Promise<[ReturnType<typeof proxyNode>, string | undefined]>]>([
    ['no token', async () => [vmNode('10.62.0.1', SA), undefined]],
    ['a token for another service account than the node claims', async () => [vmNode('10.62.0.2', SA), await issuer.mint(NS, 'someone-else')]],
    ['a token for another namespace', async () => [vmNode('10.62.0.3', SA), await issuer.mint('other-ns', SA)]],
    ['an identity the group does not allow', async () => [vmNode('10.62.0.4', 'intruder'), await issuer.mint(NS, 'intruder')]],
    ['a group that does not exist', async () => [vmNode('10.62.0.5', SA, 'no-such-group'), await issuer.mint(NS, SA)]],
    ['a valid agent', async () => [vmNode('10.62.0.6', SA), await issuer.mint(NS, SA)]],
  ])('a stream with %s ends (or is served) the same way on both', async (_n, make) => {
    const [node, token] = await make();
    const [ours, theirs] = await Promise.all(sides.map((s) => streamOutcome(s, node, token)));
    expect(ours).toBe(theirs);
  }, 30_000);

  it('a failing probe flips Healthy to False and takes the endpoint out of EDS on both', async () => {
    const flipped = agents.filter((a) => a.identity.ip === '10.60.0.2');
    for (const a of flipped) a.setProbeModel({ kind: 'unhealthy' });
    for (const side of sides) {
      await waitFor(`unhealthy entry on ${side.name}`, async () => {
        const e = (await entriesOf(side)).get(`${GROUP}-10.60.0.2-vm-network`) ?? (await entriesOf(side)).get(`${GROUP}-10.60.0.2`);
        const c = ((e?.['status'] as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).find((x) => x.type === 'Healthy');
        return c?.status === 'False';
      });
    }
    // The condition change is a config change: EDS follows after the debounce on both.
    const [a, b] = await Promise.all(sides.map((s) => waitFor(`10.60.0.2 out of EDS on ${s.name}`, async () => {
      const addrs = await edsAddresses(s);
      return !addrs.includes('10.60.0.2') && addrs;
    }, 5_000)));
    expect(a).toEqual(b);
    for (const x of flipped) x.setProbeModel({ kind: 'healthy' });
  }, 60_000);

  it('a disconnected agent is marked, then deleted after the grace period on both', async () => {
    const leaving = agents.filter((a) => a.identity.ip === '10.60.0.3');
    const stoppedAt = Date.now();
    for (const a of leaving) a.stop();
    const deletedAfter = await Promise.all(
      sides.map(async (side) => {
        await waitFor(`entry of 10.60.0.3 gone on ${side.name}`, async () => ![...(await entriesOf(side)).keys()].some((n) => n.includes('10.60.0.3')), GRACE_MS + CLEANUP_TOLERANCE_MS + 5_000);
        return Date.now() - stoppedAt;
      }),
    );
    for (const ms of deletedAfter) {
      expect(ms).toBeGreaterThanOrEqual(GRACE_MS - 200);
      expect(ms).toBeLessThanOrEqual(GRACE_MS + CLEANUP_TOLERANCE_MS);
    }
  }, 60_000);

  it("a fleet that leaves at once loses its entries at istiod's cleanup rate (20 a second) on both", async () => {
    const N = 40;
    const fleetOf = (ip: string) => Number(ip.split('.')[3]) > 100;
    const ours = (keys: Iterable<string>) => [...keys].filter((k) => /10\.60\.0\.(\d+)/.test(k) && fleetOf(/10\.60\.0\.\d+/.exec(k)![0]));
    const fleets = await Promise.all(sides.map((side) => Promise.all(Array.from({ length: N }, (_, i) => agent(side, 100 + i)))));
    await Promise.all(sides.map((side) => waitFor(`${N} entries on ${side.name}`, async () => ours((await entriesOf(side)).keys()).length === N, 30_000)));
    const stoppedAt = Date.now();
    for (const f of fleets) for (const a of f) a.stop();
    // When the first and the last entry went, per side (polled every 200 ms).
    const spans = await Promise.all(
      sides.map(async (side) => {
        let first: number | undefined;
        const end = stoppedAt + GRACE_MS + CLEANUP_TOLERANCE_MS + (N * 1000) / 20 + 10_000;
        while (Date.now() < end) {
          const left = ours((await entriesOf(side)).keys()).length;
          if (left < N && first === undefined) first = Date.now();
          if (left === 0) return { side: side.name, firstMs: first! - stoppedAt, lastMs: Date.now() - stoppedAt };
          await new Promise((r) => setTimeout(r, 200));
        }
        throw new Error(`${side.name}: entries still there ${end - stoppedAt} ms after the agents left`);
      }),
    );
    process.stderr.write(`cleanup of ${N} entries (first -> last deleted): ${spans.map((x) => `${x.side} ${x.firstMs} -> ${x.lastMs} ms`).join('; ')}\n`);
    for (const x of spans) {
      // One queue at 20 a second: the last goes (N - 1) / 20 s after the first, give or take a poll.
      expect(x.lastMs - x.firstMs, x.side).toBeGreaterThanOrEqual(((N - 1) * 1000) / 20 - 600);
      expect(x.lastMs - x.firstMs, x.side).toBeLessThanOrEqual(((N - 1) * 1000) / 20 + 1500);
    }
  }, 120_000);
});
