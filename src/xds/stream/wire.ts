// DiscoveryResponse / DeltaDiscoveryResponse bytes spliced from pre-encoded resources, so a
// resource is serialized once per version however many streams receive it. Field numbers from
// envoy/service/discovery/v3/discovery.proto and google/protobuf/any.proto.
import { lenFieldSize, writeLenHeader } from '../../encode/wire.js';
import type { CachedResource } from '../types.js';
import type { SharedResponse } from '../cache/response-cache.js';

const ANY_TYPE_URL = 1;
const ANY_VALUE = 2;
const RESP_VERSION_INFO = 1;
const RESP_RESOURCES = 2;
const RESP_TYPE_URL = 4;
const RESP_NONCE = 5;
const DELTA_REMOVED = 6;
const RES_VERSION = 1;
const RES_RESOURCE = 2;
const RES_NAME = 3;

/** A length-delimited field holding `bytes`, as a Buffer. */
function field(fieldNo: number, bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(lenFieldSize(fieldNo, bytes.length));
  out.set(bytes, writeLenHeader(out, 0, fieldNo, bytes.length));
  return out;
}

function strField(fieldNo: number, s: string): Buffer {
  return field(fieldNo, Buffer.from(s, 'utf8'));
}

function concat(fieldNo: number, parts: readonly Uint8Array[]): Buffer {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = Buffer.allocUnsafe(lenFieldSize(fieldNo, len));
  let pos = writeLenHeader(out, 0, fieldNo, len);
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

const typeUrlFields = new Map<string, { any: Buffer; resp: Buffer }>();

function typeUrlField(typeUrl: string): { any: Buffer; resp: Buffer } {
  let f = typeUrlFields.get(typeUrl);
  if (!f) {
    f = { any: strField(ANY_TYPE_URL, typeUrl), resp: strField(RESP_TYPE_URL, typeUrl) };
    typeUrlFields.set(typeUrl, f);
  }
  return f;
}

/** The encodings of one resource version, made on first use and kept with it. */
export class EncodedResource implements CachedResource {
  private sotw?: Buffer;
  private delta?: Buffer;
  /**
   * The last SotW response made of this resource alone, by version_info: in a fan-out every
   * stream sends exactly that, so the lookup skips building a cache key per stream.
   */
  soloSotw: { versionInfo: string; response: SharedResponse } | undefined;

  constructor(
    readonly typeUrl: string,
    readonly name: string,
    readonly version: string,
    readonly bytes: Uint8Array,
  ) {}

  /** `DiscoveryResponse.resources` entry: an Any. */
  sotwField(): Buffer {
    return (this.sotw ??= concat(RESP_RESOURCES, [typeUrlField(this.typeUrl).any, field(ANY_VALUE, this.bytes)]));
  }

  /** `DeltaDiscoveryResponse.resources` entry: a Resource with name, version and the Any. */
  deltaField(): Buffer {
    return (this.delta ??= concat(RESP_RESOURCES, [
      strField(RES_VERSION, this.version),
      concat(RES_RESOURCE, [typeUrlField(this.typeUrl).any, field(ANY_VALUE, this.bytes)]),
      strField(RES_NAME, this.name),
    ]));
  }
}

function assemble(parts: readonly Uint8Array[]): Buffer {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = Buffer.allocUnsafe(len);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

export function encodeSotwResponse(typeUrl: string, versionInfo: string, resources: readonly EncodedResource[], nonce: string): Buffer {
  const parts: Uint8Array[] = [strField(RESP_VERSION_INFO, versionInfo)];
  for (const r of resources) parts.push(r.sotwField());
  parts.push(typeUrlField(typeUrl).resp, strField(RESP_NONCE, nonce));
  return assemble(parts);
}

export function encodeDeltaResponse(
  typeUrl: string,
  systemVersion: string,
  resources: readonly EncodedResource[],
  removed: readonly string[],
  nonce: string,
): Buffer {
  const parts: Uint8Array[] = [strField(RESP_VERSION_INFO, systemVersion)];
  for (const r of resources) parts.push(r.deltaField());
  parts.push(typeUrlField(typeUrl).resp, strField(RESP_NONCE, nonce));
  for (const name of removed) parts.push(strField(DELTA_REMOVED, name));
  return assemble(parts);
}
