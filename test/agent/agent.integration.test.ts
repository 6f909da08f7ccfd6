// Simulated agents in-process against the real xdsim control plane on loopback.
import { afterEach, describe, expect, it } from 'vitest';
import { Agent, type AgentOptions } from '../../src/agent/agent.js';
import type { AgentEvents } from '../../src/agent/events.js';
import type { ProbeModel } from '../../src/agent/probe.js';
import { REGISTRATION_AVAILABLE, startTestServer, waitFor, type TestServer } from '../fleet/helpers.js';

const NS = 'vms';
const LABELS = { app: 'pay' };

let server: TestServer | undefined;
const agents: Agent[] = [];

afterEach(async () => {
  for (const a of agents.splice(0)) a.stop();
  await server?.close();
  server = undefined;
});

function agent(i: number, extra: Partial<AgentOptions> = {}, model: ProbeModel = { kind: 'healthy' }): Agent {
  const a = new Agent({
    target: server!.target,
    index: i,
    identity: { name: `vm-${i}`, namespace: NS, ip: `10.210.${Math.floor(i / 250)}.${(i % 250) + 1}`, group: 'pay', labels: LABELS, locality: { region: 'r1', zone: 'z1', subZone: 's1' } },
    probe: { check: { kind: 'model', model }, initialDelayMs: 0, periodMs: 200, timeoutMs: 100, successThreshold: 1, failureThreshold: 1 },
    backoff: { initialMs: 100, maxMs: 500, multiplier: 2, jitter: 0.5, maxAttempts: 50 },
    connectTimeoutMs: 5000,
    ...extra,
  });
  agents.push(a);
  return a;
}

const syncedStreams = (s: TestServer): number =>
  [...s.cp.xds.connections].filter((c) => {
    const st = c.typeStatuses();
    const cds = st.find((t) => t.type === 'cds');
    const eds = st.find((t) => t.type === 'eds');
    return cds?.state === 'SYNCED' && eds?.state === 'SYNCED';
  }).length;

