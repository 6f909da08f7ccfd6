// The config store's revisions and stamps, kept beside the resources it is handed.
import { describe, expect, it } from 'vitest';
import type { WorkloadEntry } from '../../src/config/resources.js';
import { ConfigStore, type ConfigBatch } from '../../src/config/store.js';
import { we } from '../helpers/mesh.js';

const KEY = 'WorkloadEntry/pay/vm-1';
const weighted = (weight: number): WorkloadEntry => we('vm-1', { address: '10.0.0.1', weight });

describe('ConfigStore', () => {
  it('stamps revision, generation and creation time beside the resource, never in it', () => {
    const store = new ConfigStore();
    const v1 = weighted(1);
    const frozen = JSON.stringify(v1);
    const e1 = store.apply(v1)!;
    expect(e1).toMatchObject({ type: 'added', key: KEY, revision: 1 });
    expect(store.get(KEY)).toBe(v1);
    expect(JSON.stringify(v1)).toBe(frozen);

    store.apply(we('vm-2', { address: '10.0.0.2' }));
    const v2 = weighted(2);
    const e2 = store.apply(v2)!;
    expect(e2).toMatchObject({ type: 'updated', revision: 3 });
    expect(e2.previous).toBe(v1);

    const [shown] = store.listStamped('WorkloadEntry').filter((r) => r.metadata.name === 'vm-1');
    expect(shown!.metadata).toMatchObject({ name: 'vm-1', resourceVersion: '3', generation: 2 });
    // Created once, kept across updates.
    expect(Date.parse(shown!.metadata.creationTimestamp!)).not.toBeNaN();
    expect(shown!.spec).toEqual(v2.spec);
    expect(v2.metadata).not.toHaveProperty('resourceVersion');
  });

  it.each([
    ['the same spec again', () => weighted(5), 0],
    ['store stamps supplied by the client', () => ({ ...weighted(5), metadata: { ...weighted(5).metadata, resourceVersion: '99', generation: 7 } }), 0],
    ['another weight', () => weighted(6), 1],
    ['a new label', () => ({ ...weighted(5), metadata: { ...weighted(5).metadata, labels: { a: 'b' } } }), 1],
  ])('re-applying %s: %d events', (_what, next, events) => {
    const store = new ConfigStore();
    const batches: ConfigBatch[] = [];
    store.apply(weighted(5));
    store.subscribe((b) => batches.push(b));
    expect(store.commit([{ op: 'apply', resource: next() as WorkloadEntry }])).toHaveLength(events);
    expect(batches).toHaveLength(events);
    expect(store.revision).toBe(1 + events);
  });

  it('one resource object in two stores: each keeps its own stamps', () => {
    const a = new ConfigStore();
    const b = new ConfigStore();
    const shared = weighted(1);
    a.apply(we('other', { address: '10.0.0.9' }));
    a.apply(shared);
    b.apply(shared);
    expect(a.listStamped('WorkloadEntry').find((r) => r.metadata.name === 'vm-1')!.metadata.resourceVersion).toBe('2');
    expect(b.listStamped('WorkloadEntry')[0]!.metadata.resourceVersion).toBe('1');
  });

  it('deletes: the event carries the last version; a missing key is a no-op', () => {
    const store = new ConfigStore();
    const v1 = weighted(1);
    store.apply(v1);
    expect(store.delete(KEY)).toMatchObject({ type: 'deleted', resource: v1, revision: 2 });
    expect(store.get(KEY)).toBeUndefined();
    expect(store.size).toBe(0);
    expect(store.delete(KEY)).toBeUndefined();
    expect(store.revision).toBe(2);
  });
});
