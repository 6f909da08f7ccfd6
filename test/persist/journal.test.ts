import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigStore } from '../../src/config/store.js';
import { StateJournal } from '../../src/persist/journal.js';
import { svc, we } from '../helpers/mesh.js';

const names = (s: ConfigStore) => s.list('WorkloadEntry').map((w) => `${w.metadata.name}=${w.spec.address}`);

describe('StateJournal', () => {
  it('restores every committed batch, applies deletes, survives a torn last line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xdsim-state-'));
    const s1 = new ConfigStore();
    const { journal } = StateJournal.attach(s1, dir);
    s1.commit([{ op: 'apply', resource: we('a', { address: '10.0.0.1' }) }, { op: 'apply', resource: svc('s', { app: 'a' }, [{ port: 80 }]) }]);
    s1.apply(we('b', { address: '10.0.0.2' }));
    s1.apply(we('a', { address: '10.0.0.9' }));
    s1.delete('WorkloadEntry/pay/b');
    journal.close();
    // A crash in the middle of the next append leaves half a line.
    appendFileSync(join(dir, 'journal.jsonl'), '{"rev":9,"put":[{"apiVers');

    const s2 = new ConfigStore();
    const { journal: j2, restored } = StateJournal.attach(s2, dir);
    expect(restored.tornTail).toBe(true);
    expect(restored.replayed).toBe(4);
    expect(names(s2)).toEqual(['a=10.0.0.9']);
    expect(s2.list('Service')).toHaveLength(1);
    // Attaching compacted: the journal starts empty, the snapshot holds the state.
    expect(readFileSync(join(dir, 'journal.jsonl'), 'utf8')).toBe('');
    s2.apply(we('c', { address: '10.0.0.3' }));
    j2.close();

    const s3 = new ConfigStore();
    StateJournal.attach(s3, dir).journal.close();
    expect(names(s3)).toEqual(['a=10.0.0.9', 'c=10.0.0.3']);
  });

  it('compacts when the journal grows past the limit, losing nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xdsim-state-'));
    const s1 = new ConfigStore();
    const { journal } = StateJournal.attach(s1, dir, { compactBytes: 2000 });
    for (let i = 0; i < 50; i++) s1.apply(we(`e${i}`, { address: `10.1.0.${i}` }));
    journal.close();
    expect(readFileSync(join(dir, 'journal.jsonl'), 'utf8').length).toBeLessThan(2500);
    const s2 = new ConfigStore();
    StateJournal.attach(s2, dir).journal.close();
    expect(s2.list('WorkloadEntry')).toHaveLength(50);
  });

  it('refuses a journal corrupted before its last line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xdsim-state-'));
    appendFileSync(join(dir, 'journal.jsonl'), 'garbage\n{"rev":1}\n');
    expect(() => StateJournal.read(dir)).toThrow(/journal.jsonl:1: corrupt journal line/);
  });
});
