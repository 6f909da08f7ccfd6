// Seeded generators of malformed xDS input: random bytes as gRPC messages, broken protobuf wire
// data, and valid protobuf with absurd values (huge name lists, giant strings, unknown type URLs,
// wrong and replayed nonces, delta unsubscribes of unknown names, NACK storms, garbage nodes),
// plus HTTP/2- and TCP-level garbage for the raw cases. One case is one stream (or connection).
import { encode, TYPE_URL } from '../proto/index.js';
import type { DeltaDiscoveryRequest, DiscoveryRequest, Node, RpcStatus } from '../proto/messages.js';
import { METHOD_PATH } from '../proto/services.js';
import { toStruct } from '../proto/index.js';
import { Rng } from '../topology/generate.js';
import { FUZZ_GROUP, FUZZ_NAMES, FUZZ_NAMESPACE } from './mesh.js';
import { randomBytes, randomText } from './mutate.js';
import { bytesField, repeatedStrings, tag, varint, varintField, WireWriter } from './wire.js';

export type XdsMethod = 'ads-sotw' | 'ads-delta' | 'eds-sotw' | 'eds-delta';

export const XDS_METHOD_PATH: Readonly<Record<XdsMethod, string>> = Object.freeze({
  'ads-sotw': METHOD_PATH.ADS_STREAM,
  'ads-delta': METHOD_PATH.ADS_DELTA,
  'eds-sotw': METHOD_PATH.EDS_STREAM,
  'eds-delta': METHOD_PATH.EDS_DELTA,
});

export const XDS_CASE_KINDS = [
  'random-bytes',
  'mutated',
  'truncated',
  'bad-wire',
  'huge-names',
  'giant-strings',
  'unknown-type',
  'wrong-nonce',
  'replayed-nonce',
  'delta-unsubscribe-unknown',
  'nack-storm',
  'health-garbage',
  'absurd-node',
  'initial-versions-flood',
  'type-hopping',
  'oversized',
] as const;
export type XdsCaseKind = (typeof XDS_CASE_KINDS)[number];

export interface XdsCase {
  seq: number;
  kind: XdsCaseKind;
  method: XdsMethod;
  /** Each one sent as one gRPC message (raw bytes, no serializer in between). */
  messages: Buffer[];
  /** After writing: half-close, cancel at once, or hold the stream open a while, then cancel. */
  finish: 'end' | 'cancel' | 'hold';
}

export interface XdsGenOptions {
  /** The server's request size limit: oversized cases go just past it. */
  maxRequestBytes: number;
  /** Share of the costly cases (giant strings and lists, oversized, storms); 1 = as designed. */
  heavy: number;
}

const TYPES = [TYPE_URL.CLUSTER, TYPE_URL.ENDPOINT, TYPE_URL.LISTENER, TYPE_URL.ROUTE] as const;
const UNKNOWN_TYPES = [
  'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
  'type.googleapis.com/envoy.config.runtime.v3.Runtime',
  'type.googleapis.com/not.a.Type',
  'type.googleapis.com/',
  'TYPE.GOOGLEAPIS.COM/ENVOY.CONFIG.CLUSTER.V3.CLUSTER',
  `${TYPE_URL.CLUSTER} `,
  `${TYPE_URL.ENDPOINT}\u0000`,
  'type.googleapis.com/envoy.api.v2.Cluster',
  '*',
  'istio.io/debug/syncz',
];

function allNames(): string[] {
  return [...FUZZ_NAMES.clusters, ...FUZZ_NAMES.listeners, ...FUZZ_NAMES.routes];
}

/** A name: mostly real ones, some near misses, some garbage. */
function fuzzName(rng: Rng): string {
  const r = rng.next();
  if (r < 0.5) return rng.pick(allNames());
  if (r < 0.65) return '*';
  if (r < 0.8) return `${rng.pick(allNames())}${rng.int(0, 9)}`;
  if (r < 0.9) return '';
  return randomText(rng, rng.int(1, 60));
}

function typeFor(rng: Rng, method: XdsMethod): string {
  if (method.startsWith('eds')) return rng.chance(0.8) ? TYPE_URL.ENDPOINT : rng.chance(0.5) ? '' : rng.pick(TYPES);
  return rng.pick(TYPES);
}

