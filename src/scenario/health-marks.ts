// Timeline `unhealthy` / `healthy` / `restore`: set the Healthy condition of the selected
// WorkloadEntries, exactly as the health controller does when agents report (SPEC §7), so EDS
// and pushes follow through the normal path. Entries without health checks get the annotation:
// marking them is the point of the action.
import type { Condition, WorkloadEntry } from '../config/resources.js';
import type { ConfigOp, ConfigStore } from '../config/store.js';
import { ANNOTATION_HEALTH_CHECKS } from '../model/labels.js';
import { localityMatches } from '../model/locality.js';
import { workloadFromEntry } from '../model/workload.js';
import { ANNOTATION_AUTO_REGISTRATION_GROUP } from '../registration/annotations.js';
import type { AgentSelector } from './model.js';

/** FNV-1a: a stable pick of "10% of the entries" that does not depend on list order. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * `staticOnly`: only entries no agent registered (no auto-registration annotation); with agents
 * probing, the timeline reaches the others through their probes.
 */
export function selectEntries(store: ConfigStore, sel: AgentSelector, staticOnly = false): WorkloadEntry[] {
  let [ns, group] = sel.group ? sel.group.split('/') : [undefined, undefined];
  if (sel.group && group === undefined) [ns, group] = ['default', ns];
  const matching = store.list('WorkloadEntry', ns).filter((we) => {
    if (group !== undefined && we.metadata.annotations?.[ANNOTATION_AUTO_REGISTRATION_GROUP] !== group) return false;
    if (staticOnly && we.metadata.annotations?.[ANNOTATION_AUTO_REGISTRATION_GROUP]) return false;
    return sel.locality === undefined || localityMatches(workloadFromEntry(we).locality, sel.locality);
  });
  const n = sel.count !== undefined ? Math.min(sel.count, matching.length) : Math.round((sel.fraction ?? 1) * matching.length);
  if (n >= matching.length) return matching;
  return matching
    .map((we) => ({ we, h: hash(`${we.metadata.namespace}/${we.metadata.name}`) }))
    .sort((a, b) => a.h - b.h)
    .slice(0, n)
    .map((x) => x.we);
}

/** Sets Healthy True/False on the selected entries in one batch; returns how many changed. */
export function markHealth(store: ConfigStore, sel: AgentSelector, healthy: boolean, now = new Date(), staticOnly = false): { selected: number; changed: number } {
  const entries = selectEntries(store, sel, staticOnly);
  const at = now.toISOString();
  const ops: ConfigOp[] = [];
  for (const we of entries) {
    const conditions = we.status?.conditions ?? [];
    const prev = conditions.find((c) => c.type === 'Healthy');
    const status: Condition['status'] = healthy ? 'True' : 'False';
    const checked = we.metadata.annotations?.[ANNOTATION_HEALTH_CHECKS] === 'true';
    if (checked && prev?.status === status) continue;
    const next: Condition = {
      type: 'Healthy',
      status,
      ...(healthy ? {} : { message: 'marked unhealthy by the scenario timeline' }),
      lastProbeTime: at,
      lastTransitionTime: prev?.status === status ? (prev.lastTransitionTime ?? at) : at,
    };
    ops.push({
      op: 'apply',
      resource: {
        ...we,
        metadata: { ...we.metadata, annotations: { ...(we.metadata.annotations ?? {}), [ANNOTATION_HEALTH_CHECKS]: 'true' } },
        status: { ...we.status, conditions: [...conditions.filter((c) => c.type !== 'Healthy'), next] },
      },
    });
  }
  const changed = store.commit(ops).length;
  return { selected: entries.length, changed };
}

