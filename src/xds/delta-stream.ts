// Incremental (delta) xDS on one stream (ADS DeltaAggregatedResources or EDS DeltaEndpoints),
// per SPEC §8: subscribe/unsubscribe (honoured even with a stale nonce), initial_resource_versions,
// per-resource versions, and removed_resources for names that went away or never existed.
import type { DeltaDiscoveryRequest } from '../proto/messages.js';
import { XdsConnection, type TypeStatus } from './connection.js';
import type { SharedResponse } from './response-cache.js';
import { isFullStateType, TYPE_URL_OF, type XdsType } from './types.js';
import { encodeDeltaResponse, type EncodedResource } from './wire.js';

class DeltaWatch {
  names = new Set<string>();
  wildcard = false;
  /** name -> version the client has (from initial_resource_versions or what we sent). */
  known = new Map<string, string>();
  /** Explicit names reported in removed_resources and not existing since: not reported again. */
  absentReported = new Set<string>();
  sentTypeVersion = -1;
  force = false;
  nonce = '';
  systemVersion = '';
  ackedNonce = '';
  ackedVersion = '';
  nack: { nonce: string; message: string; at: string; count: number } | undefined;
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
    if (nonce !== '') {
      if (nonce !== w.nonce) this.countStaleNonce(t);
      else if (req.error_detail && w.nack?.nonce === nonce) {
        w.nack.count++;
        this.reject('duplicate_nack', { type: t }, 'repeated NACK of one response ignored');
      } else if (req.error_detail) {
        w.nack = { nonce, message: req.error_detail.message ?? '', at: new Date().toISOString(), count: 1 };
        this.countNack(t, req.error_detail);
        this.settle(t, nonce, 'nack');
      } else {
        w.ackedNonce = nonce;
        w.ackedVersion = w.systemVersion;
        w.nack = undefined;
        this.settle(t, nonce, 'ack');
      }
    }
    if (respond) {
      this.markDirty(t);
      this.flush();
    }
  }

  protected affectedBy(t: XdsType, names: ReadonlySet<string>): boolean {
    const w = this.watches.get(t);
    if (!w) return false;
    if (w.wildcard) return true;
    if (w.names.size <= names.size) {
      for (const n of w.names) if (names.has(n)) return true;
    } else {
      for (const n of names) if (w.names.has(n)) return true;
    }
    return false;
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
    const scope = w.wildcard ? new Set([...cache.names(t), ...w.names]) : w.names;
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
    w.systemVersion = systemVersion;
    return out;
  }

  typeStatuses(): TypeStatus[] {
    const out: TypeStatus[] = [];
    for (const [t, w] of this.watches) {
      const state = w.nonce === '' ? 'NOT_SENT' : w.nack?.nonce === w.nonce ? 'NACKED' : w.ackedNonce === w.nonce ? 'SYNCED' : 'STALE';
      out.push({
        type: t,
        typeUrl: TYPE_URL_OF[t],
        wildcard: w.wildcard,
        names: [...w.names].sort(),
        sentVersion: w.systemVersion,
        sentNonce: w.nonce,
        ackedVersion: w.ackedVersion,
        ackedNonce: w.ackedNonce,
        resourcesSent: w.known.size,
        ...(w.nack ? { nack: w.nack } : {}),
        state,
      });
    }
    return out;
  }
}
