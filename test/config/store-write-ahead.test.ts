// The store's write-ahead hook (the state journal): a batch the hook refuses leaves the store as
// it was (entries, revision, size, stamps) and reaches no listener.
import { describe, expect, it } from 'vitest';
import { ConfigStore, type ConfigBatch, type ConfigOp } from '../../src/config/store.js';
import { we } from '../helpers/mesh.js';

function seeded(): ConfigStore {
  const store = new ConfigStore();
  store.apply(we('a', { address: '10.0.0.1' }));
  store.apply(we('b', { address: '10.0.0.2' }));
  return store;
}

const snapshot = (s: ConfigStore) => ({ revision: s.revision, size: s.size, entries: JSON.stringify(s.listStamped('WorkloadEntry')) });

describe('ConfigStore write-ahead', () => {
  const cases: { name: string; ops: ConfigOp[] }[] = [
    { name: 'an add', ops: [{ op: 'apply', resource: we('c', { address: '10.0.0.3' }) }] },
    { name: 'an update', ops: [{ op: 'apply', resource: we('a', { address: '10.0.0.9' }) }] },
    { name: 'a delete', ops: [{ op: 'delete', key: 'WorkloadEntry/pay/b' }] },
    {
      name: 'a mixed batch touching one key twice',
      ops: [
        { op: 'apply', resource: we('c', { address: '10.0.0.3' }) },
        { op: 'delete', key: 'WorkloadEntry/pay/a' },
        { op: 'apply', resource: we('a', { address: '10.0.0.7' }) },
        { op: 'apply', resource: we('c', { address: '10.0.0.4' }) },
      ],
    },
  ];
  for (const c of cases) {
    it(`refused: ${c.name} changes nothing and notifies nobody`, () => {
      const store = seeded();
      const before = snapshot(store);
      const heard: ConfigBatch[] = [];
      store.subscribe((b) => heard.push(b));
      let offered: ConfigBatch | undefined;
      store.setWriteAhead((b) => {
        offered = b;
        throw new Error('disk full');
      });
      expect(() => store.commit(c.ops)).toThrow('disk full');
      expect(offered?.length).toBeGreaterThan(0);
      expect(snapshot(store)).toEqual(before);
      expect(heard).toHaveLength(0);

      // Accepted the second time: applied once, with the revisions a first attempt would have had.
      store.setWriteAhead(() => {});
      const events = store.commit(c.ops);
      expect(events.map((e) => e.revision)).toEqual(offered!.map((e) => e.revision));
      expect(heard).toEqual([events]);
    });
  }

  it('a no-op batch does not reach the hook', () => {
    const store = seeded();
    let calls = 0;
    store.setWriteAhead(() => void calls++);
    expect(store.commit([{ op: 'apply', resource: we('a', { address: '10.0.0.1' }) }, { op: 'delete', key: 'WorkloadEntry/pay/zz' }])).toEqual([]);
    expect(calls).toBe(0);
  });
});
