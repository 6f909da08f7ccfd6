// Identity validation of auto-registration and health checks, and the entry istiod generates:
// table tests of the rules, then the rules over real gRPC with the embedded control plane's
// token issuer. Each case names the istiod function it mirrors
// (pilot/pkg/autoregistration/controller.go unless said otherwise).
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WorkloadEntry, WorkloadGroup } from '../../src/config/resources.js';
import { ConfigStore } from '../../src/config/store.js';
import { parseLocality } from '../../src/model/locality.js';
import { TYPE_URL, toStruct } from '../../src/proto/index.js';
import { createAdsClient } from '../../src/proto/services.js';
import { entryFromGroup, hasReadinessProbe } from '../../src/registration/autoregistration.js';
import type { ConnectedProxy } from '../../src/registration/connected-proxy.js';
import { WorkloadEntryController } from '../../src/registration/controller.js';
import { identityRefusal, validateIdentityFromEnv } from '../../src/registration/identity.js';
import { rfc3339Nano } from '../../src/registration/time.js';
import { streamRefusal } from '../../src/registration/xds-hooks.js';
import type { ControlPlane } from '../../src/server/control-plane.js';
import { TokenIssuer } from '../../src/security/token-issuer.js';
import { admin, startPlane, waitFor } from '../xds/helpers.js';

const probe = { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 5 };
const group = (spec: Partial<WorkloadGroup['spec']> = {}): WorkloadGroup => ({
  apiVersion: 'networking.istio.io/v1beta1',
  kind: 'WorkloadGroup',
  metadata: { name: 'payments', namespace: 'pay' },
  spec: {
    metadata: { labels: { app: 'pay', tier: 'group' }, annotations: { team: 'a' } },
    template: { serviceAccount: 'pay-sa', ports: { http: 8080 }, labels: { tier: 'template', version: 'v1' } },
    probe,
    ...spec,
  },
});

function vm(more: Partial<ConnectedProxy> = {}): ConnectedProxy {
  return {
    connectionId: `c-${Math.random()}`,
    nodeId: 'sidecar~10.1.0.1~vm-1.pay~pay.svc.cluster.local',
    namespace: 'pay',
    group: 'payments',
    network: '',
    ip: '10.1.0.1',
    labels: { tier: 'proxy' },
    locality: parseLocality('r1/z1/s1'),
    metadata: { LABELS: { tier: 'proxy' }, PROXY_CONFIG: { readinessProbe: probe } },
    identity: { namespace: 'pay', serviceAccount: 'pay-sa', subject: 'system:serviceaccount:pay:pay-sa' },
    ...more,
  };
}
const noIdentity = (p: ConnectedProxy): ConnectedProxy => {
  const { identity: _, ...rest } = p;
  return rest;
};

describe('ensureProxyCanControlEntry: who may own an entry', () => {
  const entry = (sa?: string): Pick<WorkloadEntry, 'metadata' | 'spec'> => ({ metadata: { name: 'e', namespace: 'pay' }, spec: { address: '10.1.0.1', ...(sa ? { serviceAccount: sa } : {}) } });
  const id = (namespace: string, serviceAccount: string) => ({ namespace, serviceAccount, subject: '' });
  it.each([
    ['validation off: anyone', false, undefined, 'pay-sa', undefined],
    ['no verified identity', true, undefined, 'pay-sa', 'registration of WorkloadEntry requires a verified identity'],
    ['identity in another namespace', true, id('other', 'pay-sa'), 'pay-sa', 'registration of WorkloadEntry namespace mismatch: "other" vs "pay"'],
    ['another service account', true, id('pay', 'intruder'), 'pay-sa', 'registration of WorkloadEntry service account mismatch: "intruder" vs "pay-sa"'],
    ['entry without a service account: namespace is enough', true, id('pay', 'anything'), undefined, undefined],
    ['matching identity', true, id('pay', 'pay-sa'), 'pay-sa', undefined],
  ])('%s', (_n, validate, identity, sa, message) => {
    const p = identity ? vm({ identity }) : noIdentity(vm());
    expect(identityRefusal(p, entry(sa), validate)?.message).toBe(message);
  });

  it.each([
    [undefined, true],
    ['true', true],
    ['1', true],
    ['false', false],
    ['F', false],
    ['nonsense', true],
  ])('ISTIO_WORKLOAD_ENTRY_VALIDATE_IDENTITY=%s -> %s (pilot/pkg/features, default true)', (v, want) => {
    expect(validateIdentityFromEnv(v === undefined ? {} : { ISTIO_WORKLOAD_ENTRY_VALIDATE_IDENTITY: v })).toBe(want);
  });

  it('an identity refusal ends the stream as istiod does: UNKNOWN with the bare error', () => {
    const r = streamRefusal({ kind: 'identity_missing', message: 'registration of WorkloadEntry requires a verified identity' });
    expect(r).toMatchObject({ code: grpc.status.UNKNOWN, message: 'registration of WorkloadEntry requires a verified identity', log: 'registration of WorkloadEntry requires a verified identity' });
  });
});

