// The xDS schema as protobufjs reflection, loaded once from our trimmed `proto/` tree.
//
// Field-name decision: the Root is loaded with `keepCase: true`, so message objects use the
// .proto field names (snake_case). That is what @grpc/proto-loader hands us with
// `keepCase: true` (src/proto/services.ts), so DiscoveryRequests from grpc-js and the
// resources we build use one naming scheme and need no renaming in between. protobufjs' own
// Any support also hard-codes the `type_url` / `value` names, so with camelCase names
// `fromObject({'@type': ...})` and `toObject(..., {json: true})` would not recognise Any.
// Only the canonical JSON output (`toCanonicalJson`) uses lowerCamelCase, as proto3 JSON
// requires.
//
// Well-known types (google/protobuf/{any,duration,struct,wrappers,timestamp,empty}.proto) are
// not in proto/: protobufjs ships them and resolves those imports before asking
// `resolvePath`, so nothing from @grpc/grpc-js-xds (a dev dependency) is needed at runtime.
// Those bundled definitions ignore keepCase: Any is `type_url`/`value`, but Struct's Value has
// camelCase members (`stringValue`, `structValue`...); `toStruct`/`fromStruct` deal with that.
//
// Canonical JSON uses protobufjs' ProtoJSON extension (protobufjs/ext/protojson.js) rather than
// `toObject` fix-ups: `toObject(..., {json: true})` expands Any with `@type` but keeps the
// wrappers as `{value}` objects, durations as {seconds, nanos} and the names as declared.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import protojson from 'protobufjs/ext/protojson.js';
import type { Any, Struct, StructValue } from './messages.js';

export type * from './messages.js';

/** Absolute path of the `proto/` directory (include root for both loaders). */
export const PROTO_DIR: string = fileURLToPath(new URL('../../proto/', import.meta.url));

const TYPE_URL_PREFIX = 'type.googleapis.com/';

/** Type URLs xdsim sends or receives. */
export const TYPE_URL = Object.freeze({
  CLUSTER: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  LISTENER: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  ROUTE: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  ENDPOINT: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  HTTP_CONNECTION_MANAGER:
    'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  ROUTER: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
  /** The fault filter istiod puts before the router in a proxyless client's listener. */
  FAULT: 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
  /** The retry host predicate of istiod's default retry policy. */
  PREVIOUS_HOSTS: 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate',
  /** Istio's health report pseudo-type: no body, only DiscoveryRequest.error_detail (SPEC §7). */
  HEALTH_INFO: 'type.googleapis.com/istio.v1.HealthInformation',
} as const);

export type TypeUrl = (typeof TYPE_URL)[keyof typeof TYPE_URL];

/** Short name -> fully qualified protobuf name of the message types xdsim uses. */
export const MESSAGE_TYPES = Object.freeze({
  ClusterLoadAssignment: 'envoy.config.endpoint.v3.ClusterLoadAssignment',
  LocalityLbEndpoints: 'envoy.config.endpoint.v3.LocalityLbEndpoints',
  LbEndpoint: 'envoy.config.endpoint.v3.LbEndpoint',
  Endpoint: 'envoy.config.endpoint.v3.Endpoint',
  Cluster: 'envoy.config.cluster.v3.Cluster',
  Listener: 'envoy.config.listener.v3.Listener',
  RouteConfiguration: 'envoy.config.route.v3.RouteConfiguration',
  HttpConnectionManager: 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  Router: 'envoy.extensions.filters.http.router.v3.Router',
  Node: 'envoy.config.core.v3.Node',
  DiscoveryRequest: 'envoy.service.discovery.v3.DiscoveryRequest',
  DiscoveryResponse: 'envoy.service.discovery.v3.DiscoveryResponse',
  DeltaDiscoveryRequest: 'envoy.service.discovery.v3.DeltaDiscoveryRequest',
  DeltaDiscoveryResponse: 'envoy.service.discovery.v3.DeltaDiscoveryResponse',
  Resource: 'envoy.service.discovery.v3.Resource',
  Status: 'google.rpc.Status',
  Any: 'google.protobuf.Any',
  Struct: 'google.protobuf.Struct',
  Duration: 'google.protobuf.Duration',
} as const);

export type MessageName = keyof typeof MESSAGE_TYPES;

/** A message type given by short name, fully qualified name, or type URL. */
export type TypeRef = MessageName | string;

function listProtoFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listProtoFiles(full));
    else if (entry.name.endsWith('.proto')) out.push(full);
  }
  return out.sort();
}

function loadRoot(): protobuf.Root {
  const r = new protobuf.Root();
  r.resolvePath = (_origin: string, target: string): string =>
    path.isAbsolute(target) ? target : path.join(PROTO_DIR, target);
  r.loadSync(listProtoFiles(PROTO_DIR), { keepCase: true });
  r.resolveAll();
  return r;
}

/** Every type from proto/ plus the bundled well-known types; snake_case field names. */
export const root: protobuf.Root = loadRoot();

function fullNameOf(ref: TypeRef): string {
  if (Object.hasOwn(MESSAGE_TYPES, ref)) return MESSAGE_TYPES[ref as MessageName];
  const slash = ref.lastIndexOf('/');
  const name = slash >= 0 ? ref.slice(slash + 1) : ref;
  return name.startsWith('.') ? name.slice(1) : name;
}

/** Looks a message type up by short name, full name or type URL; throws if we don't have it. */
export function getType(ref: TypeRef): protobuf.Type {
  const fullName = fullNameOf(ref);
  // protobufjs resolves even a leading-dot name by searching nested namespaces, so a bare
  // "Metadata" would match some envoy.*.Metadata; insist on the exact full name.
  const found = root.lookup(`.${fullName}`);
  if (!(found instanceof protobuf.Type) || found.fullName !== `.${fullName}`) {
    throw new Error(`xdsim proto: no message type "${fullName}" (from "${ref}") in ${PROTO_DIR}`);
  }
  return found;
}