function ipGarbage(rng: Rng): string {
  const options = [
    `10.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`,
    `10.1.2.${rng.int(0, 999)}`,
    '::1',
    'fe80::1%eth0',
    'not-an-ip',
    '',
    ',,,',
    `${'1.'.repeat(rng.int(3, 40))}1`,
    randomText(rng, rng.int(1, 40)),
  ];
  return rng.pick(options);
}

/** A Node: ordinary, odd, or absurd (garbage metadata types, giant values, registration bait). */
export function fuzzNode(rng: Rng, absurd: boolean): Node {
  const id = rng.chance(0.2) ? '' : `sidecar~10.9.${rng.int(0, 255)}.${rng.int(1, 254)}~vm-${rng.int(0, 99999)}.${FUZZ_NAMESPACE}~${FUZZ_NAMESPACE}.svc.cluster.local`;
  if (!absurd) return { id, metadata: toStruct({ NAMESPACE: FUZZ_NAMESPACE }) };
  const md: Record<string, unknown> = {};
  const set = (k: string, v: unknown) => {
    if (rng.chance(0.6)) md[k] = v;
  };
  set('NAMESPACE', rng.pick([FUZZ_NAMESPACE, '', 'kube-system', randomText(rng, rng.int(0, 300)), 42, null, ['a']]));
  set('INSTANCE_IPS', rng.pick([ipGarbage(rng), `${ipGarbage(rng)},${ipGarbage(rng)}`, 7, { a: 1 }, Array.from({ length: rng.int(0, 50) }, () => ipGarbage(rng)).join(',')]));
  set('AUTO_REGISTER_GROUP', rng.pick([FUZZ_GROUP, FUZZ_GROUP, 'missing-group', '', randomText(rng, rng.int(1, 300)), 3.5, true]));
  set('WORKLOAD_ENTRY', rng.pick(['api-a', 'nope', randomText(rng, 20)]));
  set('LABELS', rng.pick([{ app: 'web' }, { [randomText(rng, 10)]: randomText(rng, 10) }, 'app=web', 12, null, [1, 2], { app: { nested: true } }]));
  set('NETWORK', rng.pick(['', 'net-1', randomText(rng, 50), false]));
  set('CLUSTER_ID', rng.pick(['Kubernetes', '', randomText(rng, 30)]));
  set('SERVICE_ACCOUNT', rng.pick(['default', '', randomText(rng, 30)]));
  set(randomText(rng, rng.int(0, 40)), randomText(rng, rng.int(0, 40)));
  if (rng.chance(0.1)) {
    // A wide struct: thousands of keys.
    for (let i = 0; i < rng.int(100, 5000); i++) md[`k${i}`] = i;
  }
  if (rng.chance(0.1)) {
    // Nested, within what the encoder accepts (deeper ones are hand-made: see deepStruct).
    let v: unknown = 'leaf';
    for (let i = 0, d = rng.int(10, 45); i < d; i++) v = { v };
    md['DEEP'] = v;
  }
  const node: Node = { id: rng.chance(0.5) ? id : randomText(rng, rng.int(0, 200)), metadata: toStruct(md) };
  if (rng.chance(0.5)) {
    node.locality = { region: rng.pick(['r1', '', '*', randomText(rng, 20)]), zone: rng.pick(['z1', '/', randomText(rng, 10)]), sub_zone: rng.pick(['s1', '', 'a/b/c']) };
  }
  if (rng.chance(0.2)) node.cluster = randomText(rng, rng.int(0, 100));
  if (rng.chance(0.2)) node.client_features = Array.from({ length: rng.int(0, 30) }, () => randomText(rng, rng.int(0, 20)));
  return node;
}

function errorDetail(rng: Rng, bigMessage = false): RpcStatus {
  const d: RpcStatus = { code: rng.pick([0, 3, 13, 2, -1, 2 ** 31 - 1]), message: bigMessage ? 'x'.repeat(rng.int(10_000, 200_000)) : randomText(rng, rng.int(0, 200)) };
  if (rng.chance(0.3)) d.details = [{ type_url: rng.pick([...UNKNOWN_TYPES, TYPE_URL.CLUSTER]), value: randomBytes(rng, rng.int(0, 100)) }];
  return d;
}