describe('workloadEntryFromGroup: the generated entry', () => {
  it.each([
    // [group has a probe, proxy PROXY_CONFIG has a readinessProbe, annotated]
    [true, true, true],
    [false, true, true],
    [true, false, false],
    [false, false, false],
  ])('group probe %s, PROXY_CONFIG.readinessProbe %s -> health-checks annotation %s', (groupProbe, proxyProbe, want) => {
    const g = groupProbe ? group() : group({ probe: undefined });
    const p = vm({ metadata: { LABELS: { tier: 'proxy' }, ...(proxyProbe ? { PROXY_CONFIG: { readinessProbe: probe } } : { PROXY_CONFIG: { discoveryAddress: 'x:15012' } }) } });
    const e = entryFromGroup('payments-10.1.0.1', p, g, 'ctl', '2026-11-23T00:00:00Z', 'uid-1');
    expect(e.metadata.annotations?.['proxy.istio.io/health-checks-enabled']).toBe(want ? 'true' : undefined);
  });

  it.each([
    [{ PROXY_CONFIG: { readinessProbe: {} } }, true],
    [{ PROXY_CONFIG: { readinessProbe: null } }, false],
    [{ PROXY_CONFIG: 'not an object' }, false],
    [{}, false],
  ])('hasReadinessProbe(%j) = %s (proxy.Metadata.ProxyConfig.ReadinessProbe != nil)', (metadata, want) => {
    expect(hasReadinessProbe({ metadata })).toBe(want);
  });

  it('labels: template, then group metadata, then the proxy; istio-locality dropped; spec shares them', () => {
    const p = vm({ labels: { tier: 'proxy', 'istio-locality': 'r1/z1/s1' }, metadata: { LABELS: { tier: 'proxy', 'istio-locality': 'r1/z1/s1' } } });
    const e = entryFromGroup('n', p, group({ template: { labels: { tier: 'template', version: 'v1', 'istio-locality': 'x' } } }), 'ctl', 't', 'u');
    expect(e.metadata.labels).toEqual({ app: 'pay', tier: 'proxy', version: 'v1' });
    expect(e.spec.labels).toEqual(e.metadata.labels);
  });

  it('annotations: the group metadata may override autoRegistrationGroup; the connection ones come last', () => {
    const g = group({ metadata: { annotations: { 'istio.io/autoRegistrationGroup': 'renamed', 'istio.io/connectedAt': 'from-group', team: 'a' } } });
    const e = entryFromGroup('n', vm(), g, 'ctl', '2026-11-23T00:00:00Z', 'u');
    expect(e.metadata.annotations).toEqual({
      'istio.io/autoRegistrationGroup': 'renamed',
      team: 'a',
      'proxy.istio.io/health-checks-enabled': 'true',
      'istio.io/workloadController': 'ctl',
      'istio.io/connectedAt': '2026-11-23T00:00:00Z',
    });
  });

  it('spec: the template, the first IP, network and locality from the proxy; ownerReferences to the group (v1, controller)', () => {
    const e = entryFromGroup('payments-10.1.0.1-net1', vm({ network: 'net1' }), group({ template: { serviceAccount: 'pay-sa', ports: { http: 8080 }, network: 'tmpl', weight: 3 } }), 'ctl', 't', 'uid-9');
    expect(e.spec).toMatchObject({ address: '10.1.0.1', network: 'net1', locality: 'r1/z1/s1', weight: 3, serviceAccount: 'pay-sa', ports: { http: 8080 } });
    expect(e.metadata.ownerReferences).toEqual([{ apiVersion: 'networking.istio.io/v1', kind: 'WorkloadGroup', name: 'payments', uid: 'uid-9', controller: true }]);
  });

  it.each([
    [Date.parse('2026-11-23T00:00:00.000Z'), '2026-11-23T00:00:00Z'],
    [Date.parse('2026-11-23T00:00:00.120Z'), '2026-11-23T00:00:00.12Z'],
    [Date.parse('2026-11-23T00:00:00.007Z'), '2026-11-23T00:00:00.007Z'],
  ])('connectedAt %s in Go time.RFC3339Nano: %s', (ms, want) => {
    expect(rfc3339Nano(ms)).toBe(want);
  });
});

