// istiod's WorkloadEntry auto-registration (SPEC §6): agents that connect with
// AUTO_REGISTER_GROUP get a WorkloadEntry from the group's template; it is marked disconnected
// when the last connection of its identity goes, and deleted after a grace period.
import type { OwnerReference, WorkloadEntry, WorkloadGroup } from '../config/resources.js';
import { resourceKey } from '../config/resources.js';
import type { ConfigStore } from '../config/store.js';
import { ANNOTATION_HEALTH_CHECKS, LABEL_LEGACY_LOCALITY } from '../model/labels.js';
import { localityLabel } from '../model/locality.js';
import {
  ANNOTATION_AUTO_REGISTRATION_GROUP,
  ANNOTATION_CONNECTED_AT,
  ANNOTATION_DISCONNECTED_AT,
  ANNOTATION_WORKLOAD_CONTROLLER,
} from './annotations.js';
import type { ConnectedProxy } from './connected-proxy.js';
import { autoRegisteredEntryName, identityKey } from './entry-name.js';
import type { StoreWriter } from './store-writer.js';
import { checkAutoRegistration, checkGeneratedEntry, REFUSAL_LOG_MESSAGE, wantsAutoRegistration, type RegistrationRefusal } from './validation.js';
import { DEFAULT_VALIDATE_IDENTITY, identityRefusal } from './identity.js';
import { rfc3339Nano } from './time.js';
import { CleanupQueue } from './cleanup-queue.js';

export interface AutoRegistrationOptions {
  /** PILOT_WORKLOAD_ENTRY_GRACE_PERIOD: how long a disconnected entry survives. */
  gracePeriodMs?: number;
  /** How often disconnected entries are swept (istiod: every 10 grace periods, the default). */
  sweepIntervalMs?: number;
  /**
   * istiod's MaxServerConnectionAge (x1.5, as istiod extends it): an entry that still claims a
   * connection (connectedAt) older than this, with none here, is swept. Default: unlimited, as
   * istiod's default keepalive has no maximum age, so such an entry stays.
   */
  maxConnectionAgeMs?: number;
  /** Written to istio.io/workloadController. */
  controllerId?: string;
  now?: () => number;
  /**
   * ISTIO_WORKLOAD_ENTRY_VALIDATE_IDENTITY (istiod's default: true): registering needs a verified
   * identity that may own the entry (identity.ts).
   */
  validateIdentity?: boolean;
  /** Deletions per second after the grace period (istiod: 20, CLEANUP_PER_SECOND). */
  cleanupPerSecond?: number;
  log?: (level: 'info' | 'warn', msg: string, fields?: object) => void;
}

export const DEFAULT_GRACE_PERIOD_MS = 10_000;

type Plan = { reconnect: WorkloadEntry } | { create: WorkloadEntry } | { refusal: RegistrationRefusal };

export class AutoRegistrationController {
  /** identity -> live connection ids. */
  private readonly connections = new Map<string, Set<string>>();
  /** Entry keys with at least one live connection (the sweep's view of "connected"). */
  private readonly connectedEntries = new Set<string>();
  private readonly deletions = new Map<string, NodeJS.Timeout>();
  /** Deletions past the grace period go through istiod's rate-limited cleanup (cleanup-queue.ts). */
  private readonly cleanup: CleanupQueue;
  /** Proxies refused at connect: they own no entry, so their disconnect and health touch none. */
  private readonly refused = new WeakSet<ConnectedProxy>();
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly grace: number;
  private readonly controllerId: string;
  private readonly now: () => number;
  private readonly validateIdentity: boolean;

