// The /debug views, as plain JSON in the spirit of istiod's: connected proxies, sync state per
// type, a proxy's endpoints for a cluster, and the stored config.
import type { ConfigStore } from '../config/store.js';
import { RESOURCE_KINDS, type ResourceKind } from '../config/resources.js';
import { proxyView } from '../eds/proxy.js';
import { localityLabel } from '../model/locality.js';
import { toCanonicalJson } from '../proto/index.js';
import type { XdsConnection } from '../xds/stream/connection.js';
import type { XdsServer } from '../xds/server.js';

export function adsz(server: XdsServer): unknown {
  const clients = [...server.connections].map((c) => ({
    connectionId: c.id,
    proxyId: c.node.id,
    peer: c.peer,
    kind: c.kind,
    service: c.service,
    connectedAt: c.connectedAt.toISOString(),
    namespace: c.node.namespace,
    locality: localityLabel(c.node.locality),
    network: c.node.network,
    labels: c.node.labels,
    userAgent: c.node.userAgent,
    requests: c.requests,
    responses: c.responses,
    blocked: c.isBlocked,
    watches: c.typeStatuses().map((s) => ({
      type: s.type,
      typeUrl: s.typeUrl,
      subscriptions: s.wildcard ? ['*', ...s.names] : s.names,
      ackedVersion: s.ackedVersion,
      ackedNonce: s.ackedNonce,
      sentVersion: s.sentVersion,
      sentNonce: s.sentNonce,
    })),
  }));
  return { totalClients: clients.length, clients };
}

export function syncz(server: XdsServer): unknown {
  const out: unknown[] = [];
  for (const c of server.connections) {
    for (const s of c.typeStatuses()) {
      out.push({ proxy: c.node.id, connectionId: c.id, ...s });
    }
  }
  return {
    streams: out,
    pushes: { open: server.engine.openPushes(), recent: server.engine.recentPushes() },
    responseCache: { hits: server.responses.hits, misses: server.responses.misses },
  };
}

/** Without a proxy: the view of a proxy with no locality, network or labels. */
const defaultView = proxyView();

export function edsz(server: XdsServer, proxyId: string | null, cluster: string | null): { status: number; body: unknown } {
  const cache = server.cache;
  let conn: XdsConnection | undefined;
  if (proxyId) {
    for (const c of server.connections) if (c.node.id === proxyId || c.id === proxyId) conn = c;
    if (!conn) return { status: 404, body: `proxy ${proxyId} is not connected\n` };
  }
  const names = cluster ? [cluster] : cache.names('eds');
  const out: unknown[] = [];
  for (const n of names) {
    const r = conn ? cache.get('eds', n, conn.node) : cache.eds.view(n, defaultView);
    if (!r) {
      if (cluster) return { status: 404, body: `no cluster ${cluster}\n` };
      continue;
    }
    out.push(toCanonicalJson('ClusterLoadAssignment', r.bytes));
  }
  return { status: 200, body: cluster ? out[0] : out };
}

export function configz(store: ConfigStore, kind: string | null, namespace: string | null): { status: number; body: unknown } {
  let kinds: readonly ResourceKind[] = RESOURCE_KINDS;
  if (kind) {
    const k = RESOURCE_KINDS.find((x) => x.toLowerCase() === kind.toLowerCase());
    if (!k) return { status: 400, body: `unknown kind ${kind}; known: ${RESOURCE_KINDS.join(', ')}\n` };
    kinds = [k];
  }
  const out = [];
  for (const k of kinds) out.push(...store.listStamped(k, namespace ?? undefined));
  return { status: 200, body: out };
}
