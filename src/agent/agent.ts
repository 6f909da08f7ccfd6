// A simulated istio-agent: one gRPC channel (its own HTTP/2 connection) to an xDS server, the
// Node a VM's agent sends, an ADS subscription (SotW or delta) that it ACKs like Envoy, its
// WorkloadGroup's probe with health reported over xDS (SPEC §7), and bounded reconnects.
//
// Everything an agent does is bounded: connect attempts by the backoff's attempt limit and the
// run deadline, waiting for the first response by the connect timeout, probes by their timeout,
// and `stop()` tears down the call, the channel and every timer synchronously.
import * as grpc from '@grpc/grpc-js';
import { TYPE_URL } from '../proto/index.js';
import { METHOD_PATH } from '../proto/services.js';
import { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import type { AgentEvents } from './events.js';
import { encodeNodeParts, type AgentIdentity } from './identity.js';
import { ProbeRunner, readinessProbeFor, type ProbeModel, type ProbeSettings } from './probe.js';
import { mulberry32, type Rng } from '../util/random.js';
import {
  addressNeedle,
  claClusterName,
  clusterInfo,
  containsNeedle,
  decodeDeltaResponse,
  decodeSotwResponse,
  encodeDeltaRequest,
  encodeSotwRequest,
  type ErrorDetail,
  type SotwResponse,
} from './wire.js';

export type AgentState = 'idle' | 'connecting' | 'connected' | 'backoff' | 'down' | 'failed' | 'stopped';

export interface Subscription {
  /** Wildcard CDS, then EDS for every EDS cluster received (what a sidecar does). */
  cds: boolean;
  /** Explicit EDS resource names; with `cds` they are added to the clusters from CDS. */
  eds?: readonly string[];
}

/**
 * What a propagation tracker (src/fleet/propagation.ts) hears from an agent taking part: its
 * EDS, its responses and its health transitions, with the agent itself to ask about its state.
 */
export interface AgentTap {
  /** `first`: this stream's first ClusterLoadAssignment of the cluster (its initial state). */
  endpoints(agent: Agent, cluster: string, cla: Uint8Array | undefined, at: number, first: boolean): void;
  response(agent: Agent, at: number): void;
  healthReported(agent: Agent, healthy: boolean, at: number): void;
}

export interface NackPolicy {
  /** Which responses may be rejected. */
  types: 'cds' | 'eds' | 'all';
  /** Probability of rejecting each eligible response (1 = always). */
  probability: number;
}

export interface AgentOptions {
  /** `host:port` of the xDS server. */
  target: string;
  identity: AgentIdentity;
  /** Index in the fleet (reported with every event). */
  index?: number;
  credentials?: grpc.ChannelCredentials;
  mode?: 'sotw' | 'delta';
  subscription?: Subscription;
  nack?: NackPolicy;
  /** The group's probe; undefined: no health reporting (a group without a probe). */
  probe?: ProbeSettings;
  /** Stagger of the first probe (ms). */
  probeOffsetMs?: number;
  backoff?: BackoffOptions;
  /** Bound on waiting for the first response of a stream (ms). */
  connectTimeoutMs?: number;
  /** Epoch ms after which no new connection is attempted. */
  deadline?: number;
  /** Scan received ClusterLoadAssignments for the agent's own IP (else a fleet observer reports presence). */
  watchSelf?: boolean;
  /** Epoch ms at which the server started the push this response belongs to, if it says so. */
  pushMarker?: (r: { versionInfo: string; nonce: string; controlPlane: string }) => number | undefined;
  /**
   * Every ClusterLoadAssignment received (undefined when removed, delta only): lets a fleet
   * observer track the presence of many agents' IPs from one stream.
   */
  onEndpoints?: (cluster: string, cla: Uint8Array | undefined, at: number) => void;
  /** Propagation measurement: set for the agents that take part (src/fleet/propagation.ts). */
  tap?: AgentTap;
  /**
   * HTTP/2 keepalive ping interval (ms); 0 or undefined: no pings. Without pings a server that
   * hangs (SIGSTOP, a dead VM behind a NAT) looks connected forever: TCP alone never notices.
   */
  keepaliveMs?: number;
  /** How long a keepalive ping may go unanswered before the connection is dropped (default 10 s). */
  keepaliveTimeoutMs?: number;
  /** Extra grpc-js channel options (merged over the agent's). */
  channelOptions?: grpc.ChannelOptions;
  /** Metadata sent with the stream (e.g. an authorization token later). */
  callMetadata?: Readonly<Record<string, string>>;
  seed?: number;
  events?: AgentEvents;
  now?: () => number;
}

/** grpc-js status codes used here (grpc.status without importing the enum into hot paths). */
const INTERNAL = 13;

const identity = (b: Buffer): Buffer => b;

interface TypeState {
  version: string;
  nonce: string;
  lastAt: number;
}

export class Agent {
  readonly index: number;
  private opts: AgentOptions;
  private ident: AgentIdentity;
  /** The encoded Node: own bytes, then the group's shared metadata (identity.ts). */
  private nodeBytes: readonly Uint8Array[];
  private needle: Buffer;
  private readonly rng: Rng;
  private readonly backoff: Backoff;
  private readonly events: AgentEvents;
  private readonly now: () => number;
  private readonly probe: ProbeRunner | undefined;

  private st: AgentState = 'idle';
  private client: grpc.Client | undefined;
  private call: grpc.ClientDuplexStream<Buffer, Buffer> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** While connecting: the connect timeout. Once connected: when the connection counts as stable. */
  private connectTimer: NodeJS.Timeout | undefined;
  /** While connecting: looking again for the stream's HTTP/2 session (see confirm()). */
  private confirmTimer: NodeJS.Timeout | undefined;
  private attemptStartedAt = 0;
  private gotFirstResponse = false;
  /** With a tap: when the current stream got its first response, and first had each cluster. */
  private streamStartedAt: number | undefined;
  private readonly clusterFirstAt = new Map<string, number>();
  private firstRequestSent = false;

  // Subscription state of the current stream.
  private readonly types = new Map<string, TypeState>();
  private edsNames: string[] = [];
  /** Delta: CDS resources known (name -> EDS name) and versions to resume with. */
  private readonly deltaVersions = new Map<string, Map<string, string>>();
  private readonly deltaClusters = new Map<string, string | undefined>();

  // Own-IP presence in EDS.
  private identityStartedAt = 0;
  private visibleReported = false;
  private readonly presentIn = new Set<string>();
  private pendingHealth: { healthy: boolean; at: number } | undefined;
  /** prepare() took the first probe result: its first report counts as a transition (measured until EDS agrees). */
  private primedHealth = false;

  // Counters readable by the fleet.
  connects = 0;
  bytesReceived = 0;
  bytesSent = 0;
  responses = 0;
  errors = 0;
  healthReports = 0;

  constructor(opts: AgentOptions) {
    this.opts = opts;
    this.index = opts.index ?? 0;
    // An agent probes because its ProxyConfig has a readinessProbe, and istiod reads that probe
    // from the node: one given a probe but no readinessProbe sends the probe's own.
    if (opts.probe && !opts.identity.readinessProbe && !opts.identity.shared) {
      opts = { ...opts, identity: { ...opts.identity, readinessProbe: readinessProbeFor(opts.probe) } };
      this.opts = opts;
    }
    this.ident = opts.identity;
    this.nodeBytes = encodeNodeParts(opts.identity);
    this.needle = addressNeedle(opts.identity.ip);
    this.rng = mulberry32((opts.seed ?? 1) ^ Math.imul(this.index + 1, 0x9e3779b1));
    this.backoff = new Backoff(opts.backoff ?? DEFAULT_BACKOFF, this.rng);
    this.events = opts.events ?? {};
    this.now = opts.now ?? Date.now;
    this.probe = opts.probe ? new ProbeRunner(opts.probe, (h, m) => this.onHealth(h, m), this.rng, this.now) : undefined;
  }

  get state(): AgentState {
    return this.st;
  }

  get identity(): AgentIdentity {
    return this.ident;
  }

  /** Whether the agent's IP is in at least one ClusterLoadAssignment it (or its observer) last saw. */
  /** Unique in the fleet while the identity lasts (a new IP is a new VM). */
  get key(): string {
    return this.ident.name;
  }

  get ip(): string {
    return this.ident.ip;
  }

  clustersPresent(): string[] {
    return [...this.presentIn];
  }

  clusterSince(cluster: string): number | undefined {
    return this.clusterFirstAt.get(cluster);
  }

  heldClusters(): Iterable<[string, number]> {
    return this.clusterFirstAt.entries();
  }

  streamSince(): number | undefined {
    return this.streamStartedAt;
  }

  get visible(): boolean {
    return this.presentIn.size > 0;
  }

  get everVisible(): boolean {
    return this.visibleReported;
  }

  /** Last reported health (undefined: no probe, or no conclusive result yet). */
  get healthy(): boolean | undefined {
    return this.probe?.healthy;
  }

  get connected(): boolean {
    return this.st === 'connected';
  }

  /**
   * Optional, before start(): what the istio-agent of a VM that is already running has done
   * before a reconnect storm (istiod restarts, a partition heals) - its gRPC channel object
   * exists (idle: no connection yet) and a simulated probe has its first result, which the first
   * stream then reports. A storm bench prepares every agent before its window so that the window
   * holds only what a storm is: connections, streams, registrations. Idempotent.
   */
  prepare(): void {
    if (this.st !== 'idle') return;
    this.client ??= this.newClient();
    if (this.probe?.prime()) this.primedHealth = true;
  }

  /** `deadline`: the run's end (epoch ms), when it was not known at construction (prepared agents). */
  start(deadline?: number): void {
    if (this.st !== 'idle') return;
    if (deadline !== undefined) this.opts = { ...this.opts, deadline };
    this.identityStartedAt = this.now();
    this.probe?.start(this.opts.probeOffsetMs ?? 0);
    this.connect();
  }

  /** Stops for good: cancels the stream, closes the channel, clears timers. Idempotent. */
  stop(): void {
    if (this.st === 'stopped') return;
    // Set first: the end of the run is not counted as a disconnect.
    this.st = 'stopped';
    this.clearTimers();
    this.probe?.stop();
    this.teardown();
  }

  /**
   * Churn: drop the connection (closing the HTTP/2 connection, as a VM losing its network would)
   * and reconnect after `downMs` (0: immediately - a connect storm when many do it at once).
   */
  disconnect(downMs = 0): void {
    if (this.st === 'stopped' || this.st === 'failed' || this.st === 'idle') return;
    this.clearTimers();
    this.teardown();
    this.backoff.reset();
    this.scheduleConnect(downMs, 'down');
  }

  /** Churn: take the agent down until `resume()` (scale down), keeping its probe state. */
  suspend(): void {
    if (this.st === 'stopped' || this.st === 'idle') return;
    this.clearTimers();
    this.teardown();
    this.st = 'down';
  }

  resume(delayMs = 0): void {
    if (this.st !== 'down' && this.st !== 'failed') return;
    this.backoff.reset();
    this.scheduleConnect(delayMs, 'down');
  }

  /** Churn: the VM comes back with a new IP - a new identity (new node id, new entry). */
  changeIdentity(next: AgentIdentity, downMs = 0): void {
    if (this.st === 'stopped') return;
    this.clearTimers();
    this.teardown();
    if (this.opts.probe && !next.readinessProbe && !next.shared) next = { ...next, readinessProbe: readinessProbeFor(this.opts.probe) };
    this.ident = next;
    this.nodeBytes = encodeNodeParts(next);
    this.needle = addressNeedle(next.ip);
    this.presentIn.clear();
    this.visibleReported = false;
    this.pendingHealth = undefined;
    this.deltaVersions.clear();
    this.deltaClusters.clear();
    this.identityStartedAt = this.now() + downMs;
    this.backoff.reset();
    if (this.st === 'idle') return;
    this.scheduleConnect(downMs, 'down');
  }

  /** Churn: change what the probe reports (e.g. start flapping). */
  setProbeModel(model: ProbeModel): void {
    this.probe?.setModel(model);
  }

  /**
   * Presence of the agent's IP in a cluster's endpoints, from its own EDS scan or from a fleet
   * observer watching on its behalf.
   */
  setPresence(cluster: string, present: boolean, at = this.now()): void {
    if (present) this.presentIn.add(cluster);
    else this.presentIn.delete(cluster);
    const visible = this.presentIn.size > 0;
    if (visible && !this.visibleReported && this.identityStartedAt > 0) {
      this.visibleReported = true;
      this.events.edsVisible?.(this.index, Math.max(0, at - this.identityStartedAt));
    }
    if (this.pendingHealth && this.pendingHealth.healthy === visible) {
      this.events.healthConverged?.(this.index, Math.max(0, at - this.pendingHealth.at));
      this.pendingHealth = undefined;
    }
  }

  // ---- connection lifecycle -----------------------------------------------------------------

  private connect(): void {
    if (this.st === 'stopped') return;
    if (this.pastDeadline(0)) return;
    this.st = 'connecting';
    this.attemptStartedAt = this.now();
    this.gotFirstResponse = false;
    this.firstRequestSent = false;
    this.types.clear();
    this.edsNames = [];
    this.client ??= this.newClient();
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(this.opts.callMetadata ?? {})) md.set(k, v);
    const delta = this.opts.mode === 'delta';
    const client = this.client;
    // grpc-js captures the caller's stack for every call (new Error()) and formats it when the
    // call ends with a non-OK status - every cancel at teardown, every failed attempt. Formatting
    // goes through source maps where they are on (tsx): thousands of agents paid seconds of CPU
    // for stack traces nobody reads. No frames captured, nothing to format.
    const stackLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    let call: grpc.ClientDuplexStream<Buffer, Buffer>;
    try {
      call = client.makeBidiStreamRequest<Buffer, Buffer>(delta ? METHOD_PATH.ADS_DELTA : METHOD_PATH.ADS_STREAM, identity, identity, md);
    } finally {
      Error.stackTraceLimit = stackLimit;
    }
    this.call = call;
    call.on('data', (buf: Buffer) => {
      if (this.call === call) this.onData(buf);
    });
    // A listener must always be there: grpc-js emits 'error' for every non-OK status.
    call.on('error', () => {});
    call.on('status', (s: grpc.StatusObject) => {
      if (this.call === call) this.onStreamEnd(s);
    });
    const timeout = this.opts.connectTimeoutMs ?? 10_000;
    this.connectTimer = setTimeout(() => {
      this.connectTimer = undefined;
      if (this.call !== call || this.st !== 'connecting') return;
      this.fail('connect-timeout', `not connected within ${timeout}ms`);
    }, timeout);
    // Connected = the server has this stream: a response arrived, or the channel is READY and an
    // HTTP/2 PING sent on the stream's connection came back (see confirm()). READY alone is not
    // enough, and a stream may legitimately get no response (e.g. when it only subscribes to
    // names that do not exist yet).
    const channel = client.getChannel();
    const watch = (): void => {
      if (this.call !== call || this.st !== 'connecting') return;
      const state = channel.getConnectivityState(false);
      if (state === grpc.connectivityState.READY) this.confirm(call);
      else if (state !== grpc.connectivityState.SHUTDOWN) {
        channel.watchConnectivityState(state, this.attemptStartedAt + timeout, (err) => {
          if (!err) watch();
        });
      }
    };
    this.sendInitialRequests();
    watch();
  }

  /**
   * The channel is READY, which only means the server's HTTP/2 SETTINGS arrived: it proves the
   * server-to-agent direction, not that the server got anything the agent sent. In a connect
   * storm the server's accept queue overflows; the kernel drops the handshake's last ACK and the
   * data after it, accepts the connection later from a retransmission, and the server's SETTINGS
   * go out - while the agent's preface, HEADERS and first requests sit in TCP retransmission
   * backoff (6, 12, 25, 51 s...). The agent looked connected for up to ~50 s with no stream on
   * the server (docs/faults.md). So: ping on the stream's own HTTP/2 connection. The server's
   * HTTP/2 layer answers only after reading everything before the PING on that connection, so
   * the ACK means the server has the stream. No ACK: the connect timeout ends the attempt.
   */
  private confirm(call: grpc.ClientDuplexStream<Buffer, Buffer>, tries = 0): void {
    if (this.call !== call || this.st !== 'connecting') return;
    const found = streamSession(call);
    if (found === 'pending') {
      // READY comes just before the channel hands the call to the new connection: look again
      // shortly (bounded by the connect timeout, which fails the attempt).
      this.confirmTimer = setTimeout(
        () => {
          this.confirmTimer = undefined;
          this.confirm(call, tries + 1);
        },
        tries < 5 ? 0 : 10,
      );
      return;
    }
    if (found === undefined) {
      // grpc-js internals moved (a version not tested here): fall back to READY.
      warnOnce('xdsim agent: cannot reach the HTTP/2 session of a grpc-js call; "connected" falls back to channel READY');
      this.established(call);
      return;
    }
    try {
      found.ping((err) => {
        if (!err) this.established(call);
      });
    } catch {
      // Session already closing: the call's status follows.
    }
  }

  private newClient(): grpc.Client {
    return new grpc.Client(channelTarget(this.opts.target), this.opts.credentials ?? grpc.credentials.createInsecure(), {
      // One HTTP/2 connection per agent, as each VM has its own: no sharing through the global pool.
      'grpc.use_local_subchannel_pool': 1,
      // Channelz keeps per-channel traces; thousands of channels would carry that for nothing.
      'grpc.enable_channelz': 0,
      'grpc.enable_retries': 0,
      'grpc.max_receive_message_length': 256 * 1024 * 1024,
      ...(this.opts.keepaliveMs && this.opts.keepaliveMs > 0
        ? {
            'grpc.keepalive_time_ms': this.opts.keepaliveMs,
            'grpc.keepalive_timeout_ms': this.opts.keepaliveTimeoutMs ?? 10_000,
          }
        : {}),
      ...this.opts.channelOptions,
    });
  }

  private established(call: grpc.ClientDuplexStream<Buffer, Buffer>): void {
    if (this.call !== call || this.st !== 'connecting') return;
    this.st = 'connected';
    this.connects++;
    if (this.connectTimer) clearTimeout(this.connectTimer);
    if (this.confirmTimer) clearTimeout(this.confirmTimer);
    this.confirmTimer = undefined;
    // A connection that stays up this long resets the backoff even if it never got a response,
    // while one that the server keeps killing at once still backs off.
    this.connectTimer = setTimeout(() => {
      this.connectTimer = undefined;
      if (this.call === call) this.backoff.reset();
    }, this.opts.connectTimeoutMs ?? 10_000);
    this.events.connected?.(this.index, this.now() - this.attemptStartedAt);
  }

  private sendInitialRequests(): void {
    const sub = this.opts.subscription ?? { cds: true };
    if (this.opts.mode === 'delta') {
      if (sub.cds) {
        this.sendDelta({
          typeUrl: TYPE_URL.CLUSTER,
          initialVersions: this.deltaVersions.get(TYPE_URL.CLUSTER),
        });
      }
      const eds = [...new Set([...(sub.eds ?? []), ...(sub.cds ? [...this.deltaClusters.values()].filter((x): x is string => !!x) : [])])];
      if (eds.length > 0 || !sub.cds) {
        this.edsNames = eds;
        this.sendDelta({ typeUrl: TYPE_URL.ENDPOINT, subscribe: eds, initialVersions: this.deltaVersions.get(TYPE_URL.ENDPOINT) });
      }
    } else {
      if (sub.cds) this.sendSotw({ typeUrl: TYPE_URL.CLUSTER, resourceNames: [] });
      if (sub.eds && sub.eds.length > 0) {
        this.edsNames = [...sub.eds];
        this.sendSotw({ typeUrl: TYPE_URL.ENDPOINT, resourceNames: this.edsNames });
      }
    }
    // Re-report the current health on every new stream: the server may have lost it (SPEC §7).
    const h = this.probe?.healthy;
    if (h !== undefined) {
      this.sendHealth(h, this.probe!.message, this.primedHealth);
      this.primedHealth = false;
    }
  }

  private onStreamEnd(s: grpc.StatusObject): void {
    const wasConnected = this.st === 'connected';
    if (!wasConnected) {
      this.fail('connect-failed', `${grpc.status[s.code] ?? s.code}: ${s.details}`);
    } else if (s.code === grpc.status.OK) {
      this.fail('stream-closed', 'server closed the stream');
    } else {
      this.fail('stream-reset', `${grpc.status[s.code] ?? s.code}: ${s.details}`);
    }
  }

  private fail(kind: 'connect-failed' | 'connect-timeout' | 'stream-reset' | 'stream-closed' | 'bad-response', detail: string): void {
    if (this.st === 'stopped') return;
    this.errors++;
    this.events.error?.(this.index, kind, detail);
    this.clearTimers();
    // A fresh channel for the next attempt: a broken connection must not be reused.
    this.teardown();
    const delay = this.backoff.next();
    if (delay === undefined) {
      this.giveUp(`gave up after ${this.backoff.attempts} attempts (last: ${kind}: ${detail})`);
      return;
    }
    if (this.pastDeadline(delay)) return;
    this.scheduleConnect(delay, 'backoff');
  }

  /** The run ends before the next attempt could happen: stay down quietly (the end of a run is no failure). */
  private pastDeadline(delayMs: number): boolean {
    if (this.opts.deadline === undefined || this.now() + delayMs < this.opts.deadline) return false;
    this.clearTimers();
    this.teardown();
    this.st = 'down';
    return true;
  }

  private giveUp(detail: string): void {
    this.st = 'failed';
    this.clearTimers();
    this.teardown();
    this.events.error?.(this.index, 'gave-up', detail);
  }

  private scheduleConnect(delayMs: number, state: 'backoff' | 'down'): void {
    this.st = state;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect();
    }, Math.max(0, delayMs));
  }

  private clearTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.connectTimer) clearTimeout(this.connectTimer);
    if (this.confirmTimer) clearTimeout(this.confirmTimer);
    this.timer = undefined;
    this.connectTimer = undefined;
    this.confirmTimer = undefined;
  }

  private teardown(): void {
    this.streamStartedAt = undefined;
    this.clusterFirstAt.clear();
    if (this.st === 'connected') {
      this.st = 'down';
      this.events.disconnected?.(this.index);
    }
    const call = this.call;
    const client = this.client;
    this.call = undefined;
    this.client = undefined;
    if (call) {
      try {
        call.cancel();
      } catch {
        // already closed
      }
    }
    client?.close();
  }

  // ---- requests -----------------------------------------------------------------------------

  private write(buf: Buffer): void {
    const call = this.call;
    if (!call) return;
    this.bytesSent += buf.length;
    call.write(buf);
  }

  private sendSotw(r: { typeUrl: string; resourceNames?: readonly string[]; versionInfo?: string; responseNonce?: string; errorDetail?: ErrorDetail }): void {
    const first = !this.firstRequestSent;
    this.firstRequestSent = true;
    this.write(encodeSotwRequest({ ...r, ...(first ? { node: this.nodeBytes } : {}) }));
  }

  private sendDelta(r: {
    typeUrl: string;
    subscribe?: readonly string[];
    unsubscribe?: readonly string[];
    initialVersions?: ReadonlyMap<string, string> | undefined;
    responseNonce?: string;
    errorDetail?: ErrorDetail;
  }): void {
    const first = !this.firstRequestSent;
    this.firstRequestSent = true;
    const { initialVersions, ...rest } = r;
    this.write(
      encodeDeltaRequest({
        ...rest,
        ...(initialVersions && initialVersions.size > 0 ? { initialVersions } : {}),
        ...(first ? { node: this.nodeBytes } : {}),
      }),
    );
  }

  /** `transition`: a new state (measured until EDS agrees), not a re-report after reconnect. */
  private sendHealth(healthy: boolean, message: string, transition: boolean): void {
    if (!this.call) return;
    // istio-agent: no error_detail = healthy; error_detail {INTERNAL, message} = unhealthy.
    const errorDetail = healthy ? undefined : { code: INTERNAL, message: message || 'unhealthy' };
    if (this.opts.mode === 'delta') this.sendDelta({ typeUrl: TYPE_URL.HEALTH_INFO, ...(errorDetail ? { errorDetail } : {}) });
    else this.sendSotw({ typeUrl: TYPE_URL.HEALTH_INFO, ...(errorDetail ? { errorDetail } : {}) });
    this.healthReports++;
    this.events.healthReport?.(this.index, healthy);
    if (!transition) return;
    this.pendingHealth = { healthy, at: this.now() };
    this.opts.tap?.healthReported(this, healthy, this.pendingHealth.at);
    // Already in the expected EDS state (e.g. healthy and visible): converged at once.
    if (this.visibleReported && this.visible === healthy) {
      this.events.healthConverged?.(this.index, 0);
      this.pendingHealth = undefined;
    }
  }

  private onHealth(healthy: boolean, message: string): void {
    // No stream: the state goes out with the next stream's initial requests.
    if (this.call) this.sendHealth(healthy, message, true);
  }

  private shouldNack(typeUrl: string): boolean {
    const n = this.opts.nack;
    if (!n || n.probability <= 0) return false;
    if (n.types === 'cds' && typeUrl !== TYPE_URL.CLUSTER) return false;
    if (n.types === 'eds' && typeUrl !== TYPE_URL.ENDPOINT) return false;
    return this.rng() < n.probability;
  }

  // ---- responses ----------------------------------------------------------------------------

  private onData(buf: Buffer): void {
    const at = this.now();
    if (!this.gotFirstResponse) {
      this.gotFirstResponse = true;
      if (this.call) this.established(this.call);
      this.backoff.reset();
    }
    this.bytesReceived += buf.length;
    this.responses++;
    const tap = this.opts.tap;
    if (tap) {
      this.streamStartedAt ??= at;
      tap.response(this, at);
    }
    try {
      if (this.opts.mode === 'delta') this.onDelta(buf, at);
      else this.onSotw(buf, at);
    } catch (err) {
      this.fail('bad-response', (err as Error).message);
    }
  }

  private latency(typeUrl: string, r: { versionInfo: string; nonce: string; controlPlane: string }, at: number): number | undefined {
    const marker = this.opts.pushMarker?.(r);
    const prev = this.types.get(typeUrl)?.lastAt;
    if (marker !== undefined) return Math.max(0, at - marker);
    return prev !== undefined && prev > 0 ? at - prev : undefined;
  }

  private onSotw(buf: Buffer, at: number): void {
    const r: SotwResponse = decodeSotwResponse(buf);
    this.events.response?.(this.index, r.typeUrl, buf.length, this.latency(r.typeUrl, r, at));
    const prev = this.types.get(r.typeUrl);
    const state: TypeState = prev ?? { version: '', nonce: '', lastAt: 0 };
    state.lastAt = at;
    state.nonce = r.nonce;
    this.types.set(r.typeUrl, state);

    if (this.shouldNack(r.typeUrl)) {
      // Envoy keeps the last good version and names; only the nonce moves on.
      this.sendSotw({
        typeUrl: r.typeUrl,
        versionInfo: state.version,
        responseNonce: r.nonce,
        resourceNames: r.typeUrl === TYPE_URL.ENDPOINT ? this.edsNames : [],
        errorDetail: { code: INTERNAL, message: 'xdsim agent: simulated rejection' },
      });
      this.events.nack?.(this.index, r.typeUrl);
      return;
    }
    state.version = r.versionInfo;

    if (r.typeUrl === TYPE_URL.CLUSTER) {
      const names = new Set<string>(this.opts.subscription?.eds ?? []);
      for (const res of r.resources) {
        const c = clusterInfo(res);
        if (c.edsName) names.add(c.edsName);
      }
      const next = [...names].sort();
      this.sendSotw({ typeUrl: TYPE_URL.CLUSTER, versionInfo: r.versionInfo, responseNonce: r.nonce, resourceNames: [] });
      this.events.ack?.(this.index, r.typeUrl);
      if (!sameList(next, this.edsNames)) {
        const removed = this.edsNames.filter((n) => !names.has(n));
        this.edsNames = next;
        for (const n of removed) {
          this.setPresence(n, false, at);
          this.clusterFirstAt.delete(n);
        }
        const eds = this.types.get(TYPE_URL.ENDPOINT);
        this.sendSotw({
          typeUrl: TYPE_URL.ENDPOINT,
          resourceNames: next,
          ...(eds ? { versionInfo: eds.version, responseNonce: eds.nonce } : {}),
        });
      }
      return;
    }

    if (r.typeUrl === TYPE_URL.ENDPOINT) {
      const watch = this.opts.watchSelf !== false;
      const observe = this.opts.onEndpoints;
      const tap = this.opts.tap;
      if (watch || observe || tap) {
        for (const res of r.resources) {
          const cluster = claClusterName(res);
          if (watch) this.setPresence(cluster, containsNeedle(res, this.needle), at);
          observe?.(cluster, res, at);
          if (tap) this.tapEndpoints(tap, cluster, res, at);
        }
      }
    }
    this.sendSotw({
      typeUrl: r.typeUrl,
      versionInfo: r.versionInfo,
      responseNonce: r.nonce,
      resourceNames: r.typeUrl === TYPE_URL.ENDPOINT ? this.edsNames : [],
    });
    this.events.ack?.(this.index, r.typeUrl);
  }

  private tapEndpoints(tap: AgentTap, cluster: string, cla: Uint8Array, at: number): void {
    const first = !this.clusterFirstAt.has(cluster);
    if (first) this.clusterFirstAt.set(cluster, at);
    tap.endpoints(this, cluster, cla, at, first);
  }

  private onDelta(buf: Buffer, at: number): void {
    const r = decodeDeltaResponse(buf);
    this.events.response?.(
      this.index,
      r.typeUrl,
      buf.length,
      this.latency(r.typeUrl, { versionInfo: r.systemVersionInfo, nonce: r.nonce, controlPlane: '' }, at),
    );
    const state: TypeState = this.types.get(r.typeUrl) ?? { version: '', nonce: '', lastAt: 0 };
    state.lastAt = at;
    state.nonce = r.nonce;
    this.types.set(r.typeUrl, state);

    if (this.shouldNack(r.typeUrl)) {
      this.sendDelta({ typeUrl: r.typeUrl, responseNonce: r.nonce, errorDetail: { code: INTERNAL, message: 'xdsim agent: simulated rejection' } });
      this.events.nack?.(this.index, r.typeUrl);
      return;
    }
    let versions = this.deltaVersions.get(r.typeUrl);
    if (!versions) this.deltaVersions.set(r.typeUrl, (versions = new Map()));
    for (const res of r.resources) versions.set(res.name, res.version);
    for (const name of r.removed) versions.delete(name);

    if (r.typeUrl === TYPE_URL.CLUSTER) {
      for (const res of r.resources) this.deltaClusters.set(res.name, res.value.length > 0 ? clusterInfo(res.value).edsName : undefined);
      for (const name of r.removed) this.deltaClusters.delete(name);
      this.sendDelta({ typeUrl: r.typeUrl, responseNonce: r.nonce });
      this.events.ack?.(this.index, r.typeUrl);
      const want = new Set<string>(this.opts.subscription?.eds ?? []);
      for (const eds of this.deltaClusters.values()) if (eds) want.add(eds);
      const have = new Set(this.edsNames);
      const subscribe = [...want].filter((n) => !have.has(n));
      const unsubscribe = [...have].filter((n) => !want.has(n));
      if (subscribe.length > 0 || unsubscribe.length > 0) {
        this.edsNames = [...want].sort();
        for (const n of unsubscribe) {
          this.setPresence(n, false, at);
          this.clusterFirstAt.delete(n);
          this.deltaVersions.get(TYPE_URL.ENDPOINT)?.delete(n);
        }
        this.sendDelta({ typeUrl: TYPE_URL.ENDPOINT, subscribe, unsubscribe });
      }
      return;
    }
    if (r.typeUrl === TYPE_URL.ENDPOINT) {
      const watch = this.opts.watchSelf !== false;
      const observe = this.opts.onEndpoints;
      const tap = this.opts.tap;
      for (const res of r.resources) {
        const cluster = res.name || claClusterName(res.value);
        if (watch) this.setPresence(cluster, containsNeedle(res.value, this.needle), at);
        observe?.(cluster, res.value, at);
        if (tap) this.tapEndpoints(tap, cluster, res.value, at);
      }
      for (const name of r.removed) {
        if (watch) this.setPresence(name, false, at);
        observe?.(name, undefined, at);
        if (tap) {
          tap.endpoints(this, name, undefined, at, false);
          this.clusterFirstAt.delete(name);
        }
      }
    }
    this.sendDelta({ typeUrl: r.typeUrl, responseNonce: r.nonce });
    this.events.ack?.(this.index, r.typeUrl);
  }
}