describe('agents against the xdsim control plane', () => {
  it('60 agents connect, get CDS then EDS, ACK everything; healthy ones see themselves, unhealthy ones do not', async () => {
    server = await startTestServer({ groups: [{ name: 'pay', namespace: NS, labels: LABELS }] });
    const errors: string[] = [];
    const events: AgentEvents = { error: (i, k, d) => errors.push(`${i} ${k} ${d}`) };
    const all = Array.from({ length: 60 }, (_, i) => agent(i, { events }, i % 6 === 0 ? { kind: 'unhealthy' } : { kind: 'healthy' }));
    for (const a of all) a.start();
    expect(await waitFor(() => all.every((a) => a.connected))).toBe(true);
    expect(await waitFor(() => syncedStreams(server!) === 60)).toBe(true);
    expect(errors).toEqual([]);
    if (!REGISTRATION_AVAILABLE) return;

    const healthy = all.filter((a) => a.index % 6 !== 0);
    const unhealthy = all.filter((a) => a.index % 6 === 0);
    expect(await waitFor(() => healthy.every((a) => a.visible))).toBe(true);
    expect(unhealthy.some((a) => a.visible)).toBe(false);

    // istiod's entries: <group>-<ip>, labels from the group, auto-registration annotations.
    const entries = server.entries(NS);
    expect(entries.length).toBe(60);
    const e = entries.find((x) => x.metadata.name === 'pay-10.210.0.2')!;
    expect(e.spec.address).toBe('10.210.0.2');
    expect(e.metadata.labels).toMatchObject(LABELS);
    expect(e.metadata.annotations).toMatchObject({
      'istio.io/autoRegistrationGroup': 'pay',
      'proxy.istio.io/health-checks-enabled': 'true',
    });
    expect(e.metadata.annotations?.['istio.io/connectedAt']).toBeTruthy();
    expect(e.status?.conditions?.find((c) => c.type === 'Healthy')?.status).toBe('True');
    const bad = entries.find((x) => x.metadata.name === 'pay-10.210.0.1')!;
    expect(bad.status?.conditions?.find((c) => c.type === 'Healthy')).toMatchObject({ status: 'False', message: 'simulated probe failure' });
  });

  it('health transitions reach EDS both ways, and a reconnect inside the grace period keeps the entry', async () => {
    server = await startTestServer({ groups: [{ name: 'pay', namespace: NS, labels: LABELS }], gracePeriodMs: 1500 });
    const converged: number[] = [];
    const all = Array.from({ length: 5 }, (_, i) => agent(i, { events: { healthConverged: (_i, ms) => converged.push(ms) } }));
    for (const a of all) a.start();
    expect(await waitFor(() => all.every((a) => a.connected))).toBe(true);
    if (!REGISTRATION_AVAILABLE) return;
    const [a, b] = all as [Agent, Agent];
    expect(await waitFor(() => a.visible && b.visible)).toBe(true);

    a.setProbeModel({ kind: 'unhealthy' });
    expect(await waitFor(() => !a.visible && b.visible)).toBe(true);
    a.setProbeModel({ kind: 'healthy' });
    expect(await waitFor(() => a.visible)).toBe(true);
    expect(converged.length).toBeGreaterThanOrEqual(2);

    const before = server.entries(NS).find((x) => x.spec.address === b.identity.ip)!;
    b.disconnect(300);
    expect(await waitFor(() => server!.entries(NS).find((x) => x.spec.address === b.identity.ip)?.metadata.annotations?.['istio.io/disconnectedAt'] !== undefined, 3000)).toBe(true);
    expect(await waitFor(() => b.connected)).toBe(true);
    await new Promise((r) => setTimeout(r, 1800)); // past the grace period
    const after = server.entries(NS).find((x) => x.spec.address === b.identity.ip);
    expect(after?.metadata.name).toBe(before.metadata.name);
    expect(after?.metadata.annotations?.['istio.io/disconnectedAt']).toBeUndefined();

    // Stopped agents: their entries go once the grace period has passed.
    for (const x of all) x.stop();
    expect(await waitFor(() => server!.entries(NS).length === 0, 5000)).toBe(true);
  });

  it('delta ADS: subscribe, ACK, see itself', async () => {
    server = await startTestServer({ groups: [{ name: 'pay', namespace: NS, labels: LABELS }] });
    const all = Array.from({ length: 10 }, (_, i) => agent(i, { mode: 'delta' }));
    for (const a of all) a.start();
    expect(await waitFor(() => all.every((a) => a.connected))).toBe(true);
    expect(
      await waitFor(() =>
        [...server!.cp.xds.connections].filter((c) => c.kind === 'delta' && c.typeStatuses().some((t) => t.type === 'eds' && t.state === 'SYNCED')).length === 10,
      ),
    ).toBe(true);
    if (REGISTRATION_AVAILABLE) expect(await waitFor(() => all.every((a) => a.visible))).toBe(true);
  });

  it('NACKs keep the stream; the server sees the rejection', async () => {
    server = await startTestServer({ groups: [{ name: 'pay', namespace: NS, labels: LABELS }] });
    let nacks = 0;
    const a = agent(0, { nack: { types: 'eds', probability: 1 }, events: { nack: () => nacks++ } });
    a.start();
    expect(await waitFor(() => nacks > 0)).toBe(true);
    expect(await waitFor(() => [...server!.cp.xds.connections].some((c) => c.typeStatuses().some((t) => t.type === 'eds' && t.state === 'NACKED')))).toBe(true);
    expect(a.connected).toBe(true);
  });

  it('server restart: agents back off, reconnect, and re-report health to the new server', async () => {
    server = await startTestServer({ groups: [{ name: 'pay', namespace: NS, labels: LABELS }] });
    const port = server.port;
    const errors: string[] = [];
    const all = Array.from({ length: 8 }, (_, i) => agent(i, { events: { error: (_i, k) => errors.push(k) } }, i === 0 ? { kind: 'unhealthy' } : { kind: 'healthy' }));
    for (const a of all) a.start();
    expect(await waitFor(() => all.every((a) => a.connected && a.healthy !== undefined))).toBe(true);
    await server.close();
    server = undefined;
    expect(await waitFor(() => all.every((a) => !a.connected))).toBe(true);
    server = await startTestServer({ groups: [{ name: 'pay', namespace: NS, labels: LABELS }], port });
    expect(await waitFor(() => all.every((a) => a.connected))).toBe(true);
    expect(errors.length).toBeGreaterThanOrEqual(8);
    if (!REGISTRATION_AVAILABLE) return;
    // The new server learnt health only from the re-reports after reconnect.
    expect(
      await waitFor(() => {
        const es = server!.entries(NS);
        return es.length === 8 && es.every((e) => e.status?.conditions?.some((c) => c.type === 'Healthy'));
      }),
    ).toBe(true);
    expect(server.entries(NS).find((e) => e.spec.address === all[0]!.identity.ip)?.status?.conditions?.[0]?.status).toBe('False');
  });

  it('an unreachable server: bounded retries, then the agent gives up', async () => {
    let gaveUp = false;
    server = await startTestServer({ groups: [] });
    const port = server.port;
    await server.close();
    server = undefined;
    const a = new Agent({
      target: `127.0.0.1:${port}`,
      identity: { name: 'lost', namespace: NS, ip: '10.9.9.9' },
      backoff: { initialMs: 20, maxMs: 50, multiplier: 2, jitter: 0, maxAttempts: 3 },
      events: { error: (_i, k) => (gaveUp ||= k === 'gave-up') },
    });
    agents.push(a);
    a.start();
    expect(await waitFor(() => a.state === 'failed', 5000)).toBe(true);
    expect(gaveUp).toBe(true);
  });
});
