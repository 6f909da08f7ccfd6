// A real control plane on loopback and a raw grpc-js xDS client that reads responses one by one.
import * as grpc from '@grpc/grpc-js';
import { afterEach } from 'vitest';
import { pino } from 'pino';
import type { Resource } from '../../src/config/resources.js';
import type { DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse, Node } from '../../src/proto/messages.js';
import { toObject, toStruct } from '../../src/proto/index.js';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../../src/server/control-plane.js';
import { clientDefinitions } from '../../src/xds/service-definitions.js';

export const silent = pino({ level: process.env['XDSIM_TEST_LOG'] ?? 'silent' });

export function startPlane(resources: Resource[], opts: Partial<ControlPlaneOptions> = {}): Promise<ControlPlane> {
  return startControlPlane({
    resources,
    xdsAddress: '127.0.0.1:0',
    adminAddress: '127.0.0.1:0',
    logger: silent,
    processMetrics: false,
    debounce: { debounceAfterMs: 5, debounceMaxMs: 100, enableEdsDebounce: true },
    // Tests of other behaviour register unauthenticated test nodes: istiod's identity validation
    // (on by default) is tested with tokens in test/registration/identity*.test.ts.
    validateIdentity: false,
    ...opts,
  });
}

export function node(id: string, locality?: string, metadata: Record<string, unknown> = {}): Node {
  const [region = '', zone = '', sub_zone = ''] = (locality ?? '').split('/');
  return {
    id,
    ...(locality ? { locality: { region, zone, sub_zone } } : {}),
    metadata: toStruct(metadata),
  };
}

const defs = clientDefinitions();
const AdsClient = grpc.makeGenericClientConstructor(defs.ads, 'AggregatedDiscoveryService');
const EdsClient = grpc.makeGenericClientConstructor(defs.eds, 'EndpointDiscoveryService');

/** A decoded response with its resources unpacked (type-specific plain objects). */
export interface Received<R> {
  raw: R;
  resources: Record<string, unknown>[];
}

class Queue<T> {
  private items: T[] = [];
  private waiters: ((v: T | undefined) => void)[] = [];
  ended = false;

  push(v: T): void {
    const w = this.waiters.shift();
    if (w) w(v);
    else this.items.push(v);
  }

  end(): void {
    this.ended = true;
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  next(timeoutMs: number): Promise<T | undefined> {
    const v = this.items.shift();
    if (v !== undefined) return Promise.resolve(v);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(undefined);
      }, timeoutMs);
      const done = (x: T | undefined) => {
        clearTimeout(timer);
        resolve(x);
      };
      this.waiters.push(done);
    });
  }

  get size(): number {
    return this.items.length;
  }
}

function unpack(resources: { type_url?: string; value?: Uint8Array }[] | undefined): Record<string, unknown>[] {
  return (resources ?? []).map((a) => toObject(a.type_url!, a.value!));
}

abstract class StreamClient<Req, Res> {
  protected readonly queue = new Queue<Res>();
  readonly status: Promise<grpc.StatusObject>;
  protected readonly call: grpc.ClientDuplexStream<Req, Res>;
  readonly client: grpc.Client;

  constructor(port: number, ctor: grpc.ServiceClientConstructor, methodName: string, options: grpc.ChannelOptions = {}) {
    this.client = new ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
      ...options,
    });
    this.call = (this.client as unknown as Record<string, () => grpc.ClientDuplexStream<Req, Res>>)[methodName]!.call(this.client);
    this.call.on('data', (r: Res) => this.queue.push(r));
    this.call.on('error', () => {});
    this.status = new Promise((resolve) => this.call.on('status', (s: grpc.StatusObject) => {
      this.queue.end();
      resolve(s);
    }));
  }

  send(req: Req): void {
    this.call.write(req);
  }

  /** The next response, or throws after `timeoutMs`. */
  async next(timeoutMs = 3000): Promise<Res> {
    const r = await this.queue.next(timeoutMs);
    if (r === undefined) throw new Error(`no response within ${timeoutMs}ms`);
    return r;
  }

  /** Resolves true if no response arrives within `ms`. */
  async none(ms = 150): Promise<boolean> {
    return (await this.queue.next(ms)) === undefined;
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }

  end(): void {
    this.call.end();
  }
}

export class SotwClient extends StreamClient<DiscoveryRequest, DiscoveryResponse> {
  constructor(port: number, service: 'ads' | 'eds' = 'ads', options: grpc.ChannelOptions = {}) {
    super(port, service === 'ads' ? AdsClient : EdsClient, service === 'ads' ? 'StreamAggregatedResources' : 'StreamEndpoints', options);
  }

  async recv(timeoutMs?: number): Promise<Received<DiscoveryResponse>> {
    const raw = await this.next(timeoutMs);
    return { raw, resources: unpack(raw.resources) };
  }

  /** Sends an ACK for `r` with the given names. */
  ack(r: DiscoveryResponse, names: string[]): void {
    this.send({ type_url: r.type_url!, version_info: r.version_info!, response_nonce: r.nonce!, resource_names: names });
  }
}

export class DeltaClient extends StreamClient<DeltaDiscoveryRequest, DeltaDiscoveryResponse> {
  constructor(port: number, service: 'ads' | 'eds' = 'ads', options: grpc.ChannelOptions = {}) {
    super(port, service === 'ads' ? AdsClient : EdsClient, service === 'ads' ? 'DeltaAggregatedResources' : 'DeltaEndpoints', options);
  }

  async recv(timeoutMs?: number): Promise<Received<DeltaDiscoveryResponse>> {
    const raw = await this.next(timeoutMs);
    return { raw, resources: unpack((raw.resources ?? []).map((r) => r.resource!)) };
  }
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Waits until the server has recorded the ACK of `nonce`. An ACK races any push that follows it:
 * if the push's response goes out first, the ACK carries a superseded nonce and is ignored, as
 * istiod does. Tests that ACK and then change config wait here first.
 */
export async function acked(plane: ControlPlane, nonce: string): Promise<void> {
  await waitFor(() => {
    for (const c of plane.xds.connections) for (const s of c.typeStatuses()) if (s.ackedNonce === nonce) return true;
    return false;
  }, 5000, `ACK of nonce ${nonce}`);
}

export async function admin(plane: ControlPlane, path: string, init?: RequestInit): Promise<{ status: number; text: string; json: () => unknown }> {
  const res = await fetch(`http://127.0.0.1:${plane.adminPort}${path}`, init);
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) };
}

/** The server's `xdsim_xds_rejected_requests_total{reason}`. */
export async function rejectedCount(plane: ControlPlane, reason: string): Promise<number> {
  const m = await plane.metrics.rejectedRequests.get();
  return m.values.find((v) => v.labels['reason'] === reason)?.value ?? 0;
}

/**
 * One control plane per test and the clients the test opened, all closed after each test (this
 * registers the afterEach hook: call it at the top of a test file).
 */
export function planePerTest(): { plane: ControlPlane | undefined; readonly cleanups: (() => void)[] } {
  const scope = { plane: undefined as ControlPlane | undefined, cleanups: [] as (() => void)[] };
  afterEach(async () => {
    for (const c of scope.cleanups.splice(0)) c();
    await scope.plane?.close();
    scope.plane = undefined;
  });
  return scope;
}
