// What SotW and delta streams share: request intake (limits, node, type URLs, health hook), the
// write path (one pending response per type, computed when it can be written; 'drain' instead
// of queues; a stall timeout for clients that never read), push bookkeeping, and shutdown.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { TYPE_URL } from '../../proto/index.js';
import type { RpcStatus } from '../../proto/messages.js';
import type { XdsCache } from '../cache/xds-cache.js';
import type { ConnectionHooks, ConnectionInfo } from '../hooks.js';
import { identityMismatch, type VerifiedIdentity } from '../../security/token-authenticator.js';
import type { LogLimiter } from './log-limiter.js';
import { TokenBucket } from './log-limiter.js';
import type { RejectReason, XdsMetrics } from '../metrics/xds-metrics.js';
import { parseNode, type ProxyNode } from './node.js';
import type { Push } from '../push/push.js';
import type { ResponseCache, SharedResponse } from '../cache/response-cache.js';
import { BadRequest } from '../service-definitions.js';
import type { NackRecord, ReplyOutcome, TypeWatch } from './type-watch.js';
import { PUSH_ORDER, TYPE_INDEX, xdsTypeOf, type XdsType } from '../types.js';

export type StreamKind = 'sotw' | 'delta';
export type ServiceKind = 'ads' | 'eds';

export interface StreamLimits {
  /** Larger requests close the stream with RESOURCE_EXHAUSTED. */
  maxRequestBytes: number;
  /** Sustained requests per second per stream; beyond (after the burst) the stream is closed. */
  requestsPerSecond: number;
  requestBurst: number;
  /** A stream whose writes stay blocked this long is closed. */
  stallTimeoutMs: number;
  /**
   * Resource names one stream may watch per type (and names one request may carry); beyond, the
   * stream is closed with RESOURCE_EXHAUSTED. Delta subscriptions accumulate, so without it a
   * client could grow the server by 4 MiB of names per request.
   */
  maxResourceNames: number;
}

export const DEFAULT_LIMITS: StreamLimits = Object.freeze({
  maxRequestBytes: 4 * 1024 * 1024,
  requestsPerSecond: 100,
  requestBurst: 1000,
  stallTimeoutMs: 60_000,
  maxResourceNames: 100_000,
});

/** What the server answers when a stream's first request would auto-register a workload. */
export type RegistrationAdmission = { waitMs: number } | { refused: string; retryAfterMs: number };

export interface StreamContext {
  readonly cache: XdsCache;
  readonly metrics: XdsMetrics;
  readonly log: Logger;
  readonly limiter: LogLimiter;
  readonly hooks: ConnectionHooks;
  readonly limits: StreamLimits;
  readonly responses: ResponseCache;
  /**
   * Per-source registration throttle (istiod rate-limits auto-registration): called once per
   * stream whose node carries AUTO_REGISTER_GROUP. Absent: no throttle.
   */
  admitRegistration?(conn: XdsConnection): RegistrationAdmission;
  connected(conn: XdsConnection): void;
  disconnected(conn: XdsConnection): void;
  /** The stream is over (whether or not it ever sent a request). */
  released(conn: XdsConnection): void;
}

export interface TypeStatus {
  type: XdsType;
  typeUrl: string;
  wildcard: boolean;
  names: string[];
  sentVersion: string;
  sentNonce: string;
  ackedVersion: string;
  ackedNonce: string;
  resourcesSent: number;
  nack?: NackRecord;
  /** SYNCED: last response ACKed; STALE: sent, not yet answered; NACKED; NOT_SENT. */
  state: 'SYNCED' | 'STALE' | 'NACKED' | 'NOT_SENT';
}

/** Fields common to DiscoveryRequest and DeltaDiscoveryRequest that intake looks at. */
export interface CommonRequest {
  node?: unknown;
  type_url?: string;
  error_detail?: RpcStatus | null;
  resource_names?: string[];
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
}

type Call = grpc.ServerDuplexStream<unknown, Buffer>;

let connectionSeq = 0;


/**
 * Push bookkeeping of one type on one stream. The arrays are reused (swapped and truncated), so
 * a push costs no allocation per stream in the steady state.
 */
class TypeSlot {
  dirty = false;
  /** Pushes that marked the type dirty, not yet answered by a response. */
  waiting: Push[] = [];
  /** Pushes carried by the last response (nonce), until the client answers it. */
  awaiting: Push[] = [];
  awaitingNonce = '';
}

