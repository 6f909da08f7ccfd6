// The few xDS messages a simulated agent sends and reads, written and scanned by hand.
//
// Why not protobufjs/proto-loader here: a fleet runs thousands of agents per thread, and each
// needs only a handful of fields (version, nonce, type URL, cluster names, endpoint addresses).
// Fully decoding every DiscoveryResponse into objects would cost more CPU and garbage than the
// rest of the agent together. The Node is the one rich message; it is encoded once per identity
// with protobufjs (see identity.ts) and spliced in as bytes.
//
// Field numbers: envoy/service/discovery/v3/discovery.proto, envoy/config/cluster/v3/cluster.proto,
// envoy/config/endpoint/v3/*.proto, envoy/config/core/v3/address.proto, google/rpc/status.proto.

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

// ---- writing -------------------------------------------------------------------------------

class Writer {
  private parts: Uint8Array[] = [];
  private len = 0;

  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.len += b.length;
  }

  varintField(field: number, n: number): this {
    if (n === 0) return this;
    this.push(varintBytes((field << 3) | WIRE_VARINT));
    this.push(varintBytes(n));
    return this;
  }

  bytesField(field: number, bytes: Uint8Array, emitEmpty = false): this {
    if (bytes.length === 0 && !emitEmpty) return this;
    this.push(varintBytes((field << 3) | WIRE_LEN));
    this.push(varintBytes(bytes.length));
    this.push(bytes);
    return this;
  }

  /** A length-delimited field whose bytes are the concatenation of `parts` (none copied). */
  partsField(field: number, parts: readonly Uint8Array[]): this {
    let n = 0;
    for (const p of parts) n += p.length;
    this.push(varintBytes((field << 3) | WIRE_LEN));
    this.push(varintBytes(n));
    for (const p of parts) this.push(p);
    return this;
  }

  stringField(field: number, s: string | undefined, emitEmpty = false): this {
    if (s === undefined) return this;
    return this.bytesField(field, Buffer.from(s, 'utf8'), emitEmpty);
  }

  finish(): Buffer {
    return Buffer.concat(this.parts, this.len);
  }
}

/** Tags and most lengths are one byte: shared, so writing them allocates nothing. */
const ONE_BYTE: readonly Uint8Array[] = Array.from({ length: 128 }, (_, i) => Uint8Array.of(i));