  constructor(
    private readonly store: ConfigStore,
    private readonly writer: StoreWriter,
    private readonly options: AutoRegistrationOptions = {},
  ) {
    this.grace = options.gracePeriodMs ?? DEFAULT_GRACE_PERIOD_MS;
    this.controllerId = options.controllerId ?? 'xdsim';
    this.now = options.now ?? Date.now;
    this.validateIdentity = options.validateIdentity ?? DEFAULT_VALIDATE_IDENTITY;
    this.cleanup = new CleanupQueue(options.cleanupPerSecond, this.now);
    this.sweepTimer = setInterval(() => this.sweep(), options.sweepIntervalMs ?? Math.max(1000, 10 * this.grace));
    this.sweepTimer.unref();
  }

  /** Entry key for a proxy that auto-registers, or undefined when it does not. */
  entryKeyOf(p: ConnectedProxy): string | undefined {
    if (!p.group || !p.ip || !p.namespace || this.refused.has(p)) return undefined;
    return resourceKey('WorkloadEntry', p.namespace, autoRegisteredEntryName(p.group, p.ip, p.network));
  }

  isConnected(p: ConnectedProxy): boolean {
    return (this.connections.get(identityKey(p))?.size ?? 0) > 0;
  }

  /**
   * Registers (or re-connects) the proxy's entry. Invalid metadata (validation.ts) registers
   * nothing, touches no existing entry or connection count, and comes back as the refusal the
   * stream is closed with.
   */
  onConnect(p: ConnectedProxy): RegistrationRefusal | undefined {
    if (!wantsAutoRegistration(p)) return undefined;
    const invalid = checkAutoRegistration(p);
    if (invalid) return this.refuse(p, invalid);
    const key = this.entryKeyOf(p);
    if (!key) {
      // As istiod: a node without an address or namespace is not registered, but not refused.
      const what = p.ip ? 'no NAMESPACE in node metadata or node id' : 'no INSTANCE_IPS in node metadata';
      this.options.log?.('warn', `auto-registration skipped: ${what}`, { node: p.nodeId });
      return undefined;
    }
    const plan = this.plan(p, key);
    if ('refusal' in plan) return this.refuse(p, plan.refusal);
    const id = identityKey(p);
    let conns = this.connections.get(id);
    if (!conns) this.connections.set(id, (conns = new Set()));
    conns.add(p.connectionId);
    this.connectedEntries.add(key);
    this.cancelDeletion(key);
    this.carryOut(p, key, plan);
    return undefined;
  }

  onDisconnect(p: ConnectedProxy): void {
    const key = this.entryKeyOf(p);
    if (!key) return;
    const id = identityKey(p);
    const conns = this.connections.get(id);
    conns?.delete(p.connectionId);
    if (conns && conns.size > 0) return;
    this.connections.delete(id);
    this.connectedEntries.delete(key);
    const entry = this.writer.get<WorkloadEntry>(key);
    if (!entry) return;
    const annotations = { ...(entry.metadata.annotations ?? {}) };
    delete annotations[ANNOTATION_CONNECTED_AT];
    annotations[ANNOTATION_DISCONNECTED_AT] = rfc3339Nano(this.now());
    this.writer.apply({ ...entry, metadata: { ...entry.metadata, annotations } }, key);
    this.scheduleDeletion(key);
  }

  /**
   * istiod's periodic cleanup: deletes auto-registered entries disconnected for longer than the
   * grace period (e.g. left by a previous run), and ones whose connection claim is older than
   * the maximum connection age. An entry with neither annotation (written by hand, never
   * connected) is left alone, as istiod leaves it.
   */
  sweep(): void {
    const now = this.now();
    const maxAge = this.options.maxConnectionAgeMs;
    for (const we of this.store.list('WorkloadEntry')) {
      const a = we.metadata.annotations ?? {};
      if (!a[ANNOTATION_AUTO_REGISTRATION_GROUP]) continue;
      const key = resourceKey('WorkloadEntry', we.metadata.namespace, we.metadata.name);
      // By entry key, not by spec: the spec's network may come from the group template while
      // the connection is keyed by the network the proxy sent.
      if (this.connectedEntries.has(key)) continue;
      const connectedAt = a[ANNOTATION_CONNECTED_AT];
      if (connectedAt !== undefined) {
        if (maxAge !== undefined && now - Date.parse(connectedAt) > maxAge) this.cleanup.push(() => this.deleteIfStale(key));
        continue;
      }
      const since = a[ANNOTATION_DISCONNECTED_AT];
      if (since !== undefined && now - Date.parse(since) >= this.grace) this.cleanup.push(() => this.deleteIfStillDisconnected(key));
    }
  }

