// Timeline health actions: which entries a selector picks, and the Healthy condition they get.
import { describe, expect, it } from 'vitest';
import type { WorkloadEntry } from '../../src/config/resources.js';
import { markHealth, selectEntries } from '../../src/scenario/health-marks.js';
import { mesh, we } from '../helpers/mesh.js';

const auto = (name: string, locality: string, group = 'app') =>
  we(name, { address: `10.1.0.${name.length}`, labels: { app: 'app' }, locality }, { annotations: { 'istio.io/autoRegistrationGroup': group } });

function store() {
  return mesh([
    auto('a-1', 'r1/z1/s1'),
    auto('a-2', 'r1/z1/s1'),
    auto('a-3', 'r1/z2/s1'),
    auto('b-1', 'r1/z1/s1', 'other'),
    we('static', { address: '10.2.0.1', labels: { app: 'app' }, locality: 'r1/z1/s1' }),
  ]).store;
}

const names = (l: WorkloadEntry[]) => l.map((w) => w.metadata.name).sort();

describe('selecting entries', () => {
  it('by locality pattern, group, count and share', () => {
    const s = store();
    expect(names(selectEntries(s, { locality: 'r1/z1' }))).toEqual(['a-1', 'a-2', 'b-1', 'static']);
    expect(names(selectEntries(s, { group: 'pay/app' }))).toEqual(['a-1', 'a-2', 'a-3']);
    expect(names(selectEntries(s, { group: 'pay/app', locality: 'r1/z1' }))).toEqual(['a-1', 'a-2']);
    expect(selectEntries(s, { group: 'pay/app', count: 2 })).toHaveLength(2);
    expect(selectEntries(s, { fraction: 0.5 })).toHaveLength(3);
    expect(selectEntries(s, { group: 'other-ns/app' })).toEqual([]);
  });

  it('a share is a stable pick, whatever the order entries were added in', () => {
    const a = names(selectEntries(store(), { fraction: 0.4 }));
    const reversed = mesh([we('static', { address: '10.2.0.1', labels: { app: 'app' }, locality: 'r1/z1/s1' }), auto('b-1', 'r1/z1/s1', 'other'), auto('a-3', 'r1/z2/s1'), auto('a-2', 'r1/z1/s1'), auto('a-1', 'r1/z1/s1')]).store;
    expect(names(selectEntries(reversed, { fraction: 0.4 }))).toEqual(a);
  });
});

describe('marking health', () => {
  it('sets Healthy False then True, adds the health-check annotation, and leaves EDS to follow', () => {
    const m = mesh([
      auto('a-1', 'r1/z1/s1'),
      auto('a-2', 'r1/z2/s1'),
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'app', namespace: 'pay' }, spec: { selector: { app: 'app' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } },
    ]);
    const C = 'outbound|80||app.pay.svc.cluster.local';
    expect(m.eds.endpointCount(C)).toBe(2);
    expect(markHealth(m.store, { locality: 'r1/z1' }, false)).toEqual({ selected: 1, changed: 1 });
    const e = m.store.get<WorkloadEntry>('WorkloadEntry/pay/a-1')!;
    expect(e.metadata.annotations?.['proxy.istio.io/health-checks-enabled']).toBe('true');
    expect(e.status?.conditions?.[0]).toMatchObject({ type: 'Healthy', status: 'False', message: 'marked unhealthy by the scenario timeline' });
    expect(m.eds.endpointCount(C)).toBe(1);
    // Marking again is a no-op; healthy brings it back.
    expect(markHealth(m.store, { locality: 'r1/z1' }, false)).toEqual({ selected: 1, changed: 0 });
    expect(markHealth(m.store, { locality: 'r1/z1' }, true)).toEqual({ selected: 1, changed: 1 });
    expect(m.eds.endpointCount(C)).toBe(2);
  });
});
