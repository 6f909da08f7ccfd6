// The gRPC side: ADS (SotW and delta) and standalone EDS on @grpc/grpc-js, one connection object
// per stream, all sharing one cache, one response cache and one push engine.
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import type net from 'node:net';
import type { Logger } from 'pino';
import type { XdsCache } from './cache/xds-cache.js';
import { DEFAULT_LIMITS, type RegistrationAdmission, type ServiceKind, type StreamContext, type StreamLimits, type XdsConnection } from './stream/connection.js';
import { DEFAULT_DEBOUNCE, type DebounceOptions } from './push/debounce.js';
import { DeltaStream } from './stream/delta.js';
import type { ConnectionHooks } from './hooks.js';
import { LogLimiter } from './stream/log-limiter.js';
import type { XdsMetrics } from './metrics/xds-metrics.js';
import { PushEngine } from './push/engine.js';
import { ResponseCache, type SharedResponse } from './cache/response-cache.js';
import { serverDefinitions } from './service-definitions.js';
import { METHOD_PATH } from '../proto/services.js';
import { SotwStream } from './stream/sotw.js';
import { AuthError, type TokenAuthenticator } from '../security/token-authenticator.js';

/** Limits of the server as a whole (connections, HTTP/2, keepalive, registrations); 0 turns a limit off. */
export interface ServerLimits {
  /** HTTP/2 connections served at once; streams on connections past it get RESOURCE_EXHAUSTED and the connection is closed. */
  maxConnections: number;
  /** grpc.max_concurrent_streams: streams one connection may have open (the client queues the rest). */
  maxStreamsPerConnection: number;
  /** grpc-node.max_session_memory, MiB: nghttp2 memory one connection may hold before its new streams are refused. */
  maxSessionMemoryMb: number;
  /** grpc.keepalive_time_ms: the server pings each connection this often... */
  keepaliveTimeMs: number;
  /** grpc.keepalive_timeout_ms: ...and drops it when the ping is not answered within this. */
  keepaliveTimeoutMs: number;
  /** grpc.keepalive_permit_without_calls: client pings allowed on a connection with no stream. */
  keepalivePermitWithoutCalls: boolean;
  /** grpc.http2.min_ping_interval_without_data_ms: client pings closer than this (with no data sent in between) are strikes. */
  minPingIntervalMs: number;
  /** grpc.http2.max_ping_strikes: strikes past this end the connection with GOAWAY ENHANCE_YOUR_CALM "too_many_pings". */
  maxPingStrikes: number;
  /** grpc.max_connection_idle_ms: a connection with no stream for this long gets GOAWAY. */
  maxConnectionIdleMs: number;
  /** grpc.max_connection_age_ms: connections are asked to go away after this long (+-10% jitter)... */
  maxConnectionAgeMs: number;
  /** grpc.max_connection_age_grace_ms: ...and cut this long after that. */
  maxConnectionAgeGraceMs: number;
  /** Auto-registrations per second per source IP (token bucket); a stream over it waits, then is refused with UNAVAILABLE. */
  registrationsPerSecond: number;
  registrationBurst: number;
  /** Longest a registering stream is held for a token before it is refused. */
  registrationMaxWaitMs: number;
  /**
   * Accept queue of the listening socket (listen(2) backlog; the kernel caps it at
   * net.core.somaxconn). Node's default is 511; istiod, being Go, listens with somaxconn. Too short
   * a queue under a connect storm drops handshakes: clients then wait on TCP retransmissions.
   */
  listenBacklog: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = Object.freeze({
  maxConnections: 20_000,
  maxStreamsPerConnection: 100,
  maxSessionMemoryMb: 64,
  keepaliveTimeMs: 30_000,
  keepaliveTimeoutMs: 10_000,
  keepalivePermitWithoutCalls: true,
  minPingIntervalMs: 5_000,
  maxPingStrikes: 2,
  maxConnectionIdleMs: 0,
  maxConnectionAgeMs: 0,
  maxConnectionAgeGraceMs: 0,
  registrationsPerSecond: 1000,
  registrationBurst: 10_000,
  registrationMaxWaitMs: 1000,
  listenBacklog: 4096,
});

/**
 * Encoded responses kept for sharing, in bytes. The cache is keyed by content, and delta
 * responses carry the names a client asked for: garbage subscriptions must not pin gigabytes
 * until the next config change.
 */
const RESPONSE_CACHE_MAX_BYTES = 64 * 1024 * 1024;

/** Methods served; grpc-js answers others (UNIMPLEMENTED) before any handler of ours runs. */
const SERVED_PATHS = new Set<string>([METHOD_PATH.ADS_STREAM, METHOD_PATH.ADS_DELTA, METHOD_PATH.EDS_STREAM, METHOD_PATH.EDS_DELTA]);

export interface XdsServerOptions {
  cache: XdsCache;
  metrics: XdsMetrics;
  log: Logger;
  hooks?: ConnectionHooks;
  limits?: Partial<StreamLimits>;
  serverLimits?: Partial<ServerLimits>;
  debounce?: Partial<DebounceOptions>;
  pushTrackTimeoutMs?: number;
  /** Transport security; default insecure (loopback). */
  credentials?: grpc.ServerCredentials;
  /** Bearer-token check run before a stream is served; throws AuthError with the reason. */
  authenticator?: TokenAuthenticator;
}

type DuplexCall = grpc.ServerDuplexStream<unknown, Buffer>;

/** ResponseCache with a byte budget: past it, everything is dropped (entries are only a shortcut). */
class BoundedResponseCache extends ResponseCache {
  private bytes = 0;