/** The message types by short name (reflection objects, resolved once). */
export const types: Readonly<Record<MessageName, protobuf.Type>> = Object.freeze(
  Object.fromEntries(
    (Object.keys(MESSAGE_TYPES) as MessageName[]).map((k) => [k, getType(k)]),
  ) as Record<MessageName, protobuf.Type>,
);

/** `type.googleapis.com/<full name>` for a type. */
export function typeUrlOf(ref: TypeRef): string {
  return TYPE_URL_PREFIX + fullNameOf(ref);
}

/** Options for `toObject`: the shapes in messages.ts (enum names, 64-bit as strings). */
export const OBJECT_OPTIONS: protobuf.IConversionOptions = Object.freeze({
  longs: String,
  enums: String,
});

/** Encodes a plain object (see messages.ts conventions) or a message instance. */
export function encode(ref: TypeRef, value: object): Uint8Array {
  const type = getType(ref);
  const message = value instanceof protobuf.Message ? value : type.fromObject(value as Record<string, unknown>);
  return type.encode(message).finish();
}

/** Decodes bytes into a message instance (use `toObject` for the plain shape). */
export function decode(ref: TypeRef, bytes: Uint8Array): protobuf.Message {
  return getType(ref).decode(bytes);
}

/** Bytes or message instance -> plain object with OBJECT_OPTIONS. */
export function toObject<T = Record<string, unknown>>(ref: TypeRef, input: Uint8Array | protobuf.Message): T {
  const type = getType(ref);
  const message = input instanceof Uint8Array ? type.decode(input) : input;
  return type.toObject(message, OBJECT_OPTIONS) as T;
}

/** Wraps a resource for DiscoveryResponse.resources / Resource.resource. */
export function packAny(ref: TypeRef, value: object): Required<Any> {
  return { type_url: typeUrlOf(ref), value: encode(ref, value) };
}

/** Unwraps an Any whose type is in our schema into a plain object. */
export function unpackAny<T = Record<string, unknown>>(any: Any): T {
  if (!any.type_url) throw new Error('xdsim proto: Any without type_url');
  return toObject<T>(any.type_url, any.value ?? new Uint8Array(0));
}

/**
 * Plain JSON -> google.protobuf.Struct message form (undefined members are dropped). The Value
 * members are camelCase (`stringValue`...) because protobufjs defines the bundled well-known
 * types that way regardless of `keepCase`.
 */
export function toStruct(json: Record<string, unknown>): Struct {
  const fields: Record<string, StructValue> = {};
  for (const [k, v] of Object.entries(json)) {
    if (v !== undefined) fields[k] = toStructValue(v);
  }
  return { fields };
}

function toStructValue(v: unknown): StructValue {
  if (v === null) return { nullValue: 'NULL_VALUE' };
  switch (typeof v) {
    case 'number':
      return { numberValue: v };
    case 'string':
      return { stringValue: v };
    case 'boolean':
      return { boolValue: v };
    case 'bigint':
      return { stringValue: v.toString() };
    case 'object':
      if (Array.isArray(v)) return { listValue: { values: v.map((x) => toStructValue(x ?? null)) } };
      return { structValue: toStruct(v as Record<string, unknown>) };
    default:
      throw new TypeError(`xdsim proto: cannot put a ${typeof v} into a Struct`);
  }
}

/** google.protobuf.Struct message form (as decoded by `toObject` or proto-loader) -> plain JSON. */
export function fromStruct(struct: Struct | null | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(struct?.fields ?? {})) out[k] = fromStructValue(v);
  return out;
}

function fromStructValue(v: StructValue | null | undefined): unknown {
  if (!v) return null;
  // proto-loader (defaults: true) fills every member, so trust the oneof discriminator first.
  switch (v.kind) {
    case 'structValue':
      return fromStruct(v.structValue);
    case 'listValue':
      return (v.listValue?.values ?? []).map(fromStructValue);
    case 'stringValue':
      return v.stringValue;
    case 'numberValue':
      return v.numberValue;
    case 'boolValue':
      return v.boolValue;
    case 'nullValue':
      return null;
  }
  if (v.structValue != null) return fromStruct(v.structValue);
  if (v.listValue != null) return (v.listValue.values ?? []).map(fromStructValue);
  if (v.stringValue != null) return v.stringValue;
  if (v.numberValue != null) return v.numberValue;
  if (v.boolValue != null) return v.boolValue;
  return null;
}

export type CanonicalJson = null | boolean | number | string | CanonicalJson[] | { [key: string]: CanonicalJson };

/**
 * The proto3 canonical JSON mapping of a message: lowerCamelCase names, enums as names,
 * wrappers as bare values, 64-bit integers and durations as strings, Any with `@type` plus the
 * packed message's fields, default values omitted. `input` is encoded bytes, a message
 * instance, or a plain object in the messages.ts shape. An Any whose type is not in our schema
 * is an error (the mapping cannot be produced without the type).
 */
export function toCanonicalJson(ref: TypeRef, input: Uint8Array | protobuf.Message | object): CanonicalJson {
  const type = getType(ref);
  let message: protobuf.Message;
  if (input instanceof Uint8Array) message = type.decode(input);
  else if (input instanceof protobuf.Message) message = input;
  else message = type.fromObject(input as Record<string, unknown>);
  return protojson.toJson(type, message) as CanonicalJson;
}
