import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { keyOf, type Resource, type ResourceKey, type ResourceKind } from './resources.js';

export type ConfigEventType = 'added' | 'updated' | 'deleted';

export interface ConfigEvent {
  type: ConfigEventType;
  key: ResourceKey;
  /** The resource as stored after the change; for `deleted`, the last stored version. */
  resource: Resource;
  /** The version replaced by an update. */
  previous?: Resource;
  /** Store revision that this change produced. */
  revision: number;
}

/** Changes that landed together, delivered to listeners as one batch. */
export type ConfigBatch = readonly ConfigEvent[];

export type ConfigListener = (batch: ConfigBatch) => void;

export type ConfigOp = { op: 'apply'; resource: Resource } | { op: 'delete'; key: ResourceKey };

/**
 * In-memory store of validated resources, in the manner of the Kubernetes API server:
 * a single monotonically increasing revision stamps every write, and listeners get each
 * committed batch of events synchronously, in order.
 * Validation happens before a resource reaches the store; the store never rejects.
 *
 * Applied resources are kept as given, never copied or written to: callers hand them over and
 * must not change them afterwards (the registry shares their label sets). The stamps
 * (resourceVersion, generation, creationTimestamp, and a uid made on first request and kept
 * across updates) are kept beside each resource, and `stamped` shows them in its metadata, as
 * `kubectl get` would.
 */
export class ConfigStore {
  /** kind -> key -> entry. One map per kind and no global one: a 100k-entry mesh pays for one index. */
  private readonly byKind = new Map<string, Map<ResourceKey, StoreEntry>>();
  private count = 0;
  private readonly listeners = new Set<ConfigListener>();
  private writeAhead: ((batch: ConfigBatch) => void) | undefined;
  private rev = 0;

  get revision(): number {
    return this.rev;
  }

  get size(): number {
    return this.count;
  }

  get<K extends Resource>(key: ResourceKey): K | undefined {
    return this.lookup(key)?.resource as K | undefined;
  }

  /**
   * The resource's `metadata.uid`, as the API server assigns one at creation: made on first
   * request (a 100k load pays nothing for it) and kept until the resource is deleted.
   */
  uid(key: ResourceKey): string | undefined {
    const e = this.lookup(key);
    if (!e) return undefined;
    return (e.uid ??= randomUUID());
  }

  /** Resources of one kind, optionally in one namespace, in key order (deterministic). */
  list<K extends ResourceKind>(kind: K, namespace?: string): Extract<Resource, { kind: K }>[] {
    return this.sortedEntries(kind, namespace).map((e) => e.resource) as Extract<Resource, { kind: K }>[];
  }

  /** `list` with the store's stamps in each resource's metadata: copies, for display. */
  listStamped<K extends ResourceKind>(kind: K, namespace?: string): Extract<Resource, { kind: K }>[] {
    return this.sortedEntries(kind, namespace).map(stampedCopy) as Extract<Resource, { kind: K }>[];
  }

  /** Resources of one kind in insertion order, without copying or sorting (bulk consumers). */
  *values<K extends ResourceKind>(kind: K): IterableIterator<Extract<Resource, { kind: K }>> {
    const m = this.byKind.get(kind);
    if (m) for (const e of m.values()) yield e.resource as Extract<Resource, { kind: K }>;
  }

  /** Keys and resources of one kind in insertion order, without copying or sorting (bulk consumers). */
  *entries<K extends ResourceKind>(kind: K): IterableIterator<[ResourceKey, Extract<Resource, { kind: K }>]> {
    const m = this.byKind.get(kind);
    if (m) for (const [key, e] of m) yield [key, e.resource as Extract<Resource, { kind: K }>];
  }