/**
 * An IP literal goes through grpc-js's `ipv4:`/`ipv6:` resolver: the default `dns:` one builds a
 * c-ares resolver per channel, a measurable share of an agent's connect cost in a storm of
 * thousands. The default authority (and so TLS name checks) is the same `host:port` either way.
 */
export function channelTarget(target: string): string {
  if (/^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(target)) return `ipv4:${target}`;
  if (/^\[[0-9a-fA-F:.]+\]:\d+$/.test(target)) return `ipv6:${target}`;
  return target;
}

/** The HTTP/2 session a ping can be sent on (Node's ClientHttp2Session, as far as we use it). */
interface PingableSession {
  ping(callback: (err: Error | null) => void): boolean;
}

/**
 * The HTTP/2 session carrying a grpc-js client call: 'pending' while the call is not on a
 * connection yet, undefined when the shape is not the one known (grpc-js keeps these private).
 * The chain in grpc-js 1.14: ClientDuplexStream.call (InterceptingCall) -> nextCall / call ->
 * ResolvingCall.child (RetryingCall) -> underlyingCalls[].call (LoadBalancingCall) -> child
 * (Http2SubchannelCall) -> http2Stream.session.
 */
export function streamSession(call: object): PingableSession | 'pending' | undefined {
  const queue: unknown[] = [(call as { call?: unknown }).call];
  let pending = false;
  for (let seen = 0; queue.length > 0 && seen < 16; seen++) {
    const node = queue.shift();
    if (!node || typeof node !== 'object') continue;
    const o = node as Record<string, unknown>;
    const stream = o['http2Stream'] as { session?: { ping?: unknown; destroyed?: boolean } } | undefined;
    if (stream && typeof stream === 'object') {
      const session = stream.session;
      if (session && typeof session.ping === 'function') return session as unknown as PingableSession;
      return 'pending';
    }
    // A call layer whose next layer does not exist yet (no config, no pick, no stream).
    if ('child' in o && (o['child'] === null || o['child'] === undefined)) pending = true;
    for (const k of ['nextCall', 'call', 'child']) if (o[k]) queue.push(o[k]);
    const under = o['underlyingCalls'];
    if (Array.isArray(under)) {
      if (under.length === 0) pending = true;
      for (const u of under) queue.push((u as { call?: unknown }).call);
    }
  }
  return pending ? 'pending' : undefined;
}

let warned = false;
function warnOnce(message: string): void {
  if (warned) return;
  warned = true;
  process.emitWarning(message);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
