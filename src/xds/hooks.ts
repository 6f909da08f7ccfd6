// The seam for the next layer (health reporting and VM auto-registration, SPEC §6-7): the stream
// calls these and knows nothing else about them.
import type { VerifiedIdentity } from '../security/token-authenticator.js';
import type { ProxyNode } from './node.js';

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

export interface ConnectionHooks {
  /** After the first request of a stream (the node is known). */
  onConnect?(conn: ConnectionInfo): void;
  /** When a stream that called onConnect ends, for whatever reason. */
  onDisconnect?(conn: ConnectionInfo): void;
  /** A DiscoveryRequest / DeltaDiscoveryRequest with type URL istio.v1.HealthInformation. */
  onHealthReport?(conn: ConnectionInfo, report: HealthReport): void;
}
