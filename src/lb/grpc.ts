/**
 * Proxyless gRPC (grpc-js-xds / grpc-go) over an EDS cluster with lb_policy ROUND_ROBIN:
 * priority -> weighted_target over localities -> round_robin over endpoints. Steady state only:
 * the priority policy's 10 s failover timer and connection attempts are not modelled.
 */
import { isIP } from 'node:net';
import type { Endpoint, LocalityGroup, NormalizedCla } from './cla.js';
import { assembleShares, spread, type Shares } from './shares.js';

export interface GrpcOptions {
  /** Addresses ("ip:port", canonical form) whose connections fail. */
  unhealthy: ReadonlySet<string>;
}

const KEPT = new Set(['UNKNOWN', 'HEALTHY']);

export function grpcShares(cla: NormalizedCla, opts: GrpcOptions): Shares {
  const notes = [...cla.notes];
  notes.push(...rejectionNotes(cla));

  const dropped = new Map<string, number>();
  const seen = new Set<string>();
  for (const g of cla.groups) {
    for (const e of g.endpoints) {
      seen.add(e.address);
      if (!KEPT.has(e.status)) dropped.set(e.status, (dropped.get(e.status) ?? 0) + 1);
    }
  }
  for (const [status, n] of dropped) notes.push(`${n} endpoint(s) marked ${status} dropped (gRPC keeps only UNKNOWN/HEALTHY)`);
  for (const a of opts.unhealthy) if (!seen.has(a)) notes.push(`unhealthy address ${a} is not in the CLA`);

  const reachable = (e: Endpoint): boolean => KEPT.has(e.status) && !opts.unhealthy.has(e.address);
  // gRPC builds no child for a locality without weight, so it never gets traffic.
  const usable = (g: LocalityGroup): boolean => g.weight > 0;
  for (const g of cla.groups) {
    if (!usable(g) && g.endpoints.some((e) => KEPT.has(e.status))) {
      notes.push(`locality ${g.locality} (priority ${g.priority}) has no weight: skipped by gRPC`);
    }
  }

  const endpointShare = new Map<number, number>();
  const put = (e: Endpoint, s: number): void => void endpointShare.set(e.index, s);
  // The priority policy serves from the first child that is READY, i.e. has a weighted locality
  // with a working connection; without overprovisioning it never splits across priorities.
  const chosen = cla.priorities.find((p) =>
    cla.groups.some((g) => g.priority === p && usable(g) && g.endpoints.some(reachable)),
  );
  if (chosen === undefined) {
    notes.push('no reachable endpoint in any weighted locality: RPCs fail (UNAVAILABLE)');
  } else {
    if (chosen !== cla.priorities[0]) {
      notes.push(`failover: priorities ahead of ${chosen} have no reachable endpoint; all traffic goes to priority ${chosen}`);
    }
    // weighted_target only picks among READY children, so a locality with nothing reachable
    // drops out and its weight is shared by the rest.
    const live = cla.groups.filter((g) => g.priority === chosen && usable(g) && g.endpoints.some(reachable));
    let weightsIgnored = false;
    spread(live, (g) => g.weight, 1, (g, gs) => {
      const eps = g.endpoints.filter(reachable);
      if (eps.some((e) => e.weight !== eps[0]?.weight)) weightsIgnored = true;
      // round_robin: equal turns per READY subchannel, endpoint weights unused.
      spread(eps, () => 1, gs, put);
    });
    if (weightsIgnored) {
      notes.push('endpoint weights differ but are ignored: grpc-js round_robin gives each reachable endpoint an equal share');
    }
  }
  return assembleShares('grpc', cla, endpointShare, new Map(), notes);
}

/** Validation failures that make grpc-js NACK the CLA (it then keeps its previous one). */
function rejectionNotes(cla: NormalizedCla): string[] {
  const out: string[] = [];
  const present = new Set(cla.priorities);
  for (const p of cla.priorities) {
    if (p > 0 && !present.has(p - 1)) out.push(`gRPC would reject this CLA: priority ${p} present without priority ${p - 1}`);
  }
  for (const g of cla.groups) {
    if (!g.hasLocality) out.push(`gRPC would reject this CLA: a group in priority ${g.priority} has no locality`);
  }
  const addrs = new Set<string>();
  for (const g of cla.groups) {
    for (const e of g.endpoints) {
      const ip = e.address.startsWith('[') ? e.address.slice(1, e.address.lastIndexOf(']')) : e.address.slice(0, e.address.lastIndexOf(':'));
      if (isIP(ip) === 0) out.push(`gRPC would reject this CLA: ${e.address} is not a literal IP address`);
      if (addrs.has(e.address)) out.push(`gRPC would reject this CLA: ${e.address} is listed twice`);
      addrs.add(e.address);
    }
  }
  return out;
}