describe('registerWorkload with identity validation on (the default)', () => {
  let store: ConfigStore;
  let ctl: WorkloadEntryController;
  const entry = () => store.get<WorkloadEntry>('WorkloadEntry/pay/payments-10.1.0.1');
  beforeEach(() => {
    vi.useFakeTimers({ now: Date.parse('2026-11-23T00:00:00Z') });
    store = new ConfigStore();
    store.apply(group());
    ctl = new WorkloadEntryController(store, { controllerId: 'ctl' });
  });
  afterEach(() => {
    ctl.close();
    vi.useRealTimers();
  });

  it.each([
    ['no identity', noIdentity(vm()), 'identity_missing'],
    ['another namespace', vm({ identity: { namespace: 'other', serviceAccount: 'pay-sa', subject: '' } }), 'identity_namespace'],
    ['another service account', vm({ identity: { namespace: 'pay', serviceAccount: 'intruder', subject: '' } }), 'identity_service_account'],
  ])('%s: refused, nothing registered', (_n, p, kind) => {
    expect(ctl.onConnect(p)?.kind).toBe(kind);
    ctl.onHealth(p, { healthy: true });
    ctl.flush();
    expect(entry()).toBeUndefined();
  });

  it('the right identity registers; another one cannot take the entry over (existing-entry check)', () => {
    expect(ctl.onConnect(vm())).toBeUndefined();
    ctl.flush();
    expect(entry()?.metadata.ownerReferences?.[0]?.uid).toBe(store.uid('WorkloadGroup/pay/payments'));
    const intruder = vm({ identity: { namespace: 'pay', serviceAccount: 'intruder', subject: '' } });
    expect(ctl.onConnect(intruder)?.kind).toBe('identity_service_account');
  });

  it('WORKLOAD_ENTRY health checks need the identity too (OnConnect, health-checked entry)', () => {
    store.apply({
      apiVersion: 'networking.istio.io/v1',
      kind: 'WorkloadEntry',
      metadata: { name: 'static', namespace: 'pay', annotations: { 'proxy.istio.io/health-checks-enabled': 'true' } },
      spec: { address: '10.9.9.9', serviceAccount: 'pay-sa' },
    });
    const p = noIdentity(vm({ group: undefined, workloadEntry: 'static', metadata: {} }));
    expect(ctl.onConnect(p)?.message).toBe('registration of WorkloadEntry requires a verified identity');
    ctl.onHealth(p, { healthy: true });
    ctl.flush();
    expect(store.get<WorkloadEntry>('WorkloadEntry/pay/static')?.status).toBeUndefined();
    const ok = vm({ group: undefined, workloadEntry: 'static', metadata: {} });
    expect(ctl.onConnect(ok)).toBeUndefined();
    ctl.onHealth(ok, { healthy: true });
    ctl.flush();
    expect(store.get<WorkloadEntry>('WorkloadEntry/pay/static')?.status?.conditions?.[0]?.status).toBe('True');
  });
});