function sotw(req: DiscoveryRequest): Buffer {
  return Buffer.from(encode('DiscoveryRequest', req));
}

function delta(req: DeltaDiscoveryRequest): Buffer {
  return Buffer.from(encode('DeltaDiscoveryRequest', req));
}

/** A valid request of the method's flavour (the seed for mutations and the opener of scripts). */
function validRequest(rng: Rng, method: XdsMethod, withNode = true, absurdNode = false): Buffer {
  const type_url = typeFor(rng, method);
  const names = Array.from({ length: rng.int(0, 4) }, () => fuzzName(rng));
  const node = withNode ? { node: fuzzNode(rng, absurdNode) } : {};
  if (method.endsWith('delta')) {
    return delta({ ...node, type_url, resource_names_subscribe: names, ...(rng.chance(0.2) ? { resource_names_unsubscribe: [fuzzName(rng)] } : {}) });
  }
  return sotw({ ...node, type_url, resource_names: names, ...(rng.chance(0.2) ? { version_info: randomText(rng, 5) } : {}) });
}

function mutateBytes(rng: Rng, b: Buffer): Buffer {
  const out = [...b];
  for (let k = 0, n = rng.int(1, 6); k < n; k++) {
    const i = rng.int(0, Math.max(0, out.length - 1));
    switch (rng.int(0, 5)) {
      case 0:
        out[i] = rng.int(0, 255);
        break;
      case 1:
        out.splice(i, 0, rng.int(0, 255));
        break;
      case 2:
        out.splice(i, rng.int(1, 8));
        break;
      case 3:
        out.splice(i, 0, ...out.slice(i, i + rng.int(1, 32)));
        break;
      case 4:
        out.splice(i, 0, ...Array.from({ length: rng.int(1, 11) }, () => 0xff));
        break;
      default:
        out[i] = out[i]! ^ (1 << rng.int(0, 7));
    }
  }
  return Buffer.from(out);
}

/** Wire data no encoder would write. */
function badWire(rng: Rng, method: XdsMethod): Buffer {
  const typeField = method.endsWith('delta') ? 2 : 4;
  switch (rng.int(0, 9)) {
    case 0:
      return Buffer.concat([tag(0, 0), varint(1)]); // field number 0
    case 1:
      return Buffer.concat([tag(rng.int(1, 9), rng.pick([3, 4, 6, 7])), randomBytes2(rng, 8)]); // groups, reserved wire types
    case 2:
      return Buffer.concat([tag(typeField, 2), varint(rng.int(100, 2 ** 31)), Buffer.from('short')]); // length past the end
    case 3:
      return Buffer.concat([tag(1, 0), Buffer.alloc(rng.int(10, 20), 0xff)]); // overlong varint
    case 4:
      return bytesField(typeField, Buffer.from([0xff, 0xfe, 0xc3, 0x28])); // invalid UTF-8 in a string
    case 5:
      return varintField(typeField, rng.int(0, 2 ** 31)); // a string field sent as a varint
    case 6:
      return Buffer.concat([bytesField(typeField, TYPE_URL.ENDPOINT), tag(2, 2), varint(5), Buffer.from([0x0a, 0x80])]); // node whose id length overruns
    case 7:
      return Buffer.concat([tag(rng.int(16, 2 ** 28), 1), Buffer.alloc(8)]); // unknown fields, huge numbers (skipped)
    case 8:
      if (rng.chance(0.5)) return Buffer.concat([tag(rng.int(1, 7), 5), Buffer.alloc(rng.int(0, 3))]); // fixed32 cut short
      // Node metadata nested around protobufjs' recursion limit (100 message levels).
      return Buffer.concat([bytesField(typeField, TYPE_URL.ENDPOINT), bytesField(method.endsWith('delta') ? 1 : 2, bytesField(3, deepStruct(rng.int(40, 200))))]);
    default:
      return Buffer.concat([tag(typeField, 2), Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80])]); // unterminated length
  }
}

/** google.protobuf.Struct nested `depth` times ({a: {a: ...}}): two message levels per step. */
function deepStruct(depth: number): Buffer {
  let s: Buffer = Buffer.alloc(0);
  for (let i = 0; i < depth; i++) s = bytesField(1, Buffer.concat([bytesField(1, 'a'), bytesField(2, bytesField(5, s))]));
  return s;
}