  /** A connection claim past the maximum age, still unconnected when its cleanup turn comes. */
  private deleteIfStale(key: string): void {
    if (this.connectedEntries.has(key)) return;
    const connectedAt = this.writer.get<WorkloadEntry>(key)?.metadata.annotations?.[ANNOTATION_CONNECTED_AT];
    if (connectedAt !== undefined && this.now() - Date.parse(connectedAt) > (this.options.maxConnectionAgeMs ?? Infinity)) this.writer.delete(key);
  }

  close(): void {
    clearInterval(this.sweepTimer);
    this.cleanup.close();
    for (const t of this.deletions.values()) clearTimeout(t);
    this.deletions.clear();
  }

  /** What connecting `p` will do to its entry, decided before any bookkeeping changes. */
  private plan(p: ConnectedProxy, key: string): Plan {
    // istiod's registerWorkload: an existing entry is checked against the proxy's identity, a new
    // one is built from the group and checked before it is created.
    const existing = this.writer.get<WorkloadEntry>(key);
    if (existing) {
      const refusal = identityRefusal(p, existing, this.validateIdentity);
      return refusal ? { refusal } : { reconnect: existing };
    }
    const groupKey = resourceKey('WorkloadGroup', p.namespace, p.group!);
    const group = this.store.get<WorkloadGroup>(groupKey);
    if (!group) {
      // istiod refuses at once (FailedPrecondition) rather than waiting: the agent's reconnect
      // after the group exists registers it.
      return { refusal: { kind: 'group_missing', message: `auto-registration WorkloadEntry of ${p.nodeId} failed: cannot find WorkloadGroup ${p.namespace}/${p.group}` } };
    }
    const entry = entryFromGroup(key.split('/')[2]!, p, group, this.controllerId, rfc3339Nano(this.now()), this.store.uid(groupKey) ?? '');
    const refusal = identityRefusal(p, entry, this.validateIdentity) ?? checkGeneratedEntry(entry);
    return refusal ? { refusal } : { create: entry };
  }

  private carryOut(p: ConnectedProxy, key: string, plan: Exclude<Plan, { refusal: RegistrationRefusal }>): void {
    if ('reconnect' in plan) {
      // Reconnect: the entry keeps its spec and health; only the connection state changes.
      const existing = plan.reconnect;
      const now = rfc3339Nano(this.now());
      const annotations: Record<string, string> = { ...(existing.metadata.annotations ?? {}), [ANNOTATION_WORKLOAD_CONTROLLER]: this.controllerId, [ANNOTATION_CONNECTED_AT]: now };
      delete annotations[ANNOTATION_DISCONNECTED_AT];
      this.writer.apply({ ...existing, metadata: { ...existing.metadata, annotations } }, key);
    } else {
      this.writer.apply(plan.create, key);
    }
  }

  private refuse(p: ConnectedProxy, refusal: RegistrationRefusal): RegistrationRefusal {
    this.refused.add(p);
    this.options.log?.('warn', REFUSAL_LOG_MESSAGE[refusal.kind], { node: p.nodeId, reason: refusal.message });
    return refusal;
  }

  private scheduleDeletion(key: string): void {
    this.cancelDeletion(key);
    const t = setTimeout(() => {
      this.deletions.delete(key);
      this.cleanup.push(() => this.deleteIfStillDisconnected(key));
    }, this.grace);
    t.unref();
    this.deletions.set(key, t);
  }

