// Durable config state (--state-dir): every committed store batch is appended to a journal and
// fsynced before the write is acknowledged; on start the snapshot plus the journal are replayed.
// The journal is compacted into a snapshot when it grows, via write-to-temp + fsync + rename.
// The append is the store's write-ahead hook: a batch that cannot be made durable (disk full, I/O
// error) is refused before anything serves it, the journal is cut back to its last whole line,
// and the caller gets a StateWriteError (the admin API answers 507). A compaction that does not
// fit leaves the journal as it was.
import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
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

/** A batch the state dir could not take; nothing of it was applied. */
export class StateWriteError extends Error {
  constructor(
    readonly dir: string,
    readonly code: string,
    cause: string,
  ) {
    super(`state dir ${dir} cannot take the change (${code}: ${cause}); nothing applied, what was acknowledged before is kept`);
  }
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
    // On a full disk the restored journal stays as it is (compaction is an optimisation).
    journal.tryCompact(store);
    store.setWriteAhead((batch) => journal.append(batch));
    // Compaction reads the store, so it runs once the batch is in it.
    const unsubscribe = store.subscribe(() => {
      if (journal.bytes > journal.compactBytes) journal.tryCompact(store);
    });
    journal.unsubscribe = () => {
      unsubscribe();
      store.setWriteAhead(undefined);
    };
    return { journal, restored };
  }

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    closeSync(this.fd);
  }

  private append(batch: ConfigBatch): void {
    const line: JournalLine = { rev: batch[batch.length - 1]!.revision };
    for (const ev of batch) {
      if (ev.type === 'deleted') (line.del ??= []).push(ev.key);
      else (line.put ??= []).push(ev.resource);
    }
    const buf = Buffer.from(`${JSON.stringify(line)}\n`);
    try {
      // A short write (a disk filling up) is followed by the rest or by the error; bounded, as
      // every round writes at least a byte or throws.
      for (let off = 0; off < buf.length; ) {
        const n = writeSync(this.fd, buf, off, buf.length - off);
        if (n <= 0) throw Object.assign(new Error('write returned 0'), { code: 'EIO' });
        off += n;
      }
      fsyncSync(this.fd);
    } catch (err) {
      // Cut the torn line off, so the journal still replays (and the next append starts clean).
      try {
        ftruncateSync(this.fd, this.bytes);
      } catch {
        // A journal that cannot even be truncated keeps a torn tail, which replay ignores.
      }
      const e = err as NodeJS.ErrnoException;
      throw new StateWriteError(this.dir, e.code ?? 'EIO', e.code === 'ENOSPC' ? 'no space left on device' : e.message);
    }
    this.bytes += buf.length;
  }

  /** compact(), except that a failure (no room for the snapshot) leaves everything as it was. */
  tryCompact(store: ConfigStore): boolean {
    try {
      this.compact(store);
      return true;
    } catch {
      rmSync(join(this.dir, `${SNAPSHOT}.tmp`), { force: true });
      return false;
    }
  }

  /** Writes the whole store as the snapshot and starts an empty journal. */
  compact(store: ConfigStore): void {
    const all: Resource[] = [];
    for (const kind of ['Namespace', 'ServiceAccount', 'Service', 'ServiceEntry', 'DestinationRule', 'PeerAuthentication', 'WorkloadGroup', 'WorkloadEntry'] as const) {
      all.push(...store.list(kind));
    }
    const tmp = join(this.dir, `${SNAPSHOT}.tmp`);
    const fd = openSync(tmp, 'w');
    try {
      const buf = Buffer.from(JSON.stringify(all));
      for (let off = 0; off < buf.length; ) {
        const n = writeSync(fd, buf, off, buf.length - off);
        if (n <= 0) throw Object.assign(new Error('write returned 0'), { code: 'EIO' });
        off += n;
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
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