function randomBytes2(rng: Rng, n: number): Buffer {
  return Buffer.from(randomBytes(rng, n));
}

function randomLength(rng: Rng): number {
  const r = rng.next();
  if (r < 0.15) return 0;
  if (r < 0.6) return rng.int(1, 64);
  if (r < 0.95) return rng.int(65, 2048);
  return rng.int(2049, 65_536);
}

/** Names that the caches do not have, made cheaply (giant lists). */
function manyNames(rng: Rng, count: number, prefix = `outbound|${rng.int(1, 65535)}||`): string[] {
  const distinct = Math.min(count, 5000);
  return Array.from({ length: distinct }, (_, i) => `${prefix}svc-${i}.ns-${rng.int(0, 9)}.svc.cluster.local`);
}

function pickMethod(rng: Rng): XdsMethod {
  return rng.pick(['ads-sotw', 'ads-sotw', 'ads-delta', 'eds-sotw', 'eds-delta'] as const);
}

/** Kinds weighted: cheap ones often, heavy ones (big allocations per case) scaled by `heavy`. */
function pickKind(rng: Rng, heavy: number): XdsCaseKind {
  const weights: [XdsCaseKind, number][] = [
    ['random-bytes', 14],
    ['mutated', 14],
    ['truncated', 8],
    ['bad-wire', 8],
    ['unknown-type', 7],
    ['wrong-nonce', 7],
    ['replayed-nonce', 7],
    ['delta-unsubscribe-unknown', 6],
    ['health-garbage', 5],
    ['absurd-node', 8],
    ['type-hopping', 6],
    ['huge-names', 3 * heavy],
    ['giant-strings', 3 * heavy],
    ['nack-storm', 2 * heavy],
    ['initial-versions-flood', 1.5 * heavy],
    ['oversized', 0.4 * heavy],
  ];
  return rng.weighted(weights, 'random-bytes');
}

