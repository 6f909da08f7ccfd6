// A one-shot SotW ADS client for comparisons: opens a stream as a given node, subscribes to one
// or more types in order, ACKs what arrives, and returns every resource it received as decoded
// upstream-proto JSON, keyed by resource name. Bounded: each wait has a deadline.
import * as grpc from '@grpc/grpc-js';
import type { DiscoveryRequest, DiscoveryResponse, Node } from '../../../src/proto/messages.js';
import { clientDefinitions } from '../../../src/xds/service-definitions.js';
import { decodeResource, type Json } from './official-json.js';

export const TYPE = {
  cds: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  eds: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  lds: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  rds: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
} as const;
export type TypeKey = keyof typeof TYPE;

/** What one subscription asks for: named resources, or `[]` for a wildcard (first response wins). */
export interface Subscription {
  type: TypeKey;
  names: readonly string[];
}

export type Fetched = Record<TypeKey, Map<string, Json>>;

const defs = clientDefinitions();
const AdsClient = grpc.makeGenericClientConstructor(defs.ads, 'AggregatedDiscoveryService');

function nameOf(type: TypeKey, r: Json): string {
  const o = (r ?? {}) as Record<string, Json>;
  return String(type === 'eds' ? (o['cluster_name'] ?? '') : (o['name'] ?? ''));
}

/**
 * Subscribes `node` to each subscription in turn on one ADS stream to `target` and collects
 * responses until every named resource arrived (or, for a wildcard, one response did), or
 * `timeoutMs` passed for that subscription. Missing names are simply absent from the result.
 */
export async function fetchXds(target: string, node: Node, subs: readonly Subscription[], timeoutMs = 5000, metadata?: grpc.Metadata): Promise<Fetched> {
  const out: Fetched = { cds: new Map(), eds: new Map(), lds: new Map(), rds: new Map() };
  const client = new AdsClient(target, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  const call = (client as unknown as { StreamAggregatedResources(md?: grpc.Metadata): grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse> })
    .StreamAggregatedResources(metadata ?? new grpc.Metadata());
  let wake: (() => void) | undefined;
  const received: DiscoveryResponse[] = [];
  let failed: Error | undefined;
  call.on('data', (r: DiscoveryResponse) => {
    received.push(r);
    wake?.();
  });
  call.on('error', (e: Error) => {
    failed = e;
    wake?.();
  });
  const waitAny = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  let first = true;
  const subscribed = new Map<string, readonly string[]>();
  try {
    for (const sub of subs) {
      const typeUrl = TYPE[sub.type];
      subscribed.set(typeUrl, sub.names);
      call.write({ ...(first ? { node } : {}), type_url: typeUrl, resource_names: [...sub.names] });
      first = false;
      const want = new Set(sub.names);
      const deadline = Date.now() + timeoutMs;
      let gotOne = false;
      while (Date.now() < deadline && !failed) {
        const r = received.shift();
        if (!r) {
          await waitAny(deadline - Date.now());
          continue;
        }
        const t = r.type_url ?? '';
        const key = (Object.keys(TYPE) as TypeKey[]).find((k) => TYPE[k] === t);
        const names: string[] = [];
        if (key) {
          for (const any of r.resources ?? []) {
            const decoded = decodeResource(any.type_url ?? t, any.value ?? new Uint8Array());
            const name = nameOf(key, decoded);
            out[key].set(name, decoded);
            names.push(name);
          }
        }
        // ACK with the names this type is subscribed to (the request's, or those received for a wildcard).
        call.write({ type_url: t, version_info: r.version_info ?? '', response_nonce: r.nonce ?? '', resource_names: [...(subscribed.get(t) ?? [])] });
        if (t === typeUrl) {
          gotOne = true;
          if (sub.names.length === 0) break;
          for (const n of names) want.delete(n);
          if (want.size === 0) break;
        }
      }
      if (sub.names.length === 0 && !gotOne && failed) break;
    }
  } finally {
    call.cancel();
    client.close();
  }
  if (failed && (failed as grpc.ServiceError).code !== grpc.status.CANCELLED) throw failed;
  return out;
}

/** A stream left open: it ACKs every push and keeps the latest version of each resource. */
export interface Watch {
  readonly latest: Map<string, Json>;
  /** Responses received so far. */
  readonly pushes: number;
  close(): void;
}

/** Subscribes `node` to EDS `names` on `target` and follows pushes until closed. */
export function watchEds(target: string, node: Node, names: readonly string[], metadata?: grpc.Metadata): Watch {
  const client = new AdsClient(target, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  const call = (client as unknown as { StreamAggregatedResources(md?: grpc.Metadata): grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse> })
    .StreamAggregatedResources(metadata ?? new grpc.Metadata());
  const latest = new Map<string, Json>();
  let pushes = 0;
  call.on('data', (r: DiscoveryResponse) => {
    pushes++;
    const t = r.type_url ?? '';
    if (t === TYPE.eds) {
      for (const any of r.resources ?? []) {
        const d = decodeResource(any.type_url ?? t, any.value ?? new Uint8Array());
        latest.set(nameOf('eds', d), d);
      }
    }
    call.write({ type_url: t, version_info: r.version_info ?? '', response_nonce: r.nonce ?? '', resource_names: t === TYPE.eds ? [...names] : [] });
  });
  call.on('error', () => {});
  call.write({ node, type_url: TYPE.eds, resource_names: [...names] });
  return {
    latest,
    get pushes() {
      return pushes;
    },
    close() {
      call.cancel();
      client.close();
    },
  };
}