  subscribe(listener: ConfigListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  apply(resource: Resource): ConfigEvent | undefined {
    return this.commit([{ op: 'apply', resource }])[0];
  }

  delete(key: ResourceKey): ConfigEvent | undefined {
    return this.commit([{ op: 'delete', key }])[0];
  }

  /**
   * Applies all operations as one batch: one notification to listeners.
   * An apply identical to what is stored (spec, metadata labels/annotations, status) is a no-op,
   * so re-applying a file does not trigger pushes; deleting a missing key is a no-op too.
   */
  commit(ops: readonly ConfigOp[]): ConfigEvent[] {
    const events: ConfigEvent[] = [];
    let now: string | undefined;
    const revBefore = this.rev;
    // With a write-ahead hook, what this batch changed is undone if the hook refuses it.
    const undo: (() => void)[] | undefined = this.writeAhead ? [] : undefined;
    for (const o of ops) {
      if (o.op === 'apply') {
        const resource = o.resource;
        const key = keyOf(resource);
        let m = this.byKind.get(resource.kind);
        if (!m) this.byKind.set(resource.kind, (m = new Map()));
        const previous = m.get(key);
        if (previous && sameContent(previous.resource, resource)) continue;
        const revision = ++this.rev;
        if (undo) {
          const map = m;
          undo.push(previous ? () => map.set(key, previous) : () => (map.delete(key), this.count--));
        }
        m.set(key, {
          resource,
          revision,
          generation: previous ? previous.generation + 1 : 1,
          created: previous?.created ?? (now ??= new Date().toISOString()),
          ...(previous?.uid ? { uid: previous.uid } : {}),
        });
        if (previous) events.push({ type: 'updated', key, resource, previous: previous.resource, revision });
        else {
          this.count++;
          events.push({ type: 'added', key, resource, revision });
        }
      } else {
        const previous = this.lookup(o.key);
        if (!previous) continue;
        const revision = ++this.rev;
        if (undo) {
          const map = this.byKind.get(previous.resource.kind);
          undo.push(() => (map?.set(o.key, previous), this.count++));
        }
        if (this.byKind.get(previous.resource.kind)?.delete(o.key)) this.count--;
        events.push({ type: 'deleted', key: o.key, resource: previous.resource, revision });
      }
    }
    if (events.length > 0 && this.writeAhead) {
      try {
        this.writeAhead(events);
      } catch (err) {
        for (let i = undo!.length - 1; i >= 0; i--) undo![i]!();
        this.rev = revBefore;
        throw err;
      }
    }
    if (events.length > 0) for (const l of this.listeners) l(events);
    return events;
  }

  /**
   * A hook that sees every batch before anyone else and may refuse it by throwing: the store is
   * then as before the commit and `commit` throws that error (the state journal, whose write
   * must succeed before a change is served or acknowledged).
   */
  setWriteAhead(hook: ((batch: ConfigBatch) => void) | undefined): void {
    this.writeAhead = hook;
  }

  private sortedEntries(kind: ResourceKind, namespace: string | undefined): StoreEntry[] {
    const m = this.byKind.get(kind);
    if (!m) return [];
    const keyed: [string, StoreEntry][] = [];
    for (const e of m) if (namespace === undefined || e[1].resource.metadata.namespace === namespace) keyed.push(e);
    keyed.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return keyed.map((e) => e[1]);
  }

  /** Keys are `<kind>/<namespace>/<name>` (resourceKey), so the kind picks the map. */
  private lookup(key: ResourceKey): StoreEntry | undefined {
    const slash = key.indexOf('/');
    return slash < 0 ? undefined : this.byKind.get(key.slice(0, slash))?.get(key);
  }
}

/** A stored resource and the store's stamps for it. */
interface StoreEntry {
  readonly resource: Resource;
  /** Revision of its last write: `metadata.resourceVersion`. */
  readonly revision: number;
  readonly generation: number;
  readonly created: string;
  /** metadata.uid, made on first request (ConfigStore.uid). */
  uid?: string;
}

function stampedCopy(e: StoreEntry): Resource {
  const metadata = { ...e.resource.metadata, uid: (e.uid ??= randomUUID()), resourceVersion: String(e.revision), generation: e.generation, creationTimestamp: e.created };
  return { ...e.resource, metadata } as Resource;
}

/** Stamped by the store, so never part of what a client changed. */
const STORE_METADATA = new Set(['uid', 'resourceVersion', 'generation', 'creationTimestamp']);

/**
 * Whether `b` changes nothing that `a` holds: apiVersion, spec, status and metadata apart from the
 * store's stamps. A structural comparison (no serialization): re-applying a big manifest compares
 * every resource, and key order does not matter.
 */
function sameContent(a: Resource, b: Resource): boolean {
  const x = a as unknown as Record<string, unknown>;
  const y = b as unknown as Record<string, unknown>;
  if (x.apiVersion !== y.apiVersion || !isDeepStrictEqual(x.spec, y.spec) || !isDeepStrictEqual(x.status, y.status)) return false;
  const ma = a.metadata as unknown as Record<string, unknown>;
  const mb = b.metadata as unknown as Record<string, unknown>;
  let n = 0;
  for (const k in ma) {
    if (STORE_METADATA.has(k)) continue;
    if (!isDeepStrictEqual(ma[k], mb[k])) return false;
    n++;
  }
  for (const k in mb) if (!STORE_METADATA.has(k)) n--;
  return n === 0;
}
