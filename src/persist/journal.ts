// Durable config state (--state-dir): every committed store batch is appended to a journal and
// fsynced before the write is acknowledged; on start the snapshot plus the journal are replayed.
// The journal is compacted into a snapshot when it grows, via write-to-temp + fsync + rename.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Resource, ResourceKey } from '../config/resources.js';
import { keyOf } from '../config/resources.js';
import type { ConfigBatch, ConfigStore } from '../config/store.js';

const SNAPSHOT = 'snapshot.json';
const JOURNAL = 'journal.jsonl';

interface JournalLine {
  rev: number;
  put?: Resource[];
  del?: ResourceKey[];
}

export interface JournalOptions {
  /** Compact once the journal exceeds this many bytes (default 16 MiB). */
  compactBytes?: number;
}

export interface RestoreResult {
  resources: Resource[];
  /** Journal lines replayed after the snapshot. */
  replayed: number;
  /** A torn last line (crash mid-append) that was ignored. */
  tornTail: boolean;
}

export class StateJournal {
  private fd: number;
  private bytes: number;
  private readonly compactBytes: number;
  private unsubscribe: (() => void) | undefined;

  private constructor(
    private readonly dir: string,
    opts: JournalOptions,
  ) {
    this.compactBytes = opts.compactBytes ?? 16 * 1024 * 1024;
    this.fd = openSync(join(dir, JOURNAL), 'a');
    this.bytes = statSync(join(dir, JOURNAL)).size;
  }

  /** Reads what a previous run left in `dir` (created if missing). */
  static read(dir: string): RestoreResult {
    mkdirSync(dir, { recursive: true });
    const state = new Map<ResourceKey, Resource>();
    const snap = join(dir, SNAPSHOT);
    if (existsSync(snap)) for (const r of JSON.parse(readFileSync(snap, 'utf8')) as Resource[]) state.set(keyOf(r), r);
    let replayed = 0;
    let tornTail = false;
    const jpath = join(dir, JOURNAL);
    if (existsSync(jpath)) {
      const lines = readFileSync(jpath, 'utf8').split('\n');
      for (let i = 0; i < lines.length; i++) {
        const text = lines[i]!;
        if (!text) continue;
        let line: JournalLine;
        try {
          line = JSON.parse(text) as JournalLine;
        } catch {
          // Only the last line can be torn by a crash; anything earlier is corruption.
          if (lines.slice(i + 1).some((l) => l.length > 0)) throw new Error(`${jpath}:${i + 1}: corrupt journal line`);
          tornTail = true;
          break;
        }
        for (const r of line.put ?? []) state.set(keyOf(r), r);
        for (const k of line.del ?? []) state.delete(k);
        replayed++;
      }
    }
    return { resources: [...state.values()], replayed, tornTail };
  }

  /**
   * Restores `dir` into `store`, compacts, and from then on journals every batch the store commits.
   * Call before anything else writes to the store.
   */
  static attach(store: ConfigStore, dir: string, opts: JournalOptions = {}): { journal: StateJournal; restored: RestoreResult } {
    const restored = StateJournal.read(dir);
    if (restored.resources.length > 0) store.commit(restored.resources.map((resource) => ({ op: 'apply' as const, resource })));
    const journal = new StateJournal(dir, opts);
    journal.compact(store);
    journal.unsubscribe = store.subscribe((batch) => journal.append(batch, store));
    return { journal, restored };
  }

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    closeSync(this.fd);
  }

  private append(batch: ConfigBatch, store: ConfigStore): void {
    const line: JournalLine = { rev: batch[batch.length - 1]!.revision };
    for (const ev of batch) {
      if (ev.type === 'deleted') (line.del ??= []).push(ev.key);
      else (line.put ??= []).push(ev.resource);
    }
    const buf = Buffer.from(`${JSON.stringify(line)}\n`);
    writeSync(this.fd, buf);
    fsyncSync(this.fd);
    this.bytes += buf.length;
    if (this.bytes > this.compactBytes) this.compact(store);
  }

  /** Writes the whole store as the snapshot and starts an empty journal. */
  compact(store: ConfigStore): void {
    const all: Resource[] = [];
    for (const kind of ['Namespace', 'ServiceAccount', 'Service', 'ServiceEntry', 'DestinationRule', 'PeerAuthentication', 'WorkloadGroup', 'WorkloadEntry'] as const) {
      all.push(...store.list(kind));
    }
    const tmp = join(this.dir, `${SNAPSHOT}.tmp`);
    const fd = openSync(tmp, 'w');
    writeSync(fd, JSON.stringify(all));
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, join(this.dir, SNAPSHOT));
    syncDir(this.dir);
    closeSync(this.fd);
    this.fd = openSync(join(this.dir, JOURNAL), 'w');
    fsyncSync(this.fd);
    this.bytes = 0;
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
