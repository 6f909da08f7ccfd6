// Decodes xDS resources with the upstream Envoy protos (not our trimmed tree), so a field one
// server sends and our protos do not know still shows up in a comparison instead of vanishing.
// Nested Anys (typed_config, filters) are expanded by their type URL.
import path from 'node:path';
import protobuf from 'protobufjs';
import { OFFICIAL_INCLUDE_DIRS, loadOfficialRoot } from '../../proto/official.js';

/** Upstream files that carry types the servers pack into Anys but proto/ does not have. */
const EXTRA_FILES = [
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.proto',
  'envoy/extensions/filters/http/rbac/v3/rbac.proto',
  'google/protobuf/struct.proto',
  'google/protobuf/wrappers.proto',
];

let root: protobuf.Root | undefined;

function officialRoot(): protobuf.Root {
  if (root) return root;
  const r = loadOfficialRoot();
  for (const file of EXTRA_FILES) {
    for (const dir of OFFICIAL_INCLUDE_DIRS) {
      const full = path.join(dir, file);
      try {
        r.loadSync(full, { keepCase: true });
        break;
      } catch {
        // not under this include root (or already loaded): try the next one
      }
    }
  }
  r.resolveAll();
  root = r;
  return r;
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const CONVERSION: protobuf.IConversionOptions = { longs: String, enums: String, bytes: String, defaults: false, arrays: false, objects: false };

/** One packed resource (type URL + bytes) as plain JSON (snake_case field names, enums by name). */
export function decodeResource(typeUrl: string, value: Uint8Array): Json {
  const typeName = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
  let type: protobuf.Type;
  try {
    type = officialRoot().lookupType(typeName);
  } catch {
    return { '@type': typeUrl, '@unknownType': Buffer.from(value).toString('base64') };
  }
  const obj = type.toObject(type.decode(value), CONVERSION) as Record<string, unknown>;
  return expand(obj) as Json;
}

/** Replaces every `{type_url, value}` Any with its decoded message, recursively. */
function expand(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(expand);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o['type_url'] === 'string' && (typeof o['value'] === 'string' || o['value'] === undefined) && Object.keys(o).length <= 2) {
      const bytes = Buffer.from((o['value'] as string | undefined) ?? '', 'base64');
      const inner = decodeResource(o['type_url'], bytes);
      return inner && typeof inner === 'object' && !Array.isArray(inner) ? { '@type': o['type_url'], ...inner } : inner;
    }
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(o).sort()) out[k] = expand(o[k]);
    return out;
  }
  return v;
}
