// The scenario's network block: precise file:line errors, and what a valid one turns into
// (shapes per direction, partitions with their heals in the timeline).
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/diagnostics.js';
import { loadScenario, parseScenario } from '../../src/scenario/load.js';

const F = 'test/scenario/fixtures';
const lines = async (file: string) => (await loadScenario(`${F}/${file}`)).diagnostics.map(formatDiagnostic);

describe('network: schema errors', async () => {
  const out = await lines('network-errors.yaml');
  it.each([
    ['duration spelling', 'network-errors.yaml:20 Scenario net network.links[0].delay: expected a duration like "500ms", "10s" or "1m30s", got "30 ms"'],
    ['bit rate spelling', 'network-errors.yaml:22 Scenario net network.links[0].rate: expected a bit rate like "1Mbit", "512kbit" or "10Gbit", got "1MB"'],
    ['unknown key', 'network-errors.yaml:23 Scenario net network.links[0].colour: warning: unknown field, ignored'],
    ['direction enum', 'network-errors.yaml:35 Scenario net timeline[1].partition.direction: expected one of both, toAgents, toServer, got "sideways"'],
  ])('%s', (_label, line) => expect(out).toContain(`${F}/${line}`));
  it('stops at the schema and loads nothing', async () => {
    expect(out.filter((l) => !l.includes('warning'))).toHaveLength(3);
    expect((await loadScenario(`${F}/network-errors.yaml`)).scenario).toBeUndefined();
  });
});

const BASE = `apiVersion: xdsim.io/v1alpha1
kind: Scenario
metadata: { name: net }
workloadGroups:
  - apiVersion: networking.istio.io/v1
    kind: WorkloadGroup
    metadata: { name: app, namespace: ns-1 }
    spec: { template: { labels: { app: app } } }
fleet:
  duration: 60s
  agents:
    - group: ns-1/app
      count: 10
      localities: [r1/za/s1, r1/zb/s1]
`;

async function check(tail: string) {
  const r = await parseScenario(BASE + tail, 'n.yaml');
  return { scenario: r.scenario, out: r.diagnostics.map(formatDiagnostic) };
}

describe('network: checks across sections', () => {
  it('loss, duplicate names, empty selectors, unknown groups, overlaps', async () => {
    const { out, scenario } = await check(`network:
  links:
    - name: zone-b
      select: { locality: r1/zb }
      loss: 70%
    - name: zone-b
      select: {}
    - name: all-app
      select: { group: ns-1/app }
    - name: other
      select: { group: ns-1/ap }
`);
    expect(scenario).toBeUndefined();
    expect(out).toEqual([
      'n.yaml:19 Scenario net network.links[0].loss: expected at most 50% (each loss stalls the stream one retransmission timeout), got "70%"',
      'n.yaml:20 Scenario net network.links[1].name: link "zone-b" is defined twice',
      'n.yaml:21 Scenario net network.links[1].select: give group, locality or both',
      'n.yaml:23 Scenario net network.links[2].select: agents of ns-1/app in r1/zb/s1 match links "zone-b" and "all-app"; an agent goes through one link at most',
      'n.yaml:25 Scenario net network.links[3].select.group: no agents of group ns-1/ap in the fleet (did you mean "ns-1/app"?)',
      'n.yaml:25 Scenario net network.links[3].select: warning: selects no agent of the fleet',
    ]);
  });

  it('partitions: unknown link, heal after the end, overlaps', async () => {
    const { out } = await check(`network:
  links:
    - name: zone-b
      select: { locality: r1/zb }
timeline:
  - at: 10s
    partition: { link: zone-c, for: 5s }
  - at: 20s
    partition: { link: zone-b, for: 50s }
  - at: 30s
    partition: { link: zone-b, for: 10s, direction: toServer }
`);
    expect(out).toEqual([
      'n.yaml:21 Scenario net timeline[0].partition.link: no link "zone-c" under network.links (did you mean "zone-b"?)',
      'n.yaml:23 Scenario net timeline[1].partition.for: heals at 1m10s, not before the end of the run (fleet duration 1m00s)',
      'n.yaml:25 Scenario net timeline[2].partition: overlaps the partition of link zone-b at 20s (healed at 1m10s)',
    ]);
  });

  it('a partition without a network block', async () => {
    const { out } = await check(`timeline:
  - at: 10s
    partition: { link: zone-b, for: 5s }
`);
    expect(out).toEqual(['n.yaml:17 Scenario net timeline[0].partition.link: no link "zone-b" under network.links (declare one there)']);
  });
});

describe('network: a valid block', () => {
  it('shapes per direction, selections, a partition and its heal', async () => {
    const { out, scenario } = await check(`network:
  links:
    - name: zone-b
      select: { locality: r1/zb }
      delay: 30ms
      jitter: 5ms
      loss: 1%
      rate: 1Mbit
      toAgents: { delay: 50ms }
controlPlane: { keepaliveInterval: 5s, keepaliveTimeout: 2s }
timeline:
  - at: 20s
    partition: { link: zone-b, for: 25s, direction: toAgents }
`);
    expect(out).toEqual([]);
    expect(scenario!.network!.links).toEqual([
      {
        name: 'zone-b',
        select: { locality: 'r1/zb' },
        shape: {
          toServer: { delayMs: 30, jitterMs: 5, loss: 0.01, rateBps: 1e6 },
          toAgents: { delayMs: 50, jitterMs: 5, loss: 0.01, rateBps: 1e6 },
        },
        line: 17,
      },
    ]);
    expect(scenario!.controlPlane).toMatchObject({ keepaliveTimeMs: 5000, keepaliveTimeoutMs: 2000 });
    expect(scenario!.timeline.map((t) => [t.atMs, t.label])).toEqual([
      [20_000, 'partition link zone-b (toAgents) for 25s'],
      [45_000, 'heal link zone-b (partitioned at 20s)'],
    ]);
  });
});