/**
 * Responses a stream may have in grpc-js's buffers at once. Past it, changes only mark the type
 * dirty and the latest state is built when the stream catches up, so a client that does not read
 * costs at most this many responses (grpc-js's own buffer would take 16 before saying no).
 */
const MAX_INFLIGHT_WRITES = 4;

export abstract class XdsConnection implements ConnectionInfo {
  id: string;
  node: ProxyNode = parseNode(undefined);
  /** Set by the server before the first request when token auth is on. */
  identity: VerifiedIdentity | undefined;
  readonly peer: string;
  readonly connectedAt = new Date();
  requests = 0;
  responses = 0;
  protected closed = false;
  private announced = false;
  private blocked = false;
  /** Responses handed to grpc-js whose bytes have not left yet; see MAX_INFLIGHT_WRITES. */
  private inflight = 0;
  private awaitingDrain = false;
  private stallTimer: NodeJS.Timeout | undefined;
  /** Per type, in PUSH_ORDER; created on first use. */
  private readonly slots: (TypeSlot | undefined)[] = [undefined, undefined, undefined, undefined];
  private dirtyCount = 0;
  private readonly writtenCb = () => this.onWritten();
  private readonly bucket: TokenBucket;
  private readonly seq = ++connectionSeq;
  /** Registration throttle: the first request waits here, with the call paused. */
  private holdTimer: NodeJS.Timeout | undefined;
  /** We sent the final status ourselves (a later 'cancelled' is not grpc-js refusing the call). */
  private statusSent = false;
  /** Names a delta stream subscribed since its subscription sizes were last counted, per type. */
  private readonly addedSinceCount: number[] = [0, 0, 0, 0];
  /** This call takes SharedResponse.framed as is (see preframe); false: it frames `bytes` itself. */
  private readonly framedWrites: boolean;

