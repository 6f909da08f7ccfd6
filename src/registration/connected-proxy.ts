// What the xDS server tells the registration and health controllers about a connection.
import type { Locality } from '../model/locality.js';
import type { VerifiedIdentity } from '../security/token-authenticator.js';
import type { RegistrationRefusal } from './validation.js';

export interface ConnectedProxy {
  /** Unique per stream; several streams may share one identity. */
  readonly connectionId: string;
  readonly nodeId: string;
  /** Node metadata NAMESPACE. */
  readonly namespace: string;
  /** Node metadata AUTO_REGISTER_GROUP. */
  readonly group?: string;
  /** Node metadata WORKLOAD_ENTRY: an existing entry that only wants health checks. */
  readonly workloadEntry?: string;
  /** Node metadata NETWORK. */
  readonly network: string;
  /** First of node metadata INSTANCE_IPS. */
  readonly ip?: string;
  /** Node metadata LABELS. */
  readonly labels: Readonly<Record<string, string>>;
  /** node.locality. */
  readonly locality: Locality;
  /**
   * The node metadata as sent (JSON of the Struct), when known: the fields above are already
   * coerced (wrong types dropped), so validation looks here for types and every INSTANCE_IPS entry.
   */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** The identity the stream's credentials proved (a verified bearer token), if any: istiod's proxy.VerifiedIdentity. */
  readonly identity?: VerifiedIdentity;
}

export interface HealthReport {
  readonly healthy: boolean;
  readonly message?: string;
}

/** The hook the xDS server calls on stream lifecycle and health reports (SPEC §6, §7). */
export interface ProxyLifecycle {
  /** A refusal: the proxy asked for auto-registration with invalid metadata; refuse its stream. */
  onConnect(proxy: ConnectedProxy): RegistrationRefusal | undefined;
  onDisconnect(proxy: ConnectedProxy): void;
  onHealth(proxy: ConnectedProxy, report: HealthReport): void;
}
