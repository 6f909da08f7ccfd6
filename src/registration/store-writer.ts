// Coalesces controller writes into one store batch per event-loop turn, so a connect storm of
// thousands of agents becomes a handful of registry deltas and pushes instead of thousands.
import type { Resource, ResourceKey } from '../config/resources.js';
import type { ConfigOp, ConfigStore } from '../config/store.js';

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
    for (const [key, r] of this.pending) ops.push(r ? { op: 'apply', resource: r } : { op: 'delete', key });
    this.pending.clear();
    this.store.commit(ops);
  }

  close(): void {
    this.flush();
  }

  private schedule(): void {
    this.scheduled ??= setImmediate(() => this.flush());
  }
}