  constructor(
    protected readonly ctx: StreamContext,
    private readonly call: Call,
    readonly kind: StreamKind,
    readonly service: ServiceKind,
  ) {
    this.id = `pending-${this.seq}`;
    this.peer = call.getPeer();
    this.bucket = new TokenBucket(ctx.limits.requestsPerSecond, ctx.limits.requestBurst);
    this.framedWrites = preframe(call);
    call.on('data', (req: unknown) => this.onData(req));
    // Client half-close: finish with OK, as istiod does.
    call.on('end', () => this.closeWithStatus(grpc.status.OK, 'client closed the stream'));
    call.on('cancelled', () => this.cleanup('cancelled'));
    call.on('error', () => this.cleanup('error'));
    call.on('close', () => this.cleanup('closed'));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get isBlocked(): boolean {
    return this.blocked;
  }

  /** Subscribed types with their state, for /debug/adsz and /debug/syncz. */
  abstract typeStatuses(): TypeStatus[];

  /** Handles one decoded request of type `t` (node, limits and type URL already dealt with). */
  protected abstract handle(req: unknown, t: XdsType): void;

  /** Whether a change of `names` of type `t` can change what this stream should get. */
  protected abstract affectedBy(t: XdsType, names: ReadonlySet<string>): boolean;

  /** The response to send now for `t`, updating what the stream is known to have; undefined: nothing to send. */
  protected abstract buildResponse(t: XdsType): SharedResponse | undefined;

  protected abstract typeUrlOfRequest(req: unknown): string;

  private onData(req: unknown): void {
    if (this.closed) return;
    this.requests++;
    if (req instanceof BadRequest) {
      this.reject(req.reason, { detail: req.detail }, `${req.reason} xDS request`);
      this.closeWithStatus(req.reason === 'oversized' ? grpc.status.RESOURCE_EXHAUSTED : grpc.status.INVALID_ARGUMENT, req.detail);
      return;
    }
    if (!this.bucket.take()) {
      this.reject('rate_limited', { requests: this.requests }, 'xDS stream over its request rate; closing it');
      this.closeWithStatus(grpc.status.RESOURCE_EXHAUSTED, 'too many requests on this stream');
      return;
    }
    const r = req as CommonRequest;
    const names = requestNameCount(r);
    if (names > this.ctx.limits.maxResourceNames) {
      this.tooManyNames(names, 'in one request');
      return;
    }
    if (!this.announced) {
      this.node = parseNode(r.node as Parameters<typeof parseNode>[0]);
      this.id = `${this.node.id || 'anonymous'}-${this.seq}`;
      if (this.identity) {
        const sa = this.node.metadata['SERVICE_ACCOUNT'];
        const why = identityMismatch(this.identity, { namespace: this.node.namespace, ...(typeof sa === 'string' && sa ? { serviceAccount: sa } : {}) });
        if (why) {
          this.reject('identity_mismatch', { node: this.node.id }, 'xDS stream refused: token identity does not match the node');
          // istiod's authorize: PERMISSION_DENIED, the reason prefixed as it prefixes it.
          this.closeWithStatus(grpc.status.PERMISSION_DENIED, `authorization failed: ${why}`);
          return;
        }
      }
      if (this.throttleRegistration(req)) return;
      if (!this.announce()) return;
    }
    this.process(req);
  }

  /**
   * Applies the registration throttle to a first request that would auto-register. True when the
   * request was taken over: refused (stream closed with UNAVAILABLE and when to retry), or held
   * with the call paused (HTTP/2 flow control holds whatever the client sends meanwhile).
   */
  private throttleRegistration(req: unknown): boolean {
    const group = this.node.metadata['AUTO_REGISTER_GROUP'];
    if (typeof group !== 'string' || group === '' || !this.ctx.admitRegistration) return false;
    const a = this.ctx.admitRegistration(this);
    if ('refused' in a) {
      this.reject('registration_rate_limited', { node: this.node.id.slice(0, 300) }, 'auto-registration over its per-source rate; refusing the stream');
      // gRPC's standard pushback trailer, for clients that honour it; the message says it too.
      const md = new grpc.Metadata();
      md.set('grpc-retry-pushback-ms', String(Math.ceil(a.retryAfterMs)));
      this.closeWithStatus(grpc.status.UNAVAILABLE, a.refused, md);
      return true;
    }
    if (a.waitMs <= 0) return false;
    this.call.pause();
    this.holdTimer = setTimeout(() => {
      this.holdTimer = undefined;
      if (this.closed || !this.announce()) return;
      this.process(req);
      this.call.resume();
    }, a.waitMs);
    return true;
  }

  /** Tells the hooks the stream is here; false when one refused it (the stream is then closed). */
  private announce(): boolean {
    this.announced = true;
    this.ctx.connected(this);
    let refusal;
    try {
      refusal = this.ctx.hooks.onConnect?.(this);
    } catch (err) {
      this.internalError(err, 'onConnect hook failed');
    }
    if (!refusal) return true;
    this.reject(refusal.reason, { node: this.node.id, ...refusal.fields }, refusal.log);
    this.closeWithStatus(refusal.code, refusal.message);
    return false;
  }

  /** A request of an announced stream: health report, or a discovery request for a known type. */
  private process(req: unknown): void {
    const r = req as CommonRequest;
    let typeUrl = this.typeUrlOfRequest(req);
    if (!typeUrl && this.service === 'eds') typeUrl = TYPE_URL.ENDPOINT;
    if (typeUrl === TYPE_URL.HEALTH_INFO) {
      this.healthReport(r.error_detail);
      return;
    }
    const t = xdsTypeOf(typeUrl);
    if (!t || (this.service === 'eds' && t !== 'eds')) {
      const reason: RejectReason = typeUrl ? 'unknown_type' : 'missing_type_url';
      this.reject(reason, { typeUrl: typeUrl.slice(0, 200) }, typeUrl ? 'xDS request for an unknown type URL ignored' : 'xDS request without type URL ignored');
      return;
    }
    try {
      this.handle(req, t);
    } catch (err) {
      this.internalError(err, 'xDS request handling failed');
      this.closeWithStatus(grpc.status.INTERNAL, 'internal error');
      return;
    }
    if (this.kind === 'delta') this.checkDeltaNames(t, r);
  }

  /**
   * Delta subscriptions add up across requests. Counting a stream's watch (typeStatuses) costs a
   * sort, so it is done only once the names added since the last count could pass the limit:
   * amortised, each added name pays O(log n).
   */
  private checkDeltaNames(t: XdsType, r: CommonRequest): void {
    const i = TYPE_INDEX[t];
    this.addedSinceCount[i]! += (r.resource_names_subscribe?.length ?? 0) + Object.keys(r.initial_resource_versions ?? {}).length;
    if (this.addedSinceCount[i]! <= this.ctx.limits.maxResourceNames) return;
    const st = this.typeStatuses().find((s) => s.type === t);
    const watched = st ? Math.max(st.names.length, st.resourcesSent) : 0;
    this.addedSinceCount[i] = watched;
    if (watched > this.ctx.limits.maxResourceNames) this.tooManyNames(watched, `watched (${t})`);
  }

  private tooManyNames(n: number, where: string): void {
    const max = this.ctx.limits.maxResourceNames;
    this.reject('too_many_names', { names: n, max }, 'xDS stream over its resource-name limit; closing it');
    this.closeWithStatus(grpc.status.RESOURCE_EXHAUSTED, `${n} resource names ${where} exceed the limit of ${max}`);
  }

  /** Bugs must not flood the log either: logged once per kind per interval, counted. */
  private internalError(err: unknown, msg: string): void {
    this.ctx.metrics.rejectedRequests.inc({ reason: 'internal_error' });
    this.ctx.limiter.warn(`internal: ${msg}`, { conn: this.id, err: err instanceof Error ? err.stack : String(err) }, msg);
  }

  private healthReport(detail: RpcStatus | null | undefined): void {
    const hook = this.ctx.hooks.onHealthReport;
    if (!hook) {
      this.reject('health_without_hook', {}, 'health report received; no health handler installed');
      return;
    }
    const healthy = !detail;
    try {
      hook.call(this.ctx.hooks, this, healthy ? { healthy } : { healthy, message: detail?.message ?? '' });
    } catch (err) {
      this.internalError(err, 'onHealthReport hook failed');
    }
  }

  protected reject(reason: RejectReason, fields: Record<string, unknown>, msg: string): void {
    this.ctx.metrics.rejectedRequests.inc({ reason });
    // Node ids, type URLs, details are client input: a 4 MiB one must not become a 4 MiB log line.
    const out: Record<string, unknown> = { conn: clip(this.id), peer: this.peer };
    for (const [k, v] of Object.entries(fields)) out[k] = typeof v === 'string' ? clip(v) : v;
    this.ctx.limiter.warn(reason, out, msg);
  }

  /** A change fanned out by the push engine. */
  onPush(push: Push): void {
    if (this.closed || !this.announced) return;
    // Indexed, not `for (const [t, names] of push.types)`: runs once per stream per push.
    const types = push.typeList;
    const nameSets = push.nameSets;
    for (let i = 0; i < types.length; i++) {
      const t = types[i]!;
      if (!this.affectedBy(t, nameSets[i]!)) continue;
      push.expect(this);
      const slot = this.slot(t);
      slot.waiting.push(push);
      this.setDirty(slot);
    }
    this.flush();
  }

  private slot(t: XdsType): TypeSlot {
    const i = TYPE_INDEX[t];
    return (this.slots[i] ??= new TypeSlot());
  }

  private setDirty(slot: TypeSlot): void {
    if (slot.dirty) return;
    slot.dirty = true;
    this.dirtyCount++;
  }

  /** The request asked for a response of type `t` (new subscription, first request). */
  protected markDirty(t: XdsType): void {
    this.setDirty(this.slot(t));
  }

  /** Writes what is pending, in ADS order, until done or the stream pushes back. */
  protected flush(): void {
    if (this.closed || this.blocked || this.dirtyCount === 0) return;
    for (let i = 0; i < PUSH_ORDER.length; i++) {
      const slot = this.slots[i];
      if (!slot?.dirty) continue;
      const t = PUSH_ORDER[i]!;
      slot.dirty = false;
      this.dirtyCount--;
      const t0 = performance.now();
      const out = this.buildResponse(t);
      const waiting = slot.waiting;
      if (!out) {
        // Nothing new for this stream; an unanswered earlier response still settles these pushes.
        if (slot.awaitingNonce !== '') {
          for (const p of waiting) slot.awaiting.push(p);
          if (slot.awaiting.length > 32) slot.awaiting = slot.awaiting.filter((p) => p.open);
        } else {
          for (const p of waiting) p.satisfy(this, 'none');
        }
        waiting.length = 0;
        continue;
      }
      for (const p of waiting) p.sent(this);
      if (slot.awaiting.length === 0) {
        slot.waiting = slot.awaiting;
        slot.awaiting = waiting;
      } else {
        for (const p of waiting) slot.awaiting.push(p);
        waiting.length = 0;
        // A client that reads but never answers would grow this forever: keep only open pushes
        // (the engine expires old ones).
        if (slot.awaiting.length > 32) slot.awaiting = slot.awaiting.filter((p) => p.open);
      }
      slot.awaitingNonce = out.nonce;
      this.responses++;
      this.inflight++;
      const ok = this.call.write(this.framedWrites ? out.framed : out.bytes, this.writtenCb);
      this.ctx.metrics.pushes.inc(t);
      this.ctx.metrics.pushTime.observe((performance.now() - t0) / 1000, t);
      if (!ok) {
        this.awaitingDrain = true;
        this.call.once('drain', () => {
          this.awaitingDrain = false;
          this.maybeResume();
        });
      }
      if (!ok || this.inflight >= MAX_INFLIGHT_WRITES) {
        this.blocked = true;
        this.stallTimer = setTimeout(() => this.onStall(), this.ctx.limits.stallTimeoutMs);
        this.stallTimer.unref();
        return;
      }
    }
  }

  /**
   * grpc-js ends some calls itself before or instead of handing us a message (length prefix past
   * its receive limit, a compressed message that does not inflate or inflates past the limit, an
   * unsupported grpc-encoding) and tells the handler only 'cancelled'. Tell those from a client's
   * cancel by the grpc-status it put on the HTTP/2 stream, so they are counted like ours.
   */
  private countTransportRefusal(): void {
    const code = sentGrpcStatus(this.call);
    if (code === undefined || code === grpc.status.OK || code === grpc.status.CANCELLED) return;
    const reason: RejectReason = code === grpc.status.RESOURCE_EXHAUSTED ? 'oversized' : code === grpc.status.UNIMPLEMENTED ? 'bad_encoding' : 'malformed';
    this.reject(reason, { code: grpc.status[code] ?? code, by: 'grpc-js' }, `${reason} xDS request (refused by grpc-js)`);
  }

  private onWritten(): void {
    this.inflight--;
    this.maybeResume();
  }

  private maybeResume(): void {
    if (!this.blocked || this.awaitingDrain || this.inflight >= MAX_INFLIGHT_WRITES) return;
    this.blocked = false;
    clearTimeout(this.stallTimer);
    this.flush();
  }

  private onStall(): void {
    if (this.closed || !this.blocked) return;
    this.reject('slow_client', { stallMs: this.ctx.limits.stallTimeoutMs }, 'xDS client is not reading; closing its stream');
    this.closeWithStatus(grpc.status.RESOURCE_EXHAUSTED, 'client is not reading responses');
    // The status cannot get past unread data: reset the HTTP/2 stream instead of waiting on it.
    resetHttp2Stream(this.call);
  }

  /** The client answered the response with `nonce` of type `t`. */
  protected settle(t: XdsType, nonce: string, how: 'ack' | 'nack'): void {
    const slot = this.slots[TYPE_INDEX[t]];
    if (!slot || slot.awaitingNonce !== nonce) return;
    slot.awaitingNonce = '';
    const pushes = slot.awaiting;
    for (let i = 0; i < pushes.length; i++) pushes[i]!.satisfy(this, how);
    pushes.length = 0;
  }

  /**
   * A reply to the current response of `t`: counted and logged as the protocol variants share
   * (a repeated NACK is not a new rejection), and the push it answers settled.
   */
  protected takeReply(t: XdsType, w: TypeWatch, nonce: string, errorDetail: RpcStatus | null | undefined, ackedVersion: string): ReplyOutcome {
    const outcome = w.reply(nonce, errorDetail, ackedVersion);
    if (outcome === 'duplicate_nack') this.reject('duplicate_nack', { type: t }, 'repeated NACK of one response ignored');
    else if (outcome === 'nack') {
      this.countNack(t, errorDetail!);
      this.settle(t, nonce, 'nack');
    } else this.settle(t, nonce, 'ack');
    return outcome;
  }

  protected countNack(t: XdsType, detail: RpcStatus): void {
    this.ctx.metrics.rejects[t].inc();
    this.ctx.metrics.totalRejects.inc(t);
    this.ctx.limiter.warn(`nack-${t}`, { conn: this.id, message: detail.message?.slice(0, 1000) }, `${t.toUpperCase()} NACK`);
  }

  protected countStaleNonce(t: XdsType): void {
    this.ctx.metrics.expiredNonce.inc({ type: t });
  }

  /** Ends the stream with a status (sent after anything already written). */
  closeWithStatus(code: grpc.status, details: string, metadata?: grpc.Metadata): void {
    if (this.closed) return;
    this.statusSent = true;
    this.cleanup(`status ${grpc.status[code]}`);
    if (code === grpc.status.OK) this.call.end();
    else this.call.emit('error', { code, details, ...(metadata ? { metadata } : {}) });
  }

  private cleanup(why: string): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.stallTimer);
    clearTimeout(this.holdTimer);
    if (!this.statusSent && why === 'cancelled') this.countTransportRefusal();
    for (const slot of this.slots) {
      if (!slot) continue;
      for (const p of slot.awaiting) p.satisfy(this, 'closed');
      for (const p of slot.waiting) p.satisfy(this, 'closed');
      slot.awaiting.length = 0;
      slot.waiting.length = 0;
      slot.dirty = false;
    }
    this.dirtyCount = 0;
    if (this.announced) {
      this.ctx.disconnected(this);
      try {
        this.ctx.hooks.onDisconnect?.(this);
      } catch (err) {
        this.internalError(err, 'onDisconnect hook failed');
      }
    }
    this.ctx.released(this);
    this.ctx.log.debug({ conn: this.id, why }, 'xDS stream closed');
  }
}