/** Case number `seq` of the run seeded with `seed`: the same pair always gives the same case. */
export function xdsCase(seed: number, seq: number, opts: XdsGenOptions): XdsCase {
  const rng = new Rng((seed ^ Math.imul(seq + 1, 0x9e3779b1)) >>> 0);
  const kind = pickKind(rng, opts.heavy);
  let method = pickMethod(rng);
  const messages: Buffer[] = [];
  const isDelta = () => method.endsWith('delta');
  switch (kind) {
    case 'random-bytes':
      for (let i = 0, n = rng.int(1, 3); i < n; i++) messages.push(randomBytes2(rng, randomLength(rng)));
      break;
    case 'mutated':
      messages.push(mutateBytes(rng, validRequest(rng, method)));
      if (rng.chance(0.3)) messages.push(mutateBytes(rng, validRequest(rng, method, false)));
      break;
    case 'truncated': {
      const b = validRequest(rng, method);
      messages.push(b.subarray(0, rng.int(1, Math.max(1, b.length - 1))));
      break;
    }
    case 'bad-wire':
      if (rng.chance(0.5)) messages.push(validRequest(rng, method));
      messages.push(badWire(rng, method));
      break;
    case 'huge-names': {
      const count = rng.int(1000, Math.max(1000, Math.floor(opts.maxRequestBytes / 60)));
      const names = manyNames(rng, count);
      const typeUrl = isDelta() ? typeFor(rng, method) : rng.pick([TYPE_URL.ENDPOINT, TYPE_URL.CLUSTER, TYPE_URL.LISTENER]);
      const head = isDelta()
        ? delta({ node: fuzzNode(rng, false), type_url: typeUrl })
        : sotw({ node: fuzzNode(rng, false), type_url: method.startsWith('eds') ? TYPE_URL.ENDPOINT : typeUrl });
      // Names appended as raw repeated fields (3 = resource_names / resource_names_subscribe).
      const list = repeatedStrings(3, names, count);
      messages.push(Buffer.concat([head, list]));
      // Delta subscriptions accumulate: keep adding fresh lists.
      for (let i = 0, more = isDelta() ? rng.int(0, 6) : rng.int(0, 2); i < more; i++) {
        messages.push(Buffer.concat([bytesField(isDelta() ? 2 : 4, typeUrl), repeatedStrings(3, manyNames(rng, count), count)]));
      }
      break;
    }
    case 'giant-strings': {
      const size = rng.int(10_000, Math.max(10_000, Math.floor(opts.maxRequestBytes * 0.9)));
      const giant = 'g'.repeat(size);
      const which = rng.int(0, 5);
      const node: Node = which === 0 ? { id: giant } : fuzzNode(rng, false);
      const typeUrl = which === 1 ? giant : typeFor(rng, method);
      const names = which === 2 ? [giant] : [fuzzName(rng)];
      if (isDelta()) {
        messages.push(delta({ node, type_url: typeUrl, resource_names_subscribe: names, ...(which === 3 ? { response_nonce: giant } : {}), ...(which === 4 ? { error_detail: { message: giant } } : {}) }));
      } else {
        messages.push(sotw({ node, type_url: typeUrl, resource_names: names, ...(which === 3 ? { response_nonce: giant } : {}), ...(which === 4 ? { error_detail: { message: giant } } : {}), ...(which === 5 ? { version_info: giant } : {}) }));
      }
      break;
    }
    case 'unknown-type':
      for (let i = 0, n = rng.int(1, 4); i < n; i++) {
        const t = rng.chance(0.8) ? rng.pick(UNKNOWN_TYPES) : randomText(rng, rng.int(0, 100));
        const node = i === 0 ? { node: fuzzNode(rng, false) } : {};
        messages.push(isDelta() ? delta({ ...node, type_url: t, resource_names_subscribe: [fuzzName(rng)] }) : sotw({ ...node, type_url: t, resource_names: [fuzzName(rng)] }));
      }
      break;
    case 'wrong-nonce':
    case 'replayed-nonce': {
      messages.push(validRequest(rng, method));
      // Nonces are short base-36 counters: small guesses hit real ones, others never existed.
      const guesses = kind === 'replayed-nonce' ? Array.from({ length: 3 }, () => rng.int(1, 2000).toString(36)) : [];
      for (let i = 0, n = rng.int(1, 12); i < n; i++) {
        const nonce = kind === 'replayed-nonce' ? rng.pick(guesses) : rng.pick([randomText(rng, rng.int(1, 30)), `${rng.int(0, 1e9)}`, '', '\u0000']);
        const type_url = typeFor(rng, method);
        const nack = rng.chance(0.3) ? { error_detail: errorDetail(rng) } : {};
        messages.push(
          isDelta()
            ? delta({ type_url, response_nonce: nonce, ...nack })
            : sotw({ type_url, response_nonce: nonce, version_info: rng.chance(0.5) ? `${rng.int(0, 50)}` : randomText(rng, 8), resource_names: [fuzzName(rng)], ...nack }),
        );
      }
      break;
    }
    case 'delta-unsubscribe-unknown': {
      method = rng.chance(0.7) ? 'ads-delta' : 'eds-delta';
      const first = rng.chance(0.5);
      for (let i = 0, n = rng.int(1, 6); i < n; i++) {
        const unsub = Array.from({ length: rng.int(1, 200) }, () => (rng.chance(0.1) ? '*' : `never-${rng.int(0, 1e6)}-${randomText(rng, 4)}`));
        const type_url = typeFor(rng, method);
        messages.push(delta({ ...(i === 0 ? { node: fuzzNode(rng, false) } : {}), type_url, resource_names_unsubscribe: unsub, ...(first && i === 0 ? {} : { resource_names_subscribe: rng.chance(0.3) ? [fuzzName(rng)] : [] }) }));
      }
      break;
    }
    case 'nack-storm': {
      messages.push(validRequest(rng, method));
      const nonce = rng.int(1, 500).toString(36);
      const type_url = typeFor(rng, method);
      const n = rng.chance(0.3) ? rng.int(1001, 1600) : rng.int(20, 400); // past the per-stream burst sometimes
      const big = rng.chance(0.05);
      const detail = errorDetail(rng, big);
      const one = isDelta() ? delta({ type_url, response_nonce: nonce, error_detail: detail }) : sotw({ type_url, response_nonce: nonce, error_detail: detail, resource_names: [fuzzName(rng)] });
      for (let i = 0; i < n; i++) messages.push(rng.chance(0.9) ? one : isDelta() ? delta({ type_url, response_nonce: rng.int(1, 500).toString(36), error_detail: errorDetail(rng) }) : sotw({ type_url, response_nonce: `${i}`, error_detail: errorDetail(rng) }));
      break;
    }
    case 'health-garbage':
      for (let i = 0, n = rng.int(1, 20); i < n; i++) {
        const node = i === 0 ? { node: fuzzNode(rng, rng.chance(0.5)) } : {};
        const ed = rng.chance(0.5) ? { error_detail: errorDetail(rng) } : {};
        messages.push(isDelta() ? delta({ ...node, type_url: TYPE_URL.HEALTH_INFO, ...ed }) : sotw({ ...node, type_url: TYPE_URL.HEALTH_INFO, ...ed }));
      }
      break;
    case 'absurd-node':
      messages.push(validRequest(rng, method, true, true));
      if (rng.chance(0.5)) messages.push(validRequest(rng, method, rng.chance(0.3), true));
      break;
    case 'initial-versions-flood': {
      method = rng.chance(0.7) ? 'ads-delta' : 'eds-delta';
      const n = Math.min(50_000, rng.int(1000, Math.max(1000, Math.floor(opts.maxRequestBytes / 80))));
      const head = delta({ node: fuzzNode(rng, false), type_url: typeFor(rng, method), resource_names_subscribe: rng.chance(0.5) ? ['*'] : [] });
      // initial_resource_versions (field 5, map<string,string>) written by hand: the encoder
      // spends ~100 ms on a 50,000-entry map.
      const base = rng.int(0, 1e6);
      const w = new WireWriter().raw(head);
      for (let i = 0; i < n; i++) w.asciiMapEntry(5, `never-${i}-${base}`, `${(i * 7919 + base) % 1e9}`);
      messages.push(w.finish());
      break;
    }
    case 'type-hopping':
      for (let i = 0, n = rng.int(3, 30); i < n; i++) messages.push(validRequest(rng, method, i === 0 || rng.chance(0.1)));
      break;
    case 'oversized': {
      // Just past the limit (counted by our check), rarely past grpc-js's own 4x backstop.
      const past = rng.chance(0.9) ? rng.int(1, Math.max(1, Math.floor(opts.maxRequestBytes * 0.1))) : opts.maxRequestBytes * 3 + rng.int(70_000, 200_000);
      const head = isDelta() ? delta({ node: fuzzNode(rng, false), type_url: typeFor(rng, method) }) : sotw({ node: fuzzNode(rng, false), type_url: typeFor(rng, method) });
      const total = opts.maxRequestBytes + past;
      const padLen = total - head.length - 2 - varint(total).length;
      // One unknown field (number 999) carrying the padding: valid protobuf, absurd size.
      messages.push(Buffer.concat([head, tag(999, 2), varint(padLen), Buffer.alloc(padLen, 0x61)]));
      break;
    }
  }
  const f = rng.next();
  return { seq, kind, method, messages, finish: f < 0.8 ? 'end' : f < 0.96 ? 'cancel' : 'hold' };
}

// ---- connection-level garbage ---------------------------------------------------------------

export const RAW_CASE_KINDS = [
  'tcp-garbage',
  'tcp-silent',
  'h2-compressed-flag',
  'h2-short-frame',
  'h2-huge-length',
  'h2-gzip-garbage',
  'h2-gzip-bomb',
  'h2-unknown-encoding',
  'h2-bad-headers',
  'h2-rst',
  'h2-rapid-reset',
] as const;
export type RawCaseKind = (typeof RAW_CASE_KINDS)[number];

export interface RawCase {
  seq: number;
  kind: RawCaseKind;
  path: string;
  rng: Rng;
}

export function rawCase(seed: number, seq: number): RawCase {
  const rng = new Rng((seed ^ Math.imul(seq + 7, 0x85ebca6b)) >>> 0);
  return { seq, kind: rng.pick(RAW_CASE_KINDS), path: XDS_METHOD_PATH[pickMethod(rng)], rng };
}
