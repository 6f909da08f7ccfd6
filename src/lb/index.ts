import Table from 'cli-table3';
import { canonicalAddress, normalizeCla, type ClaJson } from './cla.js';
import { envoyShares } from './envoy.js';
import { grpcShares } from './grpc.js';
import type { Client, Shares } from './shares.js';

export type { ClaJson, HealthStatus, LocalityJson, LbEndpointJson, LocalityLbEndpointsJson } from './cla.js';
export type { Client, EndpointShare, LocalityShare, PriorityShare, Shares } from './shares.js';
export { DEFAULT_MAX_EJECTION_PERCENT, DEFAULT_OVERPROVISIONING_FACTOR, DEFAULT_PANIC_THRESHOLD } from './envoy.js';
export { clusterLbOptions } from './cluster-options.js';

export interface ComputeSharesOptions {
  client: Client;
  /** Endpoints the client sees as failing, as "ip:port" ("[v6]:port" or bare "v6:port"). */
  unhealthy?: Iterable<string>;
  /** Envoy only: percent (140 = 1.4), overriding the CLA's policy.overprovisioningFactor. */
  overprovisioningFactor?: number;
  /**
   * Envoy only: percent, Envoy's default 50; 0 disables panic. istiod sends 0 on every sidecar
   * cluster unless outlier detection's minHealthPercent says otherwise (see clusterLbOptions).
   */
  panicThreshold?: number;
  /**
   * Envoy only: whether locality_weighted_lb_config is on for the cluster (default true). Istio
   * turns it on only with a localityLbSetting that has distribute or failover.
   */
  localityWeighted?: boolean;
  /** Envoy only: the cluster's outlier ejection cap, or false for none (notes on `unhealthy`). */
  outlierDetection?: { maxEjectionPercent: number } | false;
  /** Envoy only: the cluster's lb_policy, Envoy's enum name (default ROUND_ROBIN); see EnvoyOptions.lbPolicy. */
  lbPolicy?: string;
}

export function computeShares(cla: ClaJson, opts: ComputeSharesOptions): Shares {
  const norm = normalizeCla(cla);
  const unhealthy = new Set([...(opts.unhealthy ?? [])].map(canonicalAddress));
  if (opts.client === 'grpc') return grpcShares(norm, { unhealthy });
  return envoyShares(norm, {
    unhealthy,
    ...(opts.overprovisioningFactor !== undefined && { overprovisioningFactor: opts.overprovisioningFactor }),
    ...(opts.panicThreshold !== undefined && { panicThreshold: opts.panicThreshold }),
    ...(opts.localityWeighted !== undefined && { localityWeighted: opts.localityWeighted }),
    ...(opts.outlierDetection !== undefined && { outlierDetection: opts.outlierDetection }),
    ...(opts.lbPolicy !== undefined && { lbPolicy: opts.lbPolicy }),
  });
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

/** Plain-text table of endpoint shares, then per-priority totals and the notes. */
export function formatSharesTable(shares: Shares): string {
  const table = new Table({
    head: ['priority', 'locality', 'endpoint', 'share'],
    colAligns: ['right', 'left', 'left', 'right'],
    // No colours: the output goes to logs and test snapshots as often as to a terminal.
    style: { head: [], border: [], compact: true },
  });
  for (const e of shares.endpoints) table.push([e.priority, e.locality, e.address, pct(e.share)]);
  const lines = [`${shares.client} view of ${shares.clusterName}`, table.toString()];
  for (const p of shares.priorities) {
    const extra = [
      p.health !== undefined ? `health ${p.health}%` : '',
      p.panic ? 'PANIC' : '',
    ].filter(Boolean);
    lines.push(`priority ${p.priority}: ${pct(p.share)}${extra.length ? ` (${extra.join(', ')})` : ''}`);
  }
  for (const n of shares.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}