function varintBytes(n: number): Uint8Array {
  if (n < 128) return ONE_BYTE[n]!;
  const out: number[] = [];
  while (n >= 128) {
    out.push((n % 128) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Uint8Array.from(out);
}

export interface ErrorDetail {
  /** google.rpc.Code: 13 INTERNAL for health, 3 INVALID_ARGUMENT is what Envoy uses for NACKs. */
  code: number;
  message: string;
}

export interface SotwRequest {
  versionInfo?: string;
  /**
   * Pre-encoded envoy.config.core.v3.Node (sent on a stream's first request), whole or in parts
   * written back to back (identity.ts: the agent's own bytes, then its group's shared ones).
   */
  node?: Uint8Array | readonly Uint8Array[];
  resourceNames?: readonly string[];
  typeUrl: string;
  responseNonce?: string;
  errorDetail?: ErrorDetail;
}

function encodeStatus(e: ErrorDetail): Buffer {
  return new Writer().varintField(1, e.code >>> 0).stringField(2, e.message).finish();
}

function nodeField(w: Writer, field: number, node: Uint8Array | readonly Uint8Array[]): void {
  if (node instanceof Uint8Array) w.bytesField(field, node, true);
  else w.partsField(field, node);
}

/** envoy.service.discovery.v3.DiscoveryRequest bytes. */
export function encodeSotwRequest(r: SotwRequest): Buffer {
  const w = new Writer().stringField(1, r.versionInfo);
  if (r.node) nodeField(w, 2, r.node);
  for (const n of r.resourceNames ?? []) w.stringField(3, n, true);
  w.stringField(4, r.typeUrl).stringField(5, r.responseNonce);
  // An empty Status still marks a NACK, so it is written even when code and message are empty.
  if (r.errorDetail) w.bytesField(6, encodeStatus(r.errorDetail), true);
  return w.finish();
}

export interface DeltaRequest {
  node?: Uint8Array | readonly Uint8Array[];
  typeUrl: string;
  subscribe?: readonly string[];
  unsubscribe?: readonly string[];
  initialVersions?: ReadonlyMap<string, string>;
  responseNonce?: string;
  errorDetail?: ErrorDetail;
}

/** envoy.service.discovery.v3.DeltaDiscoveryRequest bytes. */
export function encodeDeltaRequest(r: DeltaRequest): Buffer {
  const w = new Writer();
  if (r.node) nodeField(w, 1, r.node);
  w.stringField(2, r.typeUrl);
  for (const n of r.subscribe ?? []) w.stringField(3, n, true);
  for (const n of r.unsubscribe ?? []) w.stringField(4, n, true);
  for (const [k, v] of r.initialVersions ?? []) {
    w.bytesField(5, new Writer().stringField(1, k).stringField(2, v).finish(), true);
  }
  w.stringField(6, r.responseNonce);
  if (r.errorDetail) w.bytesField(7, encodeStatus(r.errorDetail), true);
  return w.finish();
}

// ---- reading -------------------------------------------------------------------------------

/** Calls `fn(field, wireType, start, end, varint)` for each field of the message in buf[start, end). */
function forEachField(
  buf: Uint8Array,
  start: number,
  end: number,
  fn: (field: number, wire: number, s: number, e: number, v: number) => void,
): void {
  let pos = start;
  while (pos < end) {
    let tag = 0;
    let shift = 1;
    let b: number;
    do {
      if (pos >= end) throw new Error('truncated tag');
      b = buf[pos++]!;
      tag += (b & 127) * shift;
      shift *= 128;
    } while (b >= 128);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    switch (wire) {
      case WIRE_VARINT: {
        let v = 0;
        let sh = 1;
        do {
          if (pos >= end) throw new Error('truncated varint');
          b = buf[pos++]!;
          v += (b & 127) * sh;
          sh *= 128;
        } while (b >= 128);
        fn(field, wire, pos, pos, v);
        break;
      }
      case WIRE_LEN: {
        let len = 0;
        let sh = 1;
        do {
          if (pos >= end) throw new Error('truncated length');
          b = buf[pos++]!;
          len += (b & 127) * sh;
          sh *= 128;
        } while (b >= 128);
        if (pos + len > end) throw new Error('length past end of message');
        fn(field, wire, pos, pos + len, 0);
        pos += len;
        break;
      }
      case WIRE_I64:
        pos += 8;
        break;
      case WIRE_I32:
        pos += 4;
        break;
      default:
        throw new Error(`unsupported wire type ${wire}`);
    }
    if (pos > end) throw new Error('field past end of message');
  }
}

const utf8 = new TextDecoder();
const str = (buf: Uint8Array, s: number, e: number): string => utf8.decode(buf.subarray(s, e));

/** The parts of a DiscoveryResponse an agent uses; resources are the Any values, undecoded. */
export interface SotwResponse {
  versionInfo: string;
  typeUrl: string;
  nonce: string;
  resources: Uint8Array[];
  controlPlane: string;
}

export function decodeSotwResponse(buf: Uint8Array): SotwResponse {
  const out: SotwResponse = { versionInfo: '', typeUrl: '', nonce: '', resources: [], controlPlane: '' };
  forEachField(buf, 0, buf.length, (f, w, s, e) => {
    if (w !== WIRE_LEN) return;
    if (f === 1) out.versionInfo = str(buf, s, e);
    else if (f === 2) out.resources.push(anyValue(buf, s, e));
    else if (f === 4) out.typeUrl = str(buf, s, e);
    else if (f === 5) out.nonce = str(buf, s, e);
    else if (f === 6) forEachField(buf, s, e, (f2, w2, s2, e2) => {
      if (f2 === 1 && w2 === WIRE_LEN) out.controlPlane = str(buf, s2, e2);
    });
  });
  return out;
}

function anyValue(buf: Uint8Array, s: number, e: number): Uint8Array {
  let value: Uint8Array = new Uint8Array(0);
  forEachField(buf, s, e, (f, w, s2, e2) => {
    if (f === 2 && w === WIRE_LEN) value = buf.subarray(s2, e2);
  });
  return value;
}

export interface DeltaResource {
  name: string;
  version: string;
  /** The Any value (resource bytes); empty for a resource sent without body. */
  value: Uint8Array;
}

export interface DeltaResponse {
  systemVersionInfo: string;
  typeUrl: string;
  nonce: string;
  resources: DeltaResource[];
  removed: string[];
}

export function decodeDeltaResponse(buf: Uint8Array): DeltaResponse {
  const out: DeltaResponse = { systemVersionInfo: '', typeUrl: '', nonce: '', resources: [], removed: [] };
  forEachField(buf, 0, buf.length, (f, w, s, e) => {
    if (w !== WIRE_LEN) return;
    if (f === 1) out.systemVersionInfo = str(buf, s, e);
    else if (f === 4) out.typeUrl = str(buf, s, e);
    else if (f === 5) out.nonce = str(buf, s, e);
    else if (f === 6) out.removed.push(str(buf, s, e));
    else if (f === 2) {
      const r: DeltaResource = { name: '', version: '', value: new Uint8Array(0) };
      forEachField(buf, s, e, (f2, w2, s2, e2) => {
        if (w2 !== WIRE_LEN) return;
        if (f2 === 1) r.version = str(buf, s2, e2);
        else if (f2 === 2) r.value = anyValue(buf, s2, e2);
        else if (f2 === 3) r.name = str(buf, s2, e2);
      });
      out.resources.push(r);
    }
  });
  return out;
}

const CLUSTER_TYPE_EDS = 3;

export interface ClusterInfo {
  name: string;
  /** The name to ask EDS for (eds_cluster_config.service_name, else the cluster name); undefined when not EDS. */
  edsName: string | undefined;
}

/** envoy.config.cluster.v3.Cluster -> its name and, for EDS clusters, the EDS resource name. */
export function clusterInfo(buf: Uint8Array): ClusterInfo {
  let name = '';
  let type = 0;
  let serviceName = '';
  forEachField(buf, 0, buf.length, (f, w, s, e, v) => {
    if (f === 1 && w === WIRE_LEN) name = str(buf, s, e);
    else if (f === 2 && w === WIRE_VARINT) type = v;
    else if (f === 3 && w === WIRE_LEN) {
      forEachField(buf, s, e, (f2, w2, s2, e2) => {
        if (f2 === 2 && w2 === WIRE_LEN) serviceName = str(buf, s2, e2);
      });
    }
  });
  return { name, edsName: type === CLUSTER_TYPE_EDS ? serviceName || name : undefined };
}

/** ClusterLoadAssignment.cluster_name without decoding the endpoints. */
export function claClusterName(buf: Uint8Array): string {
  let name = '';
  forEachField(buf, 0, buf.length, (f, w, s, e) => {
    if (f === 1 && w === WIRE_LEN) name = str(buf, s, e);
  });
  return name;
}

/** envoy.config.core.v3.HealthStatus numbers: 0 UNKNOWN, 1 HEALTHY, 2 UNHEALTHY, 3 DRAINING, 4 TIMEOUT, 5 DEGRADED. */
export interface ClaEndpoint {
  address: string;
  port: number;
  healthStatus: number;
}

/** Every endpoint address in a ClusterLoadAssignment (for observers that track many IPs at once). */
export function claEndpoints(buf: Uint8Array): ClaEndpoint[] {
  const out: ClaEndpoint[] = [];
  forEachField(buf, 0, buf.length, (f, w, s, e) => {
    if (f !== 2 || w !== WIRE_LEN) return; // LocalityLbEndpoints
    forEachField(buf, s, e, (f2, w2, s2, e2) => {
      if (f2 !== 2 || w2 !== WIRE_LEN) return; // LbEndpoint
      const ep: ClaEndpoint = { address: '', port: 0, healthStatus: 0 };
      forEachField(buf, s2, e2, (f3, w3, s3, e3, v3) => {
        if (f3 === 2 && w3 === WIRE_VARINT) ep.healthStatus = v3;
        else if (f3 === 1 && w3 === WIRE_LEN) socketAddressInto(buf, s3, e3, ep);
      });
      out.push(ep);
    });
  });
  return out;
}

function socketAddressInto(buf: Uint8Array, s: number, e: number, ep: ClaEndpoint): void {
  // Endpoint.address(1) -> Address.socket_address(1) -> SocketAddress.address(2), port_value(3)
  forEachField(buf, s, e, (f, w, s2, e2) => {
    if (f !== 1 || w !== WIRE_LEN) return;
    forEachField(buf, s2, e2, (f2, w2, s3, e3) => {
      if (f2 !== 1 || w2 !== WIRE_LEN) return;
      forEachField(buf, s3, e3, (f3, w3, s4, e4, v4) => {
        if (f3 === 2 && w3 === WIRE_LEN) ep.address = str(buf, s4, e4);
        else if (f3 === 3 && w3 === WIRE_VARINT) ep.port = v4;
      });
    });
  });
}

/**
 * The bytes `SocketAddress.address = ip` is encoded as (tag, length, text). Searching a CLA for
 * them is a native memory scan, and the length byte keeps "10.0.0.1" from matching inside
 * "10.0.0.10", so an agent can check its own presence without decoding anything.
 */
export function addressNeedle(ip: string): Buffer {
  const text = Buffer.from(ip, 'utf8');
  return Buffer.concat([Buffer.from([(2 << 3) | WIRE_LEN]), Buffer.from(varintBytes(text.length)), text]);
}

export function containsNeedle(buf: Uint8Array, needle: Buffer): boolean {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return b.indexOf(needle) >= 0;
}
