// Samples, for each proxy an `lbShares` expectation names, what its observer holds: the client
// model's share per locality and per priority, and the assignment's endpoints per locality. The
// runner calls sample() with its other series, so the report can draw where traffic went over the
// whole run, not only at the checkpoints.
import { localityKey } from '../lb/cla.js';
import type { TrafficSeries } from '../report/types.js';
import type { Expectation, LbSharesSpec } from './model.js';
import type { ClusterObserver } from './observer.js';

interface Track {
  observer: ClusterObserver;
  spec: LbSharesSpec;
  out: TrafficSeries;
}

const round = (x: number) => Math.round(x * 10_000) / 10_000;

export class ShareSampler {
  private readonly tracks: Track[] = [];

  constructor(
    expectations: readonly Expectation[],
    observerOf: ReadonlyMap<Expectation, ClusterObserver>,
    /** After each sample, with every track so far (the live view redraws from it). */
    private readonly onSampled?: (series: readonly TrafficSeries[]) => void,
  ) {
    // One track per observer and client model: expectations on the same proxy share it.
    const seen = new Set<string>();
    for (const x of expectations) {
      if (x.spec.kind !== 'lbShares') continue;
      const observer = observerOf.get(x);
      if (!observer) continue;
      const spec = x.spec;
      const key = JSON.stringify([spec.cluster, spec.proxy, spec.client, [...spec.failing].sort()]);
      if (seen.has(key)) continue;
      seen.add(key);
      this.tracks.push({ observer, spec, out: { cluster: spec.cluster, proxy: { ...spec.proxy, labels: { ...spec.proxy.labels } }, client: spec.client, t: [], localities: [], priorities: [] } });
    }
  }

  get size(): number {
    return this.tracks.length;
  }

  sample(tMs: number): void {
    for (const tr of this.tracks) {
      const o = tr.out;
      const n = o.t.length;
      o.t.push(tMs);
      const shares = tr.observer.lbShares(tr.spec);
      const ok = !('error' in shares);
      const loc = new Map<string, number>();
      const pri = new Map<number, number>();
      if (ok) {
        for (const l of shares.localities) loc.set(l.locality, (loc.get(l.locality) ?? 0) + l.share);
        for (const p of shares.priorities) pri.set(p.priority, (pri.get(p.priority) ?? 0) + p.share);
      }
      const counts = new Map<string, { healthy: number; unhealthy: number }>();
      for (const g of tr.observer.cla?.endpoints ?? []) {
        const k = localityKey(g.locality);
        const c = counts.get(k) ?? { healthy: 0, unhealthy: 0 };
        for (const e of g.lbEndpoints ?? []) {
          // Envoy routes to HEALTHY and UNKNOWN (and DEGRADED as a last resort); the rest are out.
          if (e.healthStatus === undefined || e.healthStatus === 'HEALTHY' || e.healthStatus === 'UNKNOWN' || e.healthStatus === 'DEGRADED') c.healthy++;
          else c.unhealthy++;
        }
        counts.set(k, c);
      }
      // A locality first seen now gets zeros for the samples before it.
      for (const k of new Set([...loc.keys(), ...counts.keys()])) {
        if (!o.localities.some((l) => l.locality === k)) {
          o.localities.push({ locality: k, share: o.t.slice(0, n).map(() => 0), healthy: new Array<number>(n).fill(0), unhealthy: new Array<number>(n).fill(0) });
        }
      }
      for (const p of pri.keys()) {
        if (!o.priorities.some((x) => x.priority === p)) o.priorities.push({ priority: p, share: o.t.slice(0, n).map(() => 0) });
      }
      o.localities.sort((a, b) => a.locality.localeCompare(b.locality));
      o.priorities.sort((a, b) => a.priority - b.priority);
      for (const l of o.localities) {
        const share = ok ? round(loc.get(l.locality) ?? 0) : null;
        const c = counts.get(l.locality) ?? { healthy: 0, unhealthy: 0 };
        l.share.push(share);
        l.healthy.push(c.healthy);
        l.unhealthy.push(c.unhealthy);
      }
      for (const p of o.priorities) {
        const share = ok ? round(pri.get(p.priority) ?? 0) : null;
        p.share.push(share);
      }
    }
    if (this.tracks.length) this.onSampled?.(this.tracks.map((t) => t.out));
  }

  /** The report's traffic series (undefined when no expectation names a proxy). */
  series(): TrafficSeries[] | undefined {
    return this.tracks.length ? this.tracks.map((t) => t.out) : undefined;
  }
}
