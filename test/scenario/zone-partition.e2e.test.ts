// scenarios/zone-partition.yaml end to end, shortened (the same mesh, fleet, links and checks,
// with a 16 s partition and a 4 s grace period): against the embedded control plane, and
// against a second xdsim (`xdsim serve`) at an address, through the relays. Plus a run with
// only shaped links (delay, jitter, loss, rate) whose expectations still hold.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { RunReport } from '../../src/report/types.js';
import { parseScenario } from '../../src/scenario/load.js';
import { runScenario, type RunOptions } from '../../src/scenario/runner.js';
import { killAll, serveProcess, servingPorts } from '../helpers/serve-process.js';

const FILE = 'scenarios/zone-partition.yaml';
type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The shipped scenario, its times scaled down: cut at 6 s for 16 s, grace 4 s, keepalive 2 s + 1 s. */
function shortened(): Doc {
  const d = parse(readFileSync(FILE, 'utf8')) as Doc;
  d.controlPlane = { gracePeriod: '4s', keepaliveInterval: '2s', keepaliveTimeout: '1s' };
  d.fleet.duration = '30s';
  d.timeline = [{ at: '6s', partition: { link: 'zone-b', for: '16s', direction: 'both' } }];
  // Checks at: before the cut, during it (after keepalive + grace), just before the heal, after it.
  const at: Record<string, string> = {
    "every agent registered, shaped links included": '5s',
    "before the cut, zone b's traffic stays home": '5s',
    "zone b's 12 entries are gone during the partition": '16s',
    "during the partition, zone b's traffic fails over inside the region": '16s',
    'still gone just before the heal': '21s',
    'healed at 60 s, every agent registered again': '28s',
    'and every one an endpoint again': '28s',
    "after the heal, zone b's traffic is home again": '28s',
  };
  for (const x of d.expectations as Doc[]) if (x.name && at[x.name]) x.at = at[x.name];
  return d;
}

async function run(d: Doc, opts: RunOptions = {}): Promise<{ report: RunReport; events: string[] }> {
  const loaded = await parseScenario(stringify(d), FILE);
  expect(loaded.diagnostics.filter((x) => x.severity === 'error')).toEqual([]);
  const events: string[] = [];
  const report = await runScenario(loaded.scenario!, { logLevel: 'silent', workers: 1, onEvent: (l) => events.push(l), ...opts });
  return { report, events };
}

/** Times (ms) at which the series goes from `from` to `to`. */
function transitions(t: number[], v: number[], from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = 1; i < v.length; i++) if (v[i - 1] === from && v[i] === to) out.push(t[i]!);
  return out;
}

afterAll(() => killAll());

