// The gRPC side: ADS (SotW and delta) and standalone EDS on @grpc/grpc-js, one connection object
// per stream, all sharing one cache, one response cache and one push engine.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { XdsCache } from './cache.js';
import { DEFAULT_LIMITS, type ServiceKind, type StreamContext, type StreamLimits, type XdsConnection } from './connection.js';
import { DEFAULT_DEBOUNCE, type DebounceOptions } from './debounce.js';
import { DeltaStream } from './delta-stream.js';
import type { ConnectionHooks } from './hooks.js';
import { LogLimiter } from './log-limiter.js';
import type { XdsMetrics } from './metrics.js';
import { PushEngine } from './push-engine.js';
import { ResponseCache } from './response-cache.js';
import { serverDefinitions } from './service-definitions.js';
import { SotwStream } from './sotw-stream.js';
import { AuthError, type TokenAuthenticator } from '../security/token-authenticator.js';

export interface XdsServerOptions {
  cache: XdsCache;
  metrics: XdsMetrics;
  log: Logger;
  hooks?: ConnectionHooks;
  limits?: Partial<StreamLimits>;
  debounce?: Partial<DebounceOptions>;
  pushTrackTimeoutMs?: number;
  /** Transport security; default insecure (loopback). */
  credentials?: grpc.ServerCredentials;
  /** Bearer-token check run before a stream is served; throws AuthError with the reason. */
  authenticator?: TokenAuthenticator;
}

type DuplexCall = grpc.ServerDuplexStream<unknown, Buffer>;

export class XdsServer {
  readonly connections = new Set<XdsConnection>();
  readonly engine: PushEngine;
  readonly limits: StreamLimits;
  readonly responses = new ResponseCache();
  private readonly grpcServer: grpc.Server;
  private readonly ctx: StreamContext;
  private readonly unsubscribe: () => void;
  /** Streams seen, including ones closed before their first request. */
  private readonly streams = new Set<XdsConnection>();
  private port = 0;

  constructor(private readonly opts: XdsServerOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...(opts.limits ?? {}) };
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
    });
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