  constructor(private readonly maxBytes: number) {
    super();
  }

  override get(key: string, make: (nonce: string) => Buffer): SharedResponse {
    let added = 0;
    const r = super.get(key, (nonce) => {
      const b = make(nonce);
      added = b.length + key.length * 2;
      return b;
    });
    this.bytes += added;
    if (this.bytes > this.maxBytes) this.clear();
    return r;
  }

  override clear(): void {
    this.bytes = 0;
    super.clear();
  }
}

/** Token bucket that can reserve ahead: a caller learns how long to wait for its token. */
class Reservoir {
  private tokens: number;
  private at: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.at = now;
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.rate);
    this.at = now;
  }

  /** Takes a token: 0 = now, > 0 = after that many ms, < 0 = not within maxWaitMs (nothing taken; -wait). */
  reserve(now: number, maxWaitMs: number): number {
    this.refill(now);
    this.tokens -= 1;
    if (this.tokens >= 0) return 0;
    const wait = (-this.tokens / this.rate) * 1000;
    if (wait <= maxWaitMs) return wait;
    this.tokens += 1;
    return -wait;
  }

  isFull(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }
}

/** One HTTP/2 connection on the xDS port, as the limits see it. */
interface SessionState {
  readonly session: http2.ServerHttp2Session;
  readonly peer: string;
  /** Over maxConnections: its streams are refused and it is closed. */
  refused: boolean;
  streams: number;
  lastPingAt: number;
  /** socket.bytesWritten at the last ping: growth means data went out, which forgives strikes. */
  writtenAtLastPing: number;
  strikes: number;
}

