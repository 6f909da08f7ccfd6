// Health reported over xDS (SPEC §7) becomes the entry's Healthy condition; EDS follows.
import type { Condition, WorkloadEntry } from '../config/resources.js';
import { resourceKey } from '../config/resources.js';
import type { ConnectedProxy, HealthReport } from './connected-proxy.js';
import type { StoreWriter } from './store-writer.js';

export class HealthController {
  constructor(
    private readonly writer: StoreWriter,
    private readonly entryKeyOf: (p: ConnectedProxy) => string | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** Returns whether the report changed the entry (repeats of the same state are no-ops). */
  onHealth(p: ConnectedProxy, report: HealthReport): boolean {
    const key = p.workloadEntry ? resourceKey('WorkloadEntry', p.namespace, p.workloadEntry) : this.entryKeyOf(p);
    if (!key) return false;
    const entry = this.writer.get<WorkloadEntry>(key);
    if (!entry) return false;
    const status: Condition['status'] = report.healthy ? 'True' : 'False';
    const message = report.healthy ? undefined : (report.message ?? 'unhealthy');
    const conditions = entry.status?.conditions ?? [];
    const prev = conditions.find((c) => c.type === 'Healthy');
    if (prev && prev.status === status && prev.message === message) return false;
    const at = new Date(this.now()).toISOString();
    const next: Condition = {
      type: 'Healthy',
      status,
      ...(message ? { message } : {}),
      lastProbeTime: at,
      lastTransitionTime: prev?.status === status ? (prev.lastTransitionTime ?? at) : at,
    };
    this.writer.apply({ ...entry, status: { ...entry.status, conditions: [...conditions.filter((c) => c.type !== 'Healthy'), next] } }, key);
    return true;
  }
}
