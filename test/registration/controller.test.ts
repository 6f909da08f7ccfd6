// Auto-registration and health (SPEC §6, §7) driven directly, with fake time.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WorkloadEntry, WorkloadGroup } from '../../src/config/resources.js';
import { ConfigStore } from '../../src/config/store.js';
import { EdsCache } from '../../src/eds/eds-cache.js';
import { parseLocality } from '../../src/model/locality.js';
import { Registry } from '../../src/model/registry.js';
import type { ConnectedProxy } from '../../src/registration/connected-proxy.js';
import { WorkloadEntryController } from '../../src/registration/controller.js';
import { autoRegisteredEntryName } from '../../src/registration/entry-name.js';
import { proxy, summarize, svc } from '../helpers/mesh.js';

const group: WorkloadGroup = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'WorkloadGroup',
  metadata: { name: 'payments', namespace: 'pay' },
  spec: {
    metadata: { labels: { app: 'pay', tier: 'group' }, annotations: { team: 'a' } },
    template: { serviceAccount: 'pay-sa', ports: { http: 8080 }, labels: { tier: 'template', version: 'v1' } },
    probe: { httpGet: { path: '/health', port: 8080 } },
  },
};

function agent(i: number, more: Partial<ConnectedProxy> = {}): ConnectedProxy {
  return {
    connectionId: `c${i}-${Math.random()}`,
    nodeId: `sidecar~10.1.0.${i}~vm${i}.pay~pay.svc.cluster.local`,
    namespace: 'pay',
    group: 'payments',
    network: '',
    ip: `10.1.0.${i}`,
    labels: { tier: 'proxy' },
    locality: parseLocality('r1/z1/s1'),
    // As an istioctl-configured VM sends it: the group's probe in its ProxyConfig.
    metadata: { PROXY_CONFIG: { readinessProbe: group.spec.probe } },
    ...more,
  };
}

describe('entry names', () => {
  it.each([
    ['g', '10.0.0.1', '', 'g-10.0.0.1'],
    ['g', 'fd00::1', '', 'g-fd00--1'],
    ['g', '10.0.0.1', 'net1', 'g-10.0.0.1-net1'],
    ['x'.repeat(260), '1.2.3.4', '', `${'x'.repeat(260)}-1.2.3.4`.slice(-253)],
  ])('%s %s %s', (g, ip, net, want) => {
    expect(autoRegisteredEntryName(g, ip, net)).toBe(want);
  });
});

