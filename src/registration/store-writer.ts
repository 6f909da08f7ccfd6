// Coalesces controller writes into one store batch per event-loop turn, so a connect storm of
// thousands of agents becomes a handful of registry deltas and pushes instead of thousands.
import type { Resource, ResourceKey } from '../config/resources.js';
import type { ConfigOp, ConfigStore } from '../config/store.js';
import { StateWriteError } from '../persist/journal.js';

export class StoreWriter {
  /** Writes not yet committed; reads see them first. `null` marks a pending delete. */
  private readonly pending = new Map<ResourceKey, Resource | null>();
  private scheduled: NodeJS.Immediate | undefined;

  constructor(private readonly store: ConfigStore) {}

  get<R extends Resource>(key: ResourceKey): R | undefined {
    const p = this.pending.get(key);
    if (p === null) return undefined;
    return (p ?? this.store.get(key)) as R | undefined;
  }

  apply(resource: Resource, key: ResourceKey): void {
    this.pending.set(key, resource);
    this.schedule();
  }

  delete(key: ResourceKey): void {
    this.pending.set(key, null);
    this.schedule();
  }

  /** Commits everything pending now, as one batch. */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    if (this.pending.size === 0) return;
    const ops: ConfigOp[] = [];
    const batch = [...this.pending];
    for (const [key, r] of batch) ops.push(r ? { op: 'apply', resource: r } : { op: 'delete', key });
    this.pending.clear();
    try {
      this.store.commit(ops);
    } catch (err) {
      if (!(err instanceof StateWriteError)) throw err;
      // The state dir is full: nothing was applied. Keep the writes (later ones for the same key
      // win) and try again in a second; serving goes on meanwhile.
      for (const [key, r] of batch) if (!this.pending.has(key)) this.pending.set(key, r);
      this.onRefused?.(err);
      this.retry ??= setTimeout(() => {
        this.retry = undefined;
        this.schedule();
      }, 1_000);
      this.retry.unref();
    }
  }

  /** Called when a flush is refused by the state dir (the controller logs it, rate-limited). */
  onRefused: ((err: StateWriteError) => void) | undefined;
  private retry: NodeJS.Timeout | undefined;

  close(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
    try {
      this.flush();
    } finally {
      if (this.retry) clearTimeout(this.retry);
      this.retry = undefined;
    }
  }

  private schedule(): void {
    this.scheduled ??= setImmediate(() => this.flush());
  }
}
