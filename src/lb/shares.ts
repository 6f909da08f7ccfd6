import type { NormalizedCla } from './cla.js';

export type Client = 'envoy' | 'grpc';

export interface EndpointShare {
  /** ip:port */
  address: string;
  /** region/zone/subzone, empty parts kept ("r//"). */
  locality: string;
  priority: number;
  share: number;
}

export interface LocalityShare {
  locality: string;
  priority: number;
  share: number;
}

export interface PriorityShare {
  priority: number;
  share: number;
  /** Envoy only: the priority's health in integer percent, overprovisioning applied. */
  health?: number;
  /** Envoy only: whether the priority is in panic mode. */
  panic?: boolean;
}

/**
 * Expected fraction of requests per endpoint, locality and priority. Shares sum to 1, or are
 * all 0 (with a note) when the client has nowhere to send traffic.
 */
export interface Shares {
  client: Client;
  clusterName: string;
  /** Ordered by priority, then locality, then CLA order. */
  endpoints: EndpointShare[];
  localities: LocalityShare[];
  priorities: PriorityShare[];
  notes: string[];
}

/**
 * Assembles the output from per-endpoint shares (keyed by Endpoint.index), so both client models
 * only decide fractions and the roll-ups and ordering stay identical.
 */
export function assembleShares(
  client: Client,
  cla: NormalizedCla,
  endpointShare: ReadonlyMap<number, number>,
  priorityInfo: ReadonlyMap<number, Omit<PriorityShare, 'priority' | 'share'>>,
  notes: string[],
): Shares {
  const endpoints: EndpointShare[] = [];
  const localities: LocalityShare[] = [];
  const perPriority = new Map<number, number>();
  for (const g of cla.groups) {
    let sum = 0;
    for (const e of g.endpoints) {
      const share = endpointShare.get(e.index) ?? 0;
      sum += share;
      endpoints.push({ address: e.address, locality: e.locality, priority: e.priority, share });
    }
    localities.push({ locality: g.locality, priority: g.priority, share: sum });
    perPriority.set(g.priority, (perPriority.get(g.priority) ?? 0) + sum);
  }
  const priorities: PriorityShare[] = cla.priorities.map((p) => ({
    priority: p,
    share: perPriority.get(p) ?? 0,
    ...priorityInfo.get(p),
  }));
  return { client, clusterName: cla.clusterName, endpoints, localities, priorities, notes };
}

/** Splits `total` over items in proportion to their weights (nothing if all weights are 0). */
export function spread<T>(items: readonly T[], weightOf: (t: T) => number, total: number, out: (t: T, share: number) => void): void {
  const sum = items.reduce((s, t) => s + weightOf(t), 0);
  if (sum <= 0) return;
  for (const t of items) out(t, (total * weightOf(t)) / sum);
}