function clip(s: string): string {
  return s.length > 300 ? `${s.slice(0, 300)}...` : s;
}

/** Names a request carries (what a watch could grow by). */
function requestNameCount(r: CommonRequest): number {
  let n = (r.resource_names?.length ?? 0) + (r.resource_names_subscribe?.length ?? 0) + (r.resource_names_unsubscribe?.length ?? 0);
  const iv = r.initial_resource_versions;
  if (iv) for (const _ in iv) n++;
  return n;
}

interface Http2StreamLike {
  close?: (code: number) => void;
  destroyed?: boolean;
  sentHeaders?: Record<string, unknown>;
  sentTrailers?: Record<string, unknown>;
}

/** grpc-js's innermost call object (BaseServerInterceptingCall): the one holding the Http2Stream. */
function baseCallOf(call: Call): { stream: Http2StreamLike; serializeMessage?: unknown } | undefined {
  let node: unknown = (call as unknown as { call?: unknown }).call;
  for (let depth = 0; depth < 4 && node && typeof node === 'object'; depth++) {
    const s = (node as { stream?: { close?: unknown } }).stream;
    if (s && typeof s.close === 'function') return node as ReturnType<typeof baseCallOf>;
    node = (node as { nextCall?: unknown }).nextCall;
  }
  return undefined;
}

