// Connects the xDS server's connection hooks to the workload-entry controller.
import type { ConnectionHooks, ConnectionInfo } from '../xds/hooks.js';
import type { ConnectedProxy, ProxyLifecycle } from './connected-proxy.js';

export function connectedProxy(conn: ConnectionInfo): ConnectedProxy {
  const n = conn.node;
  const str = (k: string) => {
    const v = n.metadata[k];
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  return {
    connectionId: conn.id,
    nodeId: n.id,
    namespace: n.namespace,
    group: str('AUTO_REGISTER_GROUP'),
    workloadEntry: str('WORKLOAD_ENTRY'),
    network: n.network,
    ip: n.ip || undefined,
    labels: n.labels,
    locality: n.locality,
  };
}

/** Hooks that feed connects, disconnects and health reports to `lifecycle`. */
export function registrationHooks(lifecycle: ProxyLifecycle): ConnectionHooks {
  // The same ConnectedProxy object for a connection's whole life.
  const proxies = new WeakMap<ConnectionInfo, ConnectedProxy>();
  const of = (c: ConnectionInfo) => {
    let p = proxies.get(c);
    if (!p) proxies.set(c, (p = connectedProxy(c)));
    return p;
  };
  return {
    onConnect: (c) => lifecycle.onConnect(of(c)),
    onDisconnect: (c) => lifecycle.onDisconnect(of(c)),
    onHealthReport: (c, r) => lifecycle.onHealth(of(c), r),
  };
}
