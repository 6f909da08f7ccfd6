// The seam for the next layer (health reporting and VM auto-registration, SPEC §6-7): the stream
// calls these and knows nothing else about them.
import type * as grpc from '@grpc/grpc-js';
import type { VerifiedIdentity } from '../security/token-authenticator.js';
import type { RejectReason } from './metrics/xds-metrics.js';
import type { ProxyNode } from './stream/node.js';

export interface ConnectionInfo {
  /** `<node id>-<n>`, unique per stream. */
  readonly id: string;
  readonly node: ProxyNode;
  readonly peer: string;
  readonly connectedAt: Date;
  /** The service account a verified bearer token named, when token auth is on. */
  readonly identity?: VerifiedIdentity;
}

export interface HealthReport {
  readonly healthy: boolean;
  /** error_detail.message when unhealthy. */
  readonly message?: string;
}

/**
 * A hook's refusal of a stream: the stream ends with `code` and `message` before any response,
 * counted in `xdsim_xds_rejected_requests_total{reason}` and logged (`log`, `fields`) through the
 * log limiter under `reason`.
 */
export interface StreamRefusal {
  readonly code: grpc.status;
  readonly message: string;
  readonly reason: RejectReason;
  /** The log line's message. */
  readonly log: string;
  readonly fields?: Record<string, unknown>;
}

export interface ConnectionHooks {
  /**
   * After the first request of a stream (the node is known). Returning a refusal ends the stream;
   * onDisconnect still follows, as for any stream that called onConnect.
   */
  onConnect?(conn: ConnectionInfo): StreamRefusal | void;
  /** When a stream that called onConnect ends, for whatever reason. */
  onDisconnect?(conn: ConnectionInfo): void;
  /** A DiscoveryRequest / DeltaDiscoveryRequest with type URL istio.v1.HealthInformation. */
  onHealthReport?(conn: ConnectionInfo, report: HealthReport): void;
}
