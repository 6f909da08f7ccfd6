// Connects the xDS server's connection hooks to the workload-entry controller.
import * as grpc from '@grpc/grpc-js';
import type { ConnectionHooks, ConnectionInfo, StreamRefusal } from '../xds/hooks.js';
import type { RejectReason } from '../xds/metrics/xds-metrics.js';
import type { ConnectedProxy, ProxyLifecycle } from './connected-proxy.js';
import { isIdentityRefusal, REFUSAL_LOG_MESSAGE, type RegistrationRefusal } from './validation.js';

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
    metadata: n.metadata,
    ...(conn.identity ? { identity: conn.identity } : {}),
  };
}

/**
 * A stream whose node asks for auto-registration with invalid metadata ends with
 * INVALID_ARGUMENT and the rule that failed, as istiod answers node metadata it cannot accept
 * (`invalid auto-registration metadata: INSTANCE_IPS[0] "x" is not an IPv4 or IPv6 address`).
 */
export const REFUSAL_STATUS = grpc.status.INVALID_ARGUMENT;
export const REFUSAL_REASON: RejectReason = 'invalid_node_metadata';
export const REFUSAL_PREFIX = 'invalid auto-registration metadata: ';

export function streamRefusal(refusal: RegistrationRefusal): StreamRefusal {
  if (refusal.kind === 'group_missing') {
    // istiod ends the stream; the agent reconnects with backoff and registers once the group exists.
    return { code: grpc.status.FAILED_PRECONDITION, message: refusal.message, reason: REFUSAL_REASON, log: REFUSAL_LOG_MESSAGE[refusal.kind], fields: { rule: refusal.kind, detail: refusal.message } };
  }
  if (isIdentityRefusal(refusal)) {
    // istiod's OnConnect returns ensureProxyCanControlEntry's plain error, which ends the stream:
    // grpc-go sends a plain error as UNKNOWN with its text as the message.
    return {
      code: grpc.status.UNKNOWN,
      message: refusal.message,
      reason: refusal.kind === 'identity_missing' ? 'unauthenticated' : 'identity_mismatch',
      log: REFUSAL_LOG_MESSAGE[refusal.kind],
      fields: { rule: refusal.kind, detail: refusal.message },
    };
  }
  return {
    code: REFUSAL_STATUS,
    message: REFUSAL_PREFIX + refusal.message,
    reason: REFUSAL_REASON,
    log: REFUSAL_LOG_MESSAGE[refusal.kind],
    fields: { rule: refusal.kind, detail: refusal.message },
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
    onConnect: (c) => {
      const refusal = lifecycle.onConnect(of(c));
      return refusal && streamRefusal(refusal);
    },
    onDisconnect: (c) => lifecycle.onDisconnect(of(c)),
    onHealthReport: (c, r) => lifecycle.onHealth(of(c), r),
  };
}