describe('zone-partition', () => {
  it('loads as shipped', async () => {
    const loaded = await parseScenario(readFileSync(FILE, 'utf8'), FILE);
    expect(loaded.diagnostics).toEqual([]);
    expect(loaded.scenario!.timeline.map((e) => [e.atMs, e.label])).toEqual([
      [15_000, 'partition link zone-b (both directions) for 45s'],
      [60_000, 'heal link zone-b (partitioned at 15s)'],
    ]);
  });

  it('embedded: zone b goes during the cut and comes back once after the heal', { timeout: 120_000 }, async () => {
    const { report } = await run(shortened());
    const failed = report.expectations.filter((e) => !e.pass).map((e) => `${e.name}: ${e.detail}`);
    expect(failed).toEqual([]);
    expect(report.expectations).toHaveLength(11);
    expect(report.timeline.map((e) => [e.label, e.ok])).toEqual([
      ['partition link zone-b (both directions) for 16s', true],
      ['heal link zone-b (partitioned at 6s)', true],
    ]);
    expect(report.timeline[1]!.result).toMatch(/12 connection\(s\) reset/);
    const zb = report.network!.links.find((l) => l.name === 'zone-b')!;
    // 12 agents, then the same 12 reconnecting after the heal's reset.
    expect(zb).toMatchObject({ connections: 24, resetAtHeal: 12, heldConnections: 0, partitions: 1, heals: 1, dialErrors: 0 });
    expect(zb.bytesToServer).toBeGreaterThan(0);
    expect(zb.bytesToAgents).toBeGreaterThan(0);
    expect(zb.maxHeldBytes).toBeGreaterThan(0);
    expect(zb.maxHeldBytes).toBeLessThan(8 * 1024 * 1024);
    const east = report.network!.links.find((l) => l.name === 'us-east1')!;
    expect(east).toMatchObject({ connections: 12, resetAtHeal: 0, partitions: 0 });
    // Registered entries (the embedded store): 48 -> 36 once, inside the cut, and back once after the heal.
    const { t, registered } = report.series;
    const fleetEnd = report.durationMs;
    const inRun = (xs: number[]) => xs.filter((x) => x <= fleetEnd);
    const down = inRun(transitions(t, registered, 48, 36));
    const up = inRun(transitions(t, registered, 36, 48));
    expect(down).toHaveLength(1);
    expect(up).toHaveLength(1);
    expect(down[0]!).toBeGreaterThan(6_000 + 4_000); // not before the grace period ran out
    expect(down[0]!).toBeLessThan(22_000);
    expect(up[0]!).toBeGreaterThanOrEqual(22_000); // not before the heal
    expect(up[0]!).toBeLessThan(28_000);
    expect(report.errorsByKind).toEqual({ 'agent stream-reset': 12 });
  });

  it('remote: the same through the relays to a second xdsim', { timeout: 120_000 }, async () => {
    const server = serveProcess(['--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--grace-period', '4s', '--keepalive-time', '2s', '--keepalive-timeout', '1s', '--validate-identity', 'false', '--log-level', 'info']);
    const ports = await servingPorts(server);
    const d = shortened();
    // Remote targets do not lose entries: the leak check and the embedded store's registered count
    // are replaced by what agents and observers see.
    d.expectations = (d.expectations as Doc[]).filter((x) => x.leakedEntries === undefined);
    const { report } = await run(d, { target: { address: `127.0.0.1:${ports.xds}`, applyUrl: `http://127.0.0.1:${ports.admin}/apply`, name: 'second xdsim' } });
    const failed = report.expectations.filter((e) => !e.pass).map((e) => `${e.name}: ${e.detail}`);
    expect(failed).toEqual([]);
    expect(report.target?.kind).toBe('remote');
    expect(report.network!.links.find((l) => l.name === 'zone-b')).toMatchObject({ resetAtHeal: 12, partitions: 1, heals: 1 });
  });

  it('shaped links only: 100 ms ± 20 ms, 3% loss and 1 Mbit/s, every expectation still holds', { timeout: 60_000 }, async () => {
    const d = parse(readFileSync(FILE, 'utf8')) as Doc;
    d.fleet.duration = '10s';
    d.timeline = [];
    d.network.links[0] = { ...d.network.links[0], delay: '100ms', jitter: '20ms', loss: '3%', rate: '1Mbit' };
    d.expectations = [
      { name: 'all registered through the links', at: '8s', registered: 'all' },
      { name: 'zone b home', at: '8s', lbShares: { cluster: 'outbound|80||vm-app.ns-1.svc.cluster.local', proxy: { locality: 'us-central1/zone-b/sz-1' }, localities: { 'us-central1/zone-b': '100%' } } },
      { name: 'every endpoint', at: '8s', endpoints: { cluster: 'outbound|80||vm-app.ns-1.svc.cluster.local', equals: 48 } },
      { errors: 0 },
      { nacks: 0 },
    ];
    const { report } = await run(d);
    expect(report.expectations.filter((e) => !e.pass).map((e) => `${e.name}: ${e.detail}`)).toEqual([]);
    const zb = report.network!.links.find((l) => l.name === 'zone-b')!;
    expect(zb).toMatchObject({ connections: 12, shape: '100ms±20ms 3% loss 1Mbit', partitions: 0, resetAtHeal: 0 });
    // The shaped agents' connects are slower than a loopback one, never faster than one round trip.
    expect(report.agents.connect!.maxMs).toBeGreaterThanOrEqual(200);
  });
});
