// Assembles ClusterLoadAssignment bytes from cached fragments: a view costs one allocation and a
// copy of each locality group's bytes. Field numbers from envoy/config/endpoint/v3/endpoint*.proto.
import { copyRange, lenFieldSize, tag, varintSize, writeLenHeader, writeVarint, WIRE_LEN, WIRE_VARINT } from './wire.js';

const CLA_CLUSTER_NAME = 1;
const CLA_ENDPOINTS = 2;
const LLE_WEIGHT = 3; // google.protobuf.UInt32Value load_balancing_weight
const LLE_PRIORITY = 5;
const UINT32_VALUE = 1;

/** ClusterLoadAssignment.endpoints; one byte, as are the other tags. */
export const CLA_ENDPOINTS_TAG = tag(CLA_ENDPOINTS, WIRE_LEN);
const WEIGHT_TAG = tag(LLE_WEIGHT, WIRE_LEN);
const PRIORITY_TAG = tag(LLE_PRIORITY, WIRE_VARINT);
const VALUE_TAG = tag(UINT32_VALUE, WIRE_VARINT);

/** A locality group's cached bytes (see LocalityGroup in src/eds/cluster-endpoints.ts). */
export interface EncodedLocality {
  /** The `locality` field followed by every `lb_endpoints` field. */
  readonly body: Uint8Array;
  readonly localityField: Uint8Array;
  /** Their offsets are valid once `body` has been read. */
  readonly endpoints: readonly EncodedEndpointField[];
}

/** Where one `lb_endpoints` field (tag, length, LbEndpoint) sits in its locality's `body`. */
export interface EncodedEndpointField {
  readonly fieldOffset: number;
  readonly fieldLength: number;
}

/** One LocalityLbEndpoints to write: a locality's whole body, or the endpoints a rule kept. */
export interface GroupToWrite {
  readonly source: EncodedLocality;
  /** `source.endpoints` itself when whole (the cached body is copied), else the kept subset. */
  readonly endpoints: readonly EncodedEndpointField[];
  readonly weight: number;
  readonly priority: number;
}

export function clusterNameField(name: string): Uint8Array {
  const utf8 = Buffer.from(name, 'utf8');
  const out = new Uint8Array(lenFieldSize(CLA_CLUSTER_NAME, utf8.length));
  out.set(utf8, writeLenHeader(out, 0, CLA_CLUSTER_NAME, utf8.length));
  return out;
}

/** Bytes of a LocalityLbEndpoints after its body: the weight and a nonzero priority. */
export function localityLbEndpointsTailSize(weight: number, priority: number): number {
  // UInt32Value with value 0 is an empty message; protobufjs still writes the (empty) field.
  // A negative weight is none at all: a group split horizon emptied (src/eds/network-view.ts).
  const w = weight === 0 ? 2 : weight < 0 ? 0 : 3 + varintSize(weight);
  return priority === 0 ? w : w + 1 + varintSize(priority);
}

/** Writes the weight and a nonzero priority of a LocalityLbEndpoints; returns the end. */
export function writeLocalityLbEndpointsTail(out: Uint8Array, pos: number, weight: number, priority: number): number {
  if (weight < 0) {
    // no weight field
  } else if (weight === 0) {
    out[pos++] = WEIGHT_TAG;
    out[pos++] = 0;
  } else {
    out[pos++] = WEIGHT_TAG;
    pos = writeVarint(out, pos, 1 + varintSize(weight));
    out[pos++] = VALUE_TAG;
    pos = writeVarint(out, pos, weight);
  }
  if (priority !== 0) {
    out[pos++] = PRIORITY_TAG;
    pos = writeVarint(out, pos, priority);
  }
  return pos;
}

/** Size of a group the rules cut: its locality and the kept endpoints' fields. */
function partialBodySize(g: GroupToWrite): number {
  let n = g.source.localityField.length;
  for (const e of g.endpoints) n += e.fieldLength;
  return n;
}

/** Group sizes between the two passes of an assembly; assembly is synchronous, so one suffices. */
const sizes: number[] = [];

/**
 * One pass sizes every group, one allocation holds the message, and one more pass writes it:
 * framing bytes inline, cached bodies copied whole. This runs once per view build.
 */
export function assembleClusterLoadAssignment(nameField: Uint8Array, groups: readonly GroupToWrite[]): Uint8Array {
  const n = groups.length;
  let total = nameField.length;
  for (let i = 0; i < n; i++) {
    const g = groups[i]!;
    // Reading body first also brings the endpoints' offsets up to date.
    const whole = g.source.body.length;
    const size = (g.endpoints === g.source.endpoints ? whole : partialBodySize(g)) + localityLbEndpointsTailSize(g.weight, g.priority);
    sizes[i] = size;
    total += 1 + varintSize(size) + size;
  }
  const out = Buffer.allocUnsafeSlow(total);
  out.set(nameField, 0);
  let pos = nameField.length;
  for (let i = 0; i < n; i++) {
    const g = groups[i]!;
    const source = g.source;
    const body = source.body;
    out[pos++] = CLA_ENDPOINTS_TAG;
    pos = writeVarint(out, pos, sizes[i]!);
    if (g.endpoints === source.endpoints) {
      out.set(body, pos);
      pos += body.length;
    } else {
      out.set(source.localityField, pos);
      pos += source.localityField.length;
      for (const e of g.endpoints) {
        copyRange(body, e.fieldOffset, e.fieldLength, out, pos);
        pos += e.fieldLength;
      }
    }
    pos = writeLocalityLbEndpointsTail(out, pos, g.weight, g.priority);
  }
  if (pos !== total) throw new Error(`ClusterLoadAssignment size mismatch: wrote ${pos} of ${total}`);
  return out;
}