describe('WorkloadEntryController', () => {
  let store: ConfigStore;
  let ctl: WorkloadEntryController;
  const entry = (i: number) => store.get<WorkloadEntry>(`WorkloadEntry/pay/payments-10.1.0.${i}`);

  beforeEach(() => {
    vi.useFakeTimers({ now: Date.parse('2026-11-23T00:00:00Z') });
    store = new ConfigStore();
    store.apply(group);
    ctl = new WorkloadEntryController(store, { gracePeriodMs: 10_000, controllerId: 'xdsim-test', validateIdentity: false });
  });
  afterEach(() => {
    ctl.close();
    vi.useRealTimers();
  });

  it("registers an entry with istiod's name, spec, labels and annotations", () => {
    ctl.onConnect(agent(1));
    ctl.flush();
    const we = entry(1)!;
    expect(we.metadata.labels).toEqual({ app: 'pay', tier: 'proxy', version: 'v1' });
    expect(we.spec).toMatchObject({ address: '10.1.0.1', serviceAccount: 'pay-sa', ports: { http: 8080 }, locality: 'r1/z1/s1' });
    expect(we.metadata.ownerReferences).toEqual([
      { apiVersion: 'networking.istio.io/v1', kind: 'WorkloadGroup', name: 'payments', uid: store.uid('WorkloadGroup/pay/payments'), controller: true },
    ]);
    expect(we.metadata.annotations).toEqual({
      'istio.io/autoRegistrationGroup': 'payments',
      team: 'a',
      'istio.io/workloadController': 'xdsim-test',
      'istio.io/connectedAt': '2026-11-23T00:00:00Z',
      'proxy.istio.io/health-checks-enabled': 'true',
    });
  });

  it("deletes entries past the grace period at istiod's cleanup rate, 20 per second", () => {
    const agents = [1, 2, 3, 4, 5].map((i) => agent(i));
    for (const a of agents) ctl.onConnect(a);
    ctl.flush();
    for (const a of agents) ctl.onDisconnect(a);
    ctl.flush();
    vi.advanceTimersByTime(10_000);
    ctl.flush();
    // The first at the grace period, then one every 50 ms.
    expect([1, 2, 3, 4, 5].map((i) => !!entry(i))).toEqual([false, true, true, true, true]);
    vi.advanceTimersByTime(100);
    ctl.flush();
    expect([1, 2, 3, 4, 5].map((i) => !!entry(i))).toEqual([false, false, false, true, true]);
    // One that comes back while waiting in the queue keeps its entry.
    ctl.onConnect(agent(5));
    vi.advanceTimersByTime(200);
    ctl.flush();
    expect([1, 2, 3, 4, 5].map((i) => !!entry(i))).toEqual([false, false, false, false, true]);
  });

  it('network from the proxy goes into the name and the spec', () => {
    ctl.onConnect(agent(1, { network: 'vm-net' }));
    ctl.flush();
    expect(store.get<WorkloadEntry>('WorkloadEntry/pay/payments-10.1.0.1-vm-net')?.spec.network).toBe('vm-net');
  });

  it('several connections count as one; the last disconnect marks it; grace period deletes', () => {
    const a = agent(1);
    const b = { ...agent(1), connectionId: 'second' };
    ctl.onConnect(a);
    ctl.onConnect(b);
    ctl.onDisconnect(a);
    ctl.flush();
    expect(entry(1)!.metadata.annotations!['istio.io/disconnectedAt']).toBeUndefined();
    ctl.onDisconnect(b);
    ctl.flush();
    expect(entry(1)!.metadata.annotations!['istio.io/disconnectedAt']).toBe('2026-11-23T00:00:00Z');
    expect(entry(1)!.metadata.annotations!['istio.io/connectedAt']).toBeUndefined();
    vi.advanceTimersByTime(9_999);
    ctl.flush();
    expect(entry(1)).toBeDefined();
    vi.advanceTimersByTime(2);
    ctl.flush();
    expect(entry(1)).toBeUndefined();
  });

  it('reconnecting inside the grace period keeps the entry, its spec and its health', () => {
    const a = agent(1);
    ctl.onConnect(a);
    ctl.onHealth(a, { healthy: true });
    ctl.onDisconnect(a);
    ctl.flush();
    vi.advanceTimersByTime(5_000);
    ctl.onConnect({ ...a, connectionId: 'again' });
    vi.advanceTimersByTime(20_000);
    ctl.flush();
    const we = entry(1)!;
    expect(we.metadata.annotations!['istio.io/disconnectedAt']).toBeUndefined();
    expect(we.metadata.annotations!['istio.io/connectedAt']).toBe('2026-11-23T00:00:05Z');
    expect(we.status?.conditions?.[0]).toMatchObject({ type: 'Healthy', status: 'True' });
  });

  it('a missing group refuses the connection (istiod registerWorkload: FailedPrecondition); the reconnect after it exists registers', () => {
    store.delete('WorkloadGroup/pay/payments');
    const first = agent(2);
    const r = ctl.onConnect(first);
    expect(r?.kind).toBe('group_missing');
    expect(r?.message).toMatch(/^auto-registration WorkloadEntry of .* failed: cannot find WorkloadGroup pay\/payments$/);
    ctl.onDisconnect(first);
    ctl.flush();
    expect(entry(2)).toBeUndefined();
    store.apply(group);
    expect(ctl.onConnect(agent(2))).toBeUndefined();
    ctl.flush();
    expect(entry(2)?.spec.address).toBe('10.1.0.2');
  });

  it("the sweep removes what istiod's periodic cleanup removes, and nothing else", () => {
    ctl.onConnect(agent(3));
    ctl.flush();
    const leftover = (n: number, annotations: Record<string, string>) => {
      const base = entry(3)!;
      const a: Record<string, string> = { ...base.metadata.annotations };
      delete a['istio.io/connectedAt'];
      store.apply({ ...base, metadata: { ...base.metadata, name: `payments-10.1.0.${n}`, annotations: { ...a, ...annotations } }, spec: { ...base.spec, address: `10.1.0.${n}` } });
    };
    // Disconnected by a previous run, long ago: past the grace period.
    leftover(4, { 'istio.io/disconnectedAt': '2026-11-22T00:00:00Z' });
    // Claims a connection this server does not have: istiod keeps it (no maximum connection age).
    leftover(7, { 'istio.io/connectedAt': '2026-11-22T00:00:00Z' });
    // Never connected (written by hand): istiod never cleans it.
    leftover(8, {});
    ctl.autoRegistration.sweep();
    vi.advanceTimersByTime(100);
    ctl.flush();
    expect([3, 4, 7, 8].map((i) => !!entry(i))).toEqual([true, false, true, true]);
  });

  it('with a maximum connection age, a stale connection claim is swept', () => {
    ctl.close();
    ctl = new WorkloadEntryController(store, { gracePeriodMs: 10_000, controllerId: 'xdsim-test', validateIdentity: false, maxConnectionAgeMs: 3_600_000 });
    ctl.onConnect(agent(3));
    ctl.flush();
    const base = entry(3)!;
    store.apply({ ...base, metadata: { ...base.metadata, name: 'payments-10.1.0.7', annotations: { ...base.metadata.annotations, 'istio.io/connectedAt': '2026-11-22T00:00:00Z' } }, spec: { ...base.spec, address: '10.1.0.7' } });
    ctl.autoRegistration.sweep();
    ctl.flush();
    expect(entry(7)).toBeUndefined();
    expect(entry(3)).toBeDefined();
  });

  it('the sweep keeps a live entry whose network comes from the group template', () => {
    store.apply({ ...group, spec: { ...group.spec, template: { ...group.spec.template, network: 'vm-net' } } });
    ctl.onConnect(agent(6));
    ctl.flush();
    expect(entry(6)!.spec.network).toBe('vm-net');
    vi.advanceTimersByTime(30_000);
    ctl.autoRegistration.sweep();
    ctl.flush();
    expect(entry(6)!.metadata.annotations!['istio.io/disconnectedAt']).toBeUndefined();
  });

  it('health reports set the Healthy condition, and EDS follows', () => {
    store.apply(svc('pay', { app: 'pay' }, [{ name: 'http', port: 80, targetPort: 'http' }]));
    const eds = new EdsCache(new Registry(store));
    const C = 'outbound|80||pay.pay.svc.cluster.local';
    const a = agent(5);
    ctl.onConnect(a);
    ctl.flush();
    // Health-checked with no condition yet: not in EDS.
    expect(summarize(eds, C, proxy(''))).toEqual([]);
    ctl.onHealth(a, { healthy: true });
    ctl.flush();
    expect(summarize(eds, C, proxy(''))).toEqual(['r1/z1/s1 p0 w1 [10.1.0.5:8080]']);
    vi.advanceTimersByTime(1000);
    ctl.onHealth(a, { healthy: false, message: 'probe failed: 503' });
    ctl.flush();
    expect(summarize(eds, C, proxy(''))).toEqual([]);
    expect(entry(5)!.status!.conditions![0]).toEqual({
      type: 'Healthy',
      status: 'False',
      message: 'probe failed: 503',
      lastProbeTime: '2026-11-23T00:00:01.000Z',
      lastTransitionTime: '2026-11-23T00:00:01.000Z',
    });
    const rev = store.revision;
    ctl.onHealth(a, { healthy: false, message: 'probe failed: 503' });
    ctl.flush();
    expect(store.revision).toBe(rev);
  });

  it('WORKLOAD_ENTRY proxies only report health for their existing entry', () => {
    store.apply({ apiVersion: 'networking.istio.io/v1', kind: 'WorkloadEntry', metadata: { name: 'static-vm', namespace: 'pay' }, spec: { address: '10.9.9.9' } });
    const p = agent(9, { group: undefined, workloadEntry: 'static-vm' });
    ctl.onConnect(p);
    ctl.onHealth(p, { healthy: true });
    ctl.flush();
    expect(store.list('WorkloadEntry').map((w) => w.metadata.name)).toEqual(['static-vm']);
    expect(store.get<WorkloadEntry>('WorkloadEntry/pay/static-vm')!.status!.conditions![0]!.status).toBe('True');
  });

  it('a connect storm becomes one store batch', () => {
    const batches: number[] = [];
    store.subscribe((b) => batches.push(b.length));
    for (let i = 0; i < 200; i++) ctl.onConnect(agent(i + 10, { ip: `10.2.${i >> 8}.${i & 255}` }));
    ctl.flush();
    expect(batches).toEqual([200]);
  });
});

