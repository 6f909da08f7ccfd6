// State-of-the-world xDS on one stream (ADS StreamAggregatedResources or EDS StreamEndpoints),
// per SPEC §8: versions per type, nonce per response, ACK/NACK by error_detail, stale nonces
// ignored, wildcard for CDS/LDS, unknown names remembered and sent once they exist, and
// unchanged resources never resent (what was sent is tracked per resource).
import type { DiscoveryRequest } from '../../proto/messages.js';
import { XdsConnection, type TypeStatus } from './connection.js';
import { TypeWatch } from './type-watch.js';
import type { SharedResponse } from '../cache/response-cache.js';
import { isFullStateType, TYPE_INDEX, TYPE_URL_OF, type XdsType } from '../types.js';
import { encodeSotwResponse, type EncodedResource } from './wire.js';

class SotwWatch extends TypeWatch {
  requested = false;
  /** name -> version of what the stream was last sent (ACKed or not: a NACKed version is not resent). */
  sent = new Map<string, string>();
}

/**
 * The resources of the response being built. buildResponse runs once per stream per push and
 * nothing keeps the list past it (responses are encoded or found before it returns), so one
 * array serves every stream instead of a new one each time.
 */
const scratch: EncodedResource[] = [];

export class SotwStream extends XdsConnection {
  /** In the order the types were first asked for (typeStatuses), */
  private readonly watches = new Map<XdsType, SotwWatch>();
  /** and by TYPE_INDEX, for the per-push and per-ACK lookups. */
  private readonly byIndex: (SotwWatch | undefined)[] = [undefined, undefined, undefined, undefined];

  protected typeUrlOfRequest(req: unknown): string {
    return (req as DiscoveryRequest).type_url ?? '';
  }

  protected handle(raw: unknown, t: XdsType): void {
    const req = raw as DiscoveryRequest;
    let w = this.byIndex[TYPE_INDEX[t]];
    if (!w) {
      w = new SotwWatch();
      this.watches.set(t, w);
      this.byIndex[TYPE_INDEX[t]] = w;
    }
    const nonce = req.response_nonce ?? '';
    if (nonce !== '' && w.nonce !== '' && nonce !== w.nonce) {
      // Answers a response the client has since been superseded by: ignore it entirely.
      this.countStaleNonce(t);
      return;
    }
    // The same response rejected again is not a new request either (NACK storms end up here).
    if (nonce !== '' && nonce === w.nonce && this.takeReply(t, w, nonce, req.error_detail, req.version_info ?? '') === 'duplicate_nack') return;
    const changed = this.updateNames(t, w, req.resource_names ?? []);
    if (nonce === '' || w.nonce === '') {
      // First request for the type on this stream (or a client starting over): send everything.
      w.sent.clear();
      w.sentTypeVersion = -1;
      w.force = isFullStateType(t);
      this.markDirty(t);
    } else if (changed) {
      w.force = isFullStateType(t);
      this.markDirty(t);
    }
    this.flush();
  }

  private updateNames(t: XdsType, w: SotwWatch, names: readonly string[]): boolean {
    // Fast path for the common ACK: same names as before (checked without allocating).
    if (w.requested && !w.wildcard && names.length === w.names.size) {
      let same = true;
      for (const n of names) {
        if (n === '*' || !w.names.has(n)) {
          same = false;
          break;
        }
      }
      if (same) return false;
    }
    if (w.requested && w.wildcard && w.names.size === 0 && names.length === 0) return false;
    const explicit = names.filter((n) => n !== '*');
    // Wildcard: `*`, or (legacy) no names on the first request and on every one after it.
    const wildcard = isFullStateType(t) && (names.includes('*') || (names.length === 0 && (!w.requested || w.wildcard)));
    w.requested = true;
    let changed = wildcard !== w.wildcard || explicit.length !== w.names.size;
    if (!changed) for (const n of explicit) if (!w.names.has(n)) changed = true;
    if (!changed) return false;
    const next = new Set(explicit);
    // Forget what an unsubscribed name was sent, so a later re-subscription sends it again.
    for (const n of w.names) if (!next.has(n)) w.sent.delete(n);
    w.names = next;
    w.wildcard = wildcard;
    w.sentTypeVersion = -1;
    return true;
  }

  protected affectedBy(t: XdsType, names: ReadonlySet<string>): boolean {
    const w = this.byIndex[TYPE_INDEX[t]];
    if (!w) return false;
    return isFullStateType(t) || w.subscribesAny(names);
  }

  protected buildResponse(t: XdsType): SharedResponse | undefined {
    const w = this.byIndex[TYPE_INDEX[t]];
    if (!w) return undefined;
    try {
      return this.build(t, w, scratch);
    } finally {
      // Drop the references: the array outlives the push.
      scratch.length = 0;
    }
  }

  private build(t: XdsType, w: SotwWatch, resources: EncodedResource[]): SharedResponse | undefined {
    const cache = this.ctx.cache;
    const typeVersion = cache.version(t);
    if (isFullStateType(t)) {
      const pure = w.wildcard && w.names.size === 0;
      if (pure && !w.force && w.sentTypeVersion === typeVersion) return undefined;
      let changed = w.force;
      const names = w.wildcard ? new Set([...cache.names(t, this.node), ...w.names]) : w.names;
      for (const n of names) {
        const r = cache.get(t, n, this.node);
        if (!r) continue;
        resources.push(r);
        if (w.sent.get(n) !== r.version) changed = true;
      }
      if (resources.length !== w.sent.size) changed = true;
      w.force = false;
      w.sentTypeVersion = pure ? typeVersion : -1;
      if (!changed) return undefined;
      w.sent = new Map(resources.map((r) => [r.name, r.version]));
      // Proxyless nodes get another flavour of the same names: their full set is shared apart.
      return this.respond(t, w, resources, pure ? `W\u0000${this.node.proxyless ? 'grpc' : ''}\u0000${typeVersion}` : undefined);
    }
    for (const n of w.names) {
      const r = cache.get(t, n, this.node);
      if (!r) {
        w.sent.delete(n);
        continue;
      }
      if (w.sent.get(n) !== r.version) resources.push(r);
    }
    if (resources.length === 0) return undefined;
    for (const r of resources) w.sent.set(r.name, r.version);
    return this.respond(t, w, resources, undefined);
  }

  private respond(t: XdsType, w: SotwWatch, resources: EncodedResource[], shareKey: string | undefined): SharedResponse {
    const versionInfo = this.ctx.cache.versionInfo(t);
    let out: SharedResponse;
    const solo = !shareKey && resources.length === 1 ? resources[0]! : undefined;
    if (solo?.soloSotw?.versionInfo === versionInfo) {
      out = solo.soloSotw.response;
      this.ctx.responses.hits++;
    } else {
      let key = `S\u0000${t}\u0000${versionInfo}\u0000`;
      if (shareKey) key += shareKey;
      else for (const r of resources) key += `${r.name}\u0000${r.version}\u0000`;
      out = this.ctx.responses.get(key, (nonce) => encodeSotwResponse(TYPE_URL_OF[t], versionInfo, resources, nonce));
      if (solo) solo.soloSotw = { versionInfo, response: out };
    }
    w.nonce = out.nonce;
    w.sentVersion = versionInfo;
    return out;
  }

  typeStatuses(): TypeStatus[] {
    return [...this.watches].map(([t, w]) => w.status(t, w.sent.size));
  }
}
