// What the xDS server tells the registration and health controllers about a connection.
import type { Locality } from '../model/locality.js';

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
}

export interface HealthReport {
  readonly healthy: boolean;
  readonly message?: string;
}

/** The hook the xDS server calls on stream lifecycle and health reports (SPEC §6, §7). */
export interface ProxyLifecycle {
  onConnect(proxy: ConnectedProxy): void;
  onDisconnect(proxy: ConnectedProxy): void;
  onHealth(proxy: ConnectedProxy, report: HealthReport): void;
}