describe('over gRPC: tokens from the embedded issuer', () => {
  const issuer = TokenIssuer.generate();
  let withAuth: ControlPlane;
  let withoutAuth: ControlPlane;
  beforeAll(async () => {
    withAuth = await startPlane([group()], { validateIdentity: true, tokenAuth: issuer.authOptions() });
    withoutAuth = await startPlane([group()], { validateIdentity: true });
  });
  afterAll(async () => {
    await withAuth?.close();
    await withoutAuth?.close();
  });

  function attempt(plane: ControlPlane, ip: string, token?: string, serviceAccount?: string): Promise<{ code?: number; details?: string; response?: boolean }> {
    const client = createAdsClient(`127.0.0.1:${plane.xdsPort}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
    const md = new grpc.Metadata();
    if (token) md.set('authorization', `Bearer ${token}`);
    return new Promise((resolve) => {
      const call = client.StreamAggregatedResources(md, { deadline: Date.now() + 10_000 });
      const done = (o: { code?: number; details?: string; response?: boolean }) => {
        call.cancel();
        client.close();
        resolve(o);
      };
      call.on('data', () => done({ response: true }));
      call.on('error', (e: grpc.ServiceError) => done({ code: e.code, details: e.details }));
      const metadata = { NAMESPACE: 'pay', AUTO_REGISTER_GROUP: 'payments', INSTANCE_IPS: ip, ...(serviceAccount ? { SERVICE_ACCOUNT: serviceAccount } : {}), PROXY_CONFIG: { readinessProbe: probe } };
      call.write({ node: { id: `sidecar~${ip}~vm.pay~pay.svc.cluster.local`, metadata: toStruct(metadata) }, type_url: TYPE_URL.CLUSTER });
    });
  }
  const entries = (plane: ControlPlane) => plane.store.list('WorkloadEntry', 'pay').map((w) => w.metadata.name);

  it('validation on and no authenticator: refused as istiod logs it, nothing registered', async () => {
    const r = await attempt(withoutAuth, '10.2.0.1');
    expect(r).toEqual({ code: grpc.status.UNKNOWN, details: 'registration of WorkloadEntry requires a verified identity' });
    expect(entries(withoutAuth)).toEqual([]);
  });

  it('a token for the template service account registers, health-checked and owned by the group', async () => {
    const r = await attempt(withAuth, '10.2.0.2', await issuer.mint('pay', 'pay-sa'), 'pay-sa');
    expect(r.response).toBe(true);
    const we = await waitFor(() => withAuth.store.get<WorkloadEntry>('WorkloadEntry/pay/payments-10.2.0.2'));
    expect(we!.metadata.annotations?.['proxy.istio.io/health-checks-enabled']).toBe('true');
    expect(we!.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'WorkloadGroup', name: 'payments', controller: true });
    // /debug/configz shows the owner reference, and its uid is the group's metadata.uid.
    const listed = (await admin(withAuth, '/debug/configz?kind=WorkloadEntry')).json() as WorkloadEntry[];
    const groups = (await admin(withAuth, '/debug/configz?kind=WorkloadGroup')).json() as WorkloadGroup[];
    const shown = listed.find((w) => w.metadata.name === 'payments-10.2.0.2')!;
    expect(shown.metadata.ownerReferences).toEqual([{ apiVersion: 'networking.istio.io/v1', kind: 'WorkloadGroup', name: 'payments', uid: groups[0]!.metadata.uid, controller: true }]);
    expect(groups[0]!.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('an agent with the wrong service account is refused and registers nothing', async () => {
    const r = await attempt(withAuth, '10.2.0.3', await issuer.mint('pay', 'intruder'), 'intruder');
    expect(r).toEqual({ code: grpc.status.UNKNOWN, details: 'registration of WorkloadEntry service account mismatch: "intruder" vs "pay-sa"' });
    expect(entries(withAuth)).not.toContain('payments-10.2.0.3');
  });
});