  /** Checked when the cleanup runs, not when it was queued: the VM may have come back meanwhile. */
  private deleteIfStillDisconnected(key: string): void {
    if (this.connectedEntries.has(key)) return;
    const entry = this.writer.get<WorkloadEntry>(key);
    const since = entry?.metadata.annotations?.[ANNOTATION_DISCONNECTED_AT];
    if (since !== undefined && this.now() - Date.parse(since) >= this.grace - 1) this.writer.delete(key);
  }

  private cancelDeletion(key: string): void {
    const t = this.deletions.get(key);
    if (t) clearTimeout(t);
    this.deletions.delete(key);
  }
}

/**
 * The entry istiod creates (workloadEntryFromGroup + setConnectMeta in
 * pilot/pkg/autoregistration/controller.go): the group's template with the proxy's first IP as
 * the address; labels from the template, then the group's metadata, then the proxy's LABELS (and
 * then no `istio-locality` label: the entry has a locality); annotations
 * `istio.io/autoRegistrationGroup`, then the group's metadata annotations over it, the
 * health-checks annotation when the proxy's PROXY_CONFIG carries a readinessProbe (the agent
 * probes, so it reports health), and the connection annotations; network and locality from the
 * proxy; an owner reference to the group, as its controller.
 */
export function entryFromGroup(name: string, p: ConnectedProxy, group: WorkloadGroup, controllerId: string, connectedAt: string, groupUid: string): WorkloadEntry {
  const t = group.spec.template ?? {};
  let labels: Record<string, string> = { ...(t.labels ?? {}) };
  if (group.spec.metadata?.labels) Object.assign(labels, group.spec.metadata.labels);
  if (sentLabels(p)) {
    labels = Object.assign(labels, p.labels);
    delete labels[LABEL_LEGACY_LOCALITY];
  }
  const annotations: Record<string, string> = {
    [ANNOTATION_AUTO_REGISTRATION_GROUP]: group.metadata.name,
    ...(group.spec.metadata?.annotations ?? {}),
  };
  if (hasReadinessProbe(p)) annotations[ANNOTATION_HEALTH_CHECKS] = 'true';
  annotations[ANNOTATION_WORKLOAD_CONTROLLER] = controllerId;
  annotations[ANNOTATION_CONNECTED_AT] = connectedAt;
  const locality = localityLabel(p.locality);
  const owner: OwnerReference = { apiVersion: WORKLOAD_GROUP_API_VERSION, kind: 'WorkloadGroup', name: group.metadata.name, uid: groupUid, controller: true };
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'WorkloadEntry',
    metadata: { name, namespace: p.namespace, labels, annotations, ownerReferences: [owner] },
    spec: {
      ...t,
      address: p.ip!,
      labels,
      ...(p.network ? { network: p.network } : {}),
      ...(locality ? { locality } : {}),
    },
  };
}

/**
 * The owner reference's apiVersion: istiod writes the group version of the WorkloadGroup as its
 * config store holds it, gvk.WorkloadGroup (networking.istio.io/v1), whatever version was applied.
 */
export const WORKLOAD_GROUP_API_VERSION = 'networking.istio.io/v1';

/** istiod reads the proxy's labels when its metadata has LABELS at all (`proxy.Metadata.Labels != nil`). */
function sentLabels(p: ConnectedProxy): boolean {
  const sent = p.metadata?.['LABELS'];
  return (sent !== undefined && sent !== null) || Object.keys(p.labels).length > 0;
}

/** `proxy.Metadata.ProxyConfig.ReadinessProbe != nil`: PROXY_CONFIG node metadata with a readinessProbe. */
export function hasReadinessProbe(p: Pick<ConnectedProxy, 'metadata'>): boolean {
  const pc = p.metadata?.['PROXY_CONFIG'];
  if (!pc || typeof pc !== 'object' || Array.isArray(pc)) return false;
  const probe = (pc as Record<string, unknown>)['readinessProbe'];
  return probe !== undefined && probe !== null;
}