/** `1.2.3.4:5678`, `::1:5678` or `::ffff:1.2.3.4:5678` (grpc-js getPeer) -> the address. */
function sourceIp(peer: string): string {
  const ip = peer.replace(/:\d+$/, '');
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

export class XdsServer {
  readonly connections = new Set<XdsConnection>();
  readonly engine: PushEngine;
  readonly limits: StreamLimits;
  readonly serverLimits: ServerLimits;
  readonly responses: ResponseCache = new BoundedResponseCache(RESPONSE_CACHE_MAX_BYTES);
  private readonly grpcServer: grpc.Server;
  /** HTTP/2 connections by peer (`ip:port`, as getPeer spells it). */
  private readonly sessions = new Map<string, SessionState>();
  private acceptedSessions = 0;
  private readonly guarded = new WeakSet<object>();
  private readonly registrationBuckets = new Map<string, Reservoir>();
  private readonly ctx: StreamContext;
  private readonly unsubscribe: () => void;
  /** Streams seen, including ones closed before their first request. */
  private readonly streams = new Set<XdsConnection>();
  private port = 0;

  constructor(private readonly opts: XdsServerOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...(opts.limits ?? {}) };
    this.serverLimits = { ...DEFAULT_SERVER_LIMITS, ...(opts.serverLimits ?? {}) };
    const L = this.serverLimits;
    const metrics = opts.metrics;
    this.ctx = {
      cache: opts.cache,
      metrics,
      log: opts.log,
      limiter: new LogLimiter(opts.log),
      hooks: opts.hooks ?? {},
      limits: this.limits,
      responses: this.responses,
      connected: (c) => {
        this.connections.add(c);
        metrics.connections.set(this.connections.size);
        opts.log.debug({ conn: c.id, peer: c.peer, kind: c.kind, service: c.service }, 'xDS stream connected');
      },
      disconnected: (c) => {
        this.connections.delete(c);
        metrics.connections.set(this.connections.size);
      },
      released: (c) => this.streams.delete(c),
      ...(L.registrationsPerSecond > 0 ? { admitRegistration: (c: XdsConnection) => this.admitRegistration(c) } : {}),
    };
    this.unsubscribe = opts.cache.onChange(() => this.responses.clear());
    this.engine = new PushEngine(opts.cache, () => this.connections, metrics, opts.log, {
      debounce: { ...DEFAULT_DEBOUNCE, ...(opts.debounce ?? {}) },
      ...(opts.pushTrackTimeoutMs !== undefined ? { pushTrackTimeoutMs: opts.pushTrackTimeoutMs } : {}),
    });
    this.grpcServer = new grpc.Server({
      // Our own check in the deserializer (counted, clear status) fires first; this is the backstop.
      'grpc.max_receive_message_length': this.limits.maxRequestBytes * 4 + 65_536,
      'grpc.max_send_message_length': -1,
      ...(L.maxStreamsPerConnection > 0 ? { 'grpc.max_concurrent_streams': L.maxStreamsPerConnection } : {}),
      ...(L.maxSessionMemoryMb > 0 ? { 'grpc-node.max_session_memory': L.maxSessionMemoryMb } : {}),
      ...(L.keepaliveTimeMs > 0 ? { 'grpc.keepalive_time_ms': L.keepaliveTimeMs, 'grpc.keepalive_timeout_ms': L.keepaliveTimeoutMs } : {}),
      ...(L.maxConnectionIdleMs > 0 ? { 'grpc.max_connection_idle_ms': L.maxConnectionIdleMs } : {}),
      ...(L.maxConnectionAgeMs > 0 ? { 'grpc.max_connection_age_ms': L.maxConnectionAgeMs } : {}),
      ...(L.maxConnectionAgeGraceMs > 0 ? { 'grpc.max_connection_age_grace_ms': L.maxConnectionAgeGraceMs } : {}),
      // grpc-js keeps no per-channel traces unless asked; thousands of connections would carry them.
      'grpc.enable_channelz': 0,
    });
    if (L.listenBacklog > 0) this.widenBacklog(L.listenBacklog);
    const defs = serverDefinitions(this.limits.maxRequestBytes);
    const sotw = (service: ServiceKind) => (call: DuplexCall) => this.accept(call, () => new SotwStream(this.ctx, call, 'sotw', service));
    const delta = (service: ServiceKind) => (call: DuplexCall) => this.accept(call, () => new DeltaStream(this.ctx, call, 'delta', service));
    this.grpcServer.addService(defs.ads, { StreamAggregatedResources: sotw('ads'), DeltaAggregatedResources: delta('ads') });
    this.grpcServer.addService(defs.eds, { StreamEndpoints: sotw('eds'), DeltaEndpoints: delta('eds') });
  }

  /**
   * Serves a new stream, after its bearer token verifies when token auth is on. Requests that
   * arrive meanwhile wait in the call's buffer; a refused stream ends with UNAUTHENTICATED and why.
   */
  private accept(call: DuplexCall, make: () => XdsConnection): void {
    const session = this.sessions.get(call.getPeer());
    if (session?.refused) {
      call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details: `connection limit reached (${this.serverLimits.maxConnections} connections); retry later` });
      // GOAWAY once the status is out; the client reconnects (to a server with room, or later).
      setImmediate(() => closeSession(session.session));
      return;
    }
    const auth = this.opts.authenticator;
    if (!auth) return this.track(make());
    const header = call.metadata.get('authorization')[0];
    auth.authenticate(typeof header === 'string' ? header : header?.toString()).then(
      (identity) => {
        if (call.cancelled) return;
        const c = make();
        c.identity = identity;
        this.track(c);
      },
      (err: unknown) => {
        const why = err instanceof AuthError ? err.message : 'token check failed';
        this.ctx.metrics.rejectedRequests.inc({ reason: 'unauthenticated' });
        this.ctx.limiter.warn('unauthenticated', { peer: call.getPeer(), why }, 'xDS stream refused: bad bearer token');
        call.emit('error', { code: grpc.status.UNAUTHENTICATED, details: why });
      },
    );
  }

  private track(c: XdsConnection): void {
    if (!c.isClosed) this.streams.add(c);
  }

  /** Registration throttle per source IP (see ServerLimits.registrationsPerSecond). */
  private admitRegistration(c: XdsConnection): RegistrationAdmission {
    const L = this.serverLimits;
    const ip = sourceIp(c.peer);
    const now = performance.now();
    let bucket = this.registrationBuckets.get(ip);
    if (!bucket) {
      if (this.registrationBuckets.size >= 10_000) {
        // Forget sources that are back to a full bucket; a flood of addresses must not grow this.
        for (const [k, b] of this.registrationBuckets) if (b.isFull(now)) this.registrationBuckets.delete(k);
        if (this.registrationBuckets.size >= 100_000) this.registrationBuckets.clear();
      }
      this.registrationBuckets.set(ip, (bucket = new Reservoir(L.registrationsPerSecond, L.registrationBurst, now)));
    }
    const wait = bucket.reserve(now, L.registrationMaxWaitMs);
    if (wait < 0) {
      this.ctx.metrics.registrationThrottle.inc({ outcome: 'refused' });
      const retryAfterMs = Math.ceil(-wait - L.registrationMaxWaitMs) + 1;
      return {
        refused: `auto-registration rate limit for ${ip} exceeded (${L.registrationsPerSecond}/s, burst ${L.registrationBurst}); retry in ${retryAfterMs} ms or later`,
        retryAfterMs,
      };
    }
    if (wait > 0) this.ctx.metrics.registrationThrottle.inc({ outcome: 'delayed' });
    return { waitMs: wait };
  }

  /**
   * grpc-js listens without a backlog (Node's default, 511). The only seam is the method that
   * creates its http2 servers (private; if it moves, the default stays and we say so): the
   * servers it returns are made to listen with `backlog`.
   */
  private widenBacklog(backlog: number): void {
    const server = this.grpcServer as unknown as { createHttp2Server?: (credentials: unknown) => net.Server };
    const create = server.createHttp2Server;
    if (typeof create !== 'function') {
      this.opts.log.warn('grpc-js internals changed: the listen backlog stays at the default');
      return;
    }
    server.createHttp2Server = (credentials: unknown) => {
      const srv = create.call(this.grpcServer, credentials);
      const listen = srv.listen.bind(srv) as (...args: unknown[]) => net.Server;
      // grpc-js passes an address object ({host, port} or {path}); Node reads `backlog` from it.
      srv.listen = ((address: unknown, ...rest: unknown[]) =>
        address !== null && typeof address === 'object' ? listen({ ...address, backlog }, ...rest) : listen(address, ...rest)) as typeof srv.listen;
      return srv;
    };
  }

  /**
   * Connection-level limits need the HTTP/2 sessions, which grpc-js keeps to itself: listen on
   * the http2 servers it created (a private map; if it moves, these limits are off and we say
   * so). Counts connections, refuses past maxConnections, enforces the client ping policy grpc-js
   * servers lack (grpc.keepalive_permit_without_calls, min_ping_interval_without_data_ms).
   */
  private guardSessions(): void {
    const servers = (this.grpcServer as unknown as { http2Servers?: unknown }).http2Servers;
    if (!(servers instanceof Map)) {
      this.opts.log.warn('grpc-js internals changed: connection limit and ping policy not enforced');
      return;
    }
    const L = this.serverLimits;
    for (const srv of servers.keys() as IterableIterator<net.Server>) {
      if (this.guarded.has(srv)) continue;
      this.guarded.add(srv);
      srv.on('session', (s: http2.ServerHttp2Session) => this.onSession(s));
      if (L.maxConnections > 0) {
        // Backstop for connections that never get as far as a session (or arrive faster than we
        // close refused ones): the kernel-facing limit, with headroom for the refusal path.
        srv.maxConnections = L.maxConnections + Math.max(64, Math.ceil(L.maxConnections / 10));
        srv.on('drop', () => {
          this.ctx.metrics.rejectedRequests.inc({ reason: 'connection_limit' });
          this.ctx.limiter.warn('connection_limit', { max: L.maxConnections }, 'xDS connection refused: too many connections');
        });
      }
    }
  }

  private onSession(session: http2.ServerHttp2Session): void {
    const L = this.serverLimits;
    const socket = session.socket;
    const peer = `${socket?.remoteAddress ?? ''}:${socket?.remotePort ?? ''}`;
    const st: SessionState = { session, peer, refused: false, streams: 0, lastPingAt: 0, writtenAtLastPing: 0, strikes: 0 };
    this.sessions.set(peer, st);
    if (L.maxConnections > 0 && this.acceptedSessions >= L.maxConnections) {
      st.refused = true;
      this.ctx.metrics.rejectedRequests.inc({ reason: 'connection_limit' });
      this.ctx.limiter.warn('connection_limit', { peer, max: L.maxConnections }, 'xDS connection refused: too many connections');
      // Its first stream gets the status (accept); one that never opens a stream is cut.
      setTimeout(() => session.destroy(), 2000).unref();
    } else {
      this.acceptedSessions++;
      this.ctx.metrics.http2Connections.set(this.acceptedSessions);
    }
    session.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
      st.streams++;
      stream.once('close', () => st.streams--);
      // grpc-js refuses these itself (415, UNIMPLEMENTED) without telling us: count them here.
      const ct = headers['content-type'];
      const reason = typeof ct !== 'string' || !ct.startsWith('application/grpc') ? 'bad_content_type' : SERVED_PATHS.has(headers[':path'] ?? '') ? undefined : 'unknown_method';
      if (reason) {
        this.ctx.metrics.rejectedRequests.inc({ reason });
        this.ctx.limiter.warn(reason, { peer, path: String(headers[':path']).slice(0, 200) }, reason === 'unknown_method' ? 'gRPC call to a method xdsim does not serve' : 'HTTP/2 request on the xDS port that is not gRPC');
      }
    });
    session.on('ping', () => this.onPing(st));
    session.once('close', () => {
      if (this.sessions.get(peer) === st) this.sessions.delete(peer);
      if (!st.refused) {
        this.acceptedSessions--;
        this.ctx.metrics.http2Connections.set(this.acceptedSessions);
      }
    });
  }

  /**
   * gRPC's ping policy (as gRPC Go and C-core servers enforce it): a client ping sooner than
   * minPingIntervalMs after the previous one, with no data sent in between, or any ping on a
   * connection without streams when that is not permitted, is a strike; past maxPingStrikes the
   * connection gets GOAWAY ENHANCE_YOUR_CALM "too_many_pings" (grpc clients then back off their
   * keepalive) and is closed.
   */
  private onPing(st: SessionState): void {
    const L = this.serverLimits;
    const now = performance.now();
    const written = st.session.socket?.bytesWritten ?? 0;
    // A ping ack is 17 bytes: much more than that means data or headers went out.
    const dataSent = written - st.writtenAtLastPing > 64;
    const tooSoon = st.lastPingAt > 0 && now - st.lastPingAt < L.minPingIntervalMs && !dataSent;
    const notAllowed = st.streams === 0 && !L.keepalivePermitWithoutCalls;
    if (tooSoon || notAllowed) st.strikes++;
    else if (dataSent || st.lastPingAt === 0 || now - st.lastPingAt >= L.minPingIntervalMs) st.strikes = 0;
    st.lastPingAt = now;
    st.writtenAtLastPing = written;
    if (st.strikes <= L.maxPingStrikes || st.session.destroyed) return;
    this.ctx.metrics.rejectedRequests.inc({ reason: 'too_many_pings' });
    this.ctx.limiter.warn('too_many_pings', { peer: st.peer, minPingIntervalMs: L.minPingIntervalMs }, 'xDS connection closed: client pings too often');
    try {
      st.session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, 0, Buffer.from('too_many_pings'));
    } catch {
      // Already going away.
    }
    setTimeout(() => st.session.destroy(), 100).unref();
    st.strikes = 0;
  }

  get boundPort(): number {
    return this.port;
  }

  get cache(): XdsCache {
    return this.opts.cache;
  }

  /** Binds `host:port` (port 0: any free one); resolves to the bound port. */
  listen(address: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.grpcServer.bindAsync(address, this.opts.credentials ?? grpc.ServerCredentials.createInsecure(), (err, port) => {
        if (err) return reject(err);
        this.port = port;
        this.guardSessions();
        this.opts.log.info({ address, port }, 'xDS server listening');
        resolve(port);
      });
    });
  }

  /**
   * Closes every stream with UNAVAILABLE (after what it was already sent), then stops the server;
   * connections still open after `graceMs` are cut.
   */
  async close(graceMs = 2_000): Promise<void> {
    this.engine.close();
    this.unsubscribe();
    this.registrationBuckets.clear();
    for (const c of [...this.streams]) c.closeWithStatus(grpc.status.UNAVAILABLE, 'server shutting down');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.grpcServer.forceShutdown();
        resolve();
      }, graceMs);
      timer.unref();
      this.grpcServer.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/** Graceful close (GOAWAY, streams finish), cut after 5 s. */
function closeSession(session: http2.ServerHttp2Session): void {
  if (session.closed || session.destroyed) return;
  session.close();
  setTimeout(() => session.destroy(), 5000).unref();
}