/** The Http2Stream inside a grpc-js server call (see resetHttp2Stream). */
function http2StreamOf(call: Call): Http2StreamLike | undefined {
  return baseCallOf(call)?.stream;
}

/**
 * grpc-js (1.14, server-interceptors.js) frames every message it sends by allocating a new Buffer
 * and copying the message behind a 5-byte header (serializeMessage), once per stream. Responses
 * here are shared across streams and framed once (SharedResponse.framed), so this call's
 * serializeMessage is made to pass them through: measured 12 % less server CPU per push at 2,000
 * streams (docs/xds-server.md, "Push path"). Everything else (headers, flow control, the size
 * limit, status, trailers) stays grpc-js's. An instance override of an undocumented method, so
 * only where the call has the 1.14 shape; otherwise false and `bytes` are written as before.
 * test/xds/push-path.test.ts fails if the shape goes away.
 */
function preframe(call: Call): boolean {
  const base = baseCallOf(call);
  if (!base || typeof base.serializeMessage !== 'function' || base.serializeMessage.length !== 1) return false;
  base.serializeMessage = passFramed;
  return true;
}

const passFramed = (framed: Buffer): Buffer => framed;

/** The grpc-status grpc-js sent on the call (trailers, or trailers-only headers), if any. */
function sentGrpcStatus(call: Call): number | undefined {
  const s = http2StreamOf(call);
  const v = s?.sentTrailers?.['grpc-status'] ?? s?.sentHeaders?.['grpc-status'];
  return v === undefined ? undefined : Number(v);
}

/**
 * Best effort: grpc-js does not expose a way to reset a server stream, so look for the
 * Http2Stream inside the call (a documented-nowhere shape; if it moves, the stall timeout only
 * sends a status that waits behind the unread data).
 */
function resetHttp2Stream(call: Call): void {
  const s = http2StreamOf(call);
  if (s?.close && !s.destroyed) s.close(0x8 /* NGHTTP2_CANCEL */);
}