describe('WorkloadEntryController: invalid metadata', () => {
  let store: ConfigStore;
  let ctl: WorkloadEntryController;
  let logs: { level: string; msg: string; fields?: object }[];
  const entry = (i: number) => store.get<WorkloadEntry>(`WorkloadEntry/pay/payments-10.1.0.${i}`);
  const entries = () => store.list('WorkloadEntry').map((w) => w.metadata.name);

  beforeEach(() => {
    vi.useFakeTimers({ now: Date.parse('2026-11-23T00:00:00Z') });
    store = new ConfigStore();
    store.apply(group);
    logs = [];
    ctl = new WorkloadEntryController(store, { gracePeriodMs: 10_000, controllerId: 'xdsim-test', validateIdentity: false, log: (level, msg, fields) => logs.push({ level, msg, ...(fields ? { fields } : {}) }) });
  });
  afterEach(() => {
    ctl.close();
    vi.useRealTimers();
  });

  it('refuses with the rule, registers nothing, logs one constant message per kind', () => {
    const rev = store.revision;
    const a = ctl.onConnect(agent(1, { metadata: { INSTANCE_IPS: '10.1.0.1,not-an-ip' } }));
    const b = ctl.onConnect(agent(2, { labels: { 'bad key': 'x' } }));
    const c = ctl.onConnect(agent(3, { labels: { app: 'y'.repeat(64) } }));
    ctl.flush();
    expect(a).toEqual({ kind: 'instance_ips', message: 'INSTANCE_IPS[1] "not-an-ip" is not an IPv4 or IPv6 address' });
    expect(b?.kind).toBe('labels');
    expect(c?.kind).toBe('labels');
    expect(store.revision).toBe(rev);
    expect(entries()).toEqual([]);
    // The log limiter keys on the message: one per kind, whatever the values.
    expect(logs.map((l) => l.msg)).toEqual(['auto-registration refused: invalid INSTANCE_IPS', 'auto-registration refused: invalid LABELS', 'auto-registration refused: invalid LABELS']);
    expect(logs[0]!.fields).toMatchObject({ node: agent(1).nodeId, reason: a!.message });
  });

  it('a proxy without AUTO_REGISTER_GROUP is not validated', () => {
    expect(ctl.onConnect(agent(1, { group: undefined, labels: { 'bad key': 'x' }, ip: 'nope' }))).toBeUndefined();
    expect(logs).toEqual([]);
  });

  it('no INSTANCE_IPS or no namespace: skipped with a warning, not refused (as istiod)', () => {
    expect(ctl.onConnect(agent(1, { ip: undefined }))).toBeUndefined();
    expect(ctl.onConnect(agent(2, { namespace: '' }))).toBeUndefined();
    ctl.flush();
    expect(entries()).toEqual([]);
    expect(logs.map((l) => l.msg)).toEqual(['auto-registration skipped: no INSTANCE_IPS in node metadata', 'auto-registration skipped: no NAMESPACE in node metadata or node id']);
  });

  it('a generated entry the group makes invalid is refused (kind entry)', () => {
    store.apply({ ...group, spec: { ...group.spec, metadata: { labels: { 'team name': 'a' } } } });
    const r = ctl.onConnect(agent(1));
    ctl.flush();
    expect(r?.kind).toBe('entry');
    expect(r?.message).toMatch(/^WorkloadEntry pay\/payments-10\.1\.0\.1: metadata\.labels key "team name"/);
    expect(entries()).toEqual([]);
  });

  it("another agent's invalid request leaves a registered entry alone: spec, connection, health", () => {
    const good = agent(1);
    ctl.onConnect(good);
    ctl.onHealth(good, { healthy: true });
    ctl.flush();
    const before = entry(1)!;
    const rev = store.revision;
    // Same identity (group, IP, network, namespace), invalid labels.
    const bad = agent(1, { labels: { 'x/y/z': 'v' } });
    expect(ctl.onConnect(bad)?.kind).toBe('labels');
    ctl.onHealth(bad, { healthy: false, message: 'lies' });
    ctl.onDisconnect(bad);
    ctl.flush();
    expect(store.revision).toBe(rev);
    expect(entry(1)).toEqual(before);
    expect(ctl.autoRegistration.isConnected(good)).toBe(true);
  });

  it('a disconnected entry in its grace period: an invalid agent neither revives nor extends it', () => {
    const good = agent(1);
    ctl.onConnect(good);
    ctl.onDisconnect(good);
    ctl.flush();
    const disconnectedAt = entry(1)!.metadata.annotations!['istio.io/disconnectedAt'];
    vi.advanceTimersByTime(6_000);
    const bad = agent(1, { metadata: { INSTANCE_IPS: '10.1.0.1', LABELS: { app: 7 } } });
    expect(ctl.onConnect(bad)?.kind).toBe('metadata_type');
    ctl.onDisconnect(bad);
    ctl.flush();
    expect(entry(1)!.metadata.annotations!['istio.io/disconnectedAt']).toBe(disconnectedAt);
    vi.advanceTimersByTime(4_001);
    ctl.flush();
    expect(entry(1)).toBeUndefined();
  });
});
