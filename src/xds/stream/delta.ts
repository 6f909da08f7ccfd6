// Incremental (delta) xDS on one stream (ADS DeltaAggregatedResources or EDS DeltaEndpoints),
// per SPEC §8: subscribe/unsubscribe (honoured even with a stale nonce), initial_resource_versions,
// per-resource versions, and removed_resources for names that went away or never existed.
import type { DeltaDiscoveryRequest } from '../../proto/messages.js';
import { XdsConnection, type TypeStatus } from './connection.js';
import { TypeWatch } from './type-watch.js';
import type { SharedResponse } from '../cache/response-cache.js';
import { isFullStateType, TYPE_URL_OF, type XdsType } from '../types.js';
import { encodeDeltaResponse, type EncodedResource } from './wire.js';

class DeltaWatch extends TypeWatch {
  /** name -> version the client has (from initial_resource_versions or what we sent). */
  known = new Map<string, string>();
  /** Explicit names reported in removed_resources and not existing since: not reported again. */
  absentReported = new Set<string>();
}

export class DeltaStream extends XdsConnection {
  private readonly watches = new Map<XdsType, DeltaWatch>();

  protected typeUrlOfRequest(req: unknown): string {
    return (req as DeltaDiscoveryRequest).type_url ?? '';
  }

  protected handle(raw: unknown, t: XdsType): void {
    const req = raw as DeltaDiscoveryRequest;
    let w = this.watches.get(t);
    const first = !w;
    if (!w) {
      this.watches.set(t, (w = new DeltaWatch()));
      for (const [name, version] of Object.entries(req.initial_resource_versions ?? {})) w.known.set(name, version);
    }
    const subscribe = req.resource_names_subscribe ?? [];
    const unsubscribe = req.resource_names_unsubscribe ?? [];
    let respond = first;
    if (first && isFullStateType(t) && subscribe.length === 0) w.wildcard = true;
    for (const n of subscribe) {
      if (n === '*') {
        if (isFullStateType(t) && !w.wildcard) {
          w.wildcard = true;
          respond = true;
        }
      } else if (!w.names.has(n)) {
        w.names.add(n);
        respond = true;
      }
    }
    for (const n of unsubscribe) {
      if (n === '*') {
        w.wildcard = false;
        for (const k of w.known.keys()) if (!w.names.has(k)) w.known.delete(k);
      } else if (w.names.delete(n)) {
        w.absentReported.delete(n);
        if (!w.wildcard) w.known.delete(n);
      }
    }
    if (respond) w.sentTypeVersion = -1;
    if (first && isFullStateType(t)) w.force = true;
    const nonce = req.response_nonce ?? '';
    // Subscription changes above count even with a stale nonce; the reply only with the current one.
    if (nonce !== '') {
      if (nonce !== w.nonce) this.countStaleNonce(t);
      else this.takeReply(t, w, nonce, req.error_detail, w.sentVersion);
    }
    if (respond) {
      this.markDirty(t);
      this.flush();
    }
  }

  protected affectedBy(t: XdsType, names: ReadonlySet<string>): boolean {
    const w = this.watches.get(t);
    if (!w) return false;
    return w.wildcard || w.subscribesAny(names);
  }

  protected buildResponse(t: XdsType): SharedResponse | undefined {
    const w = this.watches.get(t);
    if (!w) return undefined;
    const cache = this.ctx.cache;
    const typeVersion = cache.version(t);
    const pure = w.wildcard && w.names.size === 0;
    if (pure && !w.force && w.sentTypeVersion === typeVersion) return undefined;
    const resources: EncodedResource[] = [];
    const removed: string[] = [];
    const scope = w.wildcard ? new Set([...cache.names(t, this.node), ...w.names]) : w.names;
    for (const n of scope) {
      const r = cache.get(t, n, this.node);
      if (r) {
        if (w.known.get(n) !== r.version) resources.push(r);
      } else if (w.names.has(n) && !w.known.has(n) && !w.absentReported.has(n)) {
        removed.push(n);
        w.absentReported.add(n);
      }
    }
    for (const n of w.known.keys()) {
      const inScope = w.wildcard || w.names.has(n);
      if (!inScope || !cache.get(t, n, this.node)) {
        removed.push(n);
        w.known.delete(n);
        if (w.names.has(n)) w.absentReported.add(n);
      }
    }
    for (const r of resources) {
      w.known.set(r.name, r.version);
      w.absentReported.delete(r.name);
    }
    const force = w.force;
    w.force = false;
    w.sentTypeVersion = pure ? typeVersion : -1;
    if (resources.length === 0 && removed.length === 0 && !force) return undefined;
    const systemVersion = String(typeVersion);
    let key = `D\u0000${t}\u0000${systemVersion}\u0000`;
    for (const r of resources) key += `${r.name}\u0000${r.version}\u0000`;
    key += '\u0001';
    for (const n of removed) key += `${n}\u0000`;
    const out = this.ctx.responses.get(key, (nonce) => encodeDeltaResponse(TYPE_URL_OF[t], systemVersion, resources, removed, nonce));
    w.nonce = out.nonce;
    w.sentVersion = systemVersion;
    return out;
  }

  typeStatuses(): TypeStatus[] {
    return [...this.watches].map(([t, w]) => w.status(t, w.known.size));
  }
}
