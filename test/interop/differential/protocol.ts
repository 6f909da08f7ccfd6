// The xDS protocol side of the differential: the same request scripts (unknown names,
// unsubscribe, NACK, stale nonces, wildcard, delta) played against both servers, and what each
// answered after every step summarized (which types, which names, removals, nothing at all), so
// the two transcripts can be compared line by line.
import * as grpc from '@grpc/grpc-js';
import type { DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse, Node } from '../../../src/proto/messages.js';
import { clientDefinitions } from '../../../src/xds/service-definitions.js';
import { decodeResource, type Json } from './official-json.js';
import { TYPE } from './xds-fetch.js';

const defs = clientDefinitions();
const AdsClient = grpc.makeGenericClientConstructor(defs.ads, 'AggregatedDiscoveryService');

/** What a server did after one step: one line per response, in order; empty when it stayed silent. */
export type Transcript = { step: string; responses: string[] }[];

type AnyResponse = DiscoveryResponse | DeltaDiscoveryResponse;

function short(typeUrl: string): string {
  return (Object.entries(TYPE).find(([, t]) => t === typeUrl)?.[0] ?? typeUrl).toUpperCase();
}

function resourceName(typeUrl: string, r: Json): string {
  const o = (r ?? {}) as Record<string, Json>;
  return String(typeUrl === TYPE.eds ? o['cluster_name'] : o['name']);
}

/** How full an EDS answer is, without its details: empty or not is what the protocol decides. */
function edsShape(r: Json): string {
  const eps = ((r as Record<string, Json>)['endpoints'] ?? []) as Json[];
  return eps.length ? '' : '(empty)';
}

function summarizeSotw(r: DiscoveryResponse): string {
  const t = r.type_url ?? '';
  const names = (r.resources ?? [])
    .map((a) => {
      const d = decodeResource(a.type_url ?? t, a.value ?? new Uint8Array());
      return resourceName(t, d) + (t === TYPE.eds ? edsShape(d) : '');
    })
    // A sidecar's built-in clusters are compared as a set elsewhere (cds.builtin-clusters).
    .filter((n) => t !== TYPE.cds || n.startsWith('outbound|'));
  return `${short(t)} [${names.sort().join(', ')}]`;
}

function summarizeDelta(r: DeltaDiscoveryResponse): string {
  const t = r.type_url ?? '';
  const names = (r.resources ?? []).map((x) => {
    const d = x.resource ? decodeResource(x.resource.type_url ?? t, x.resource.value ?? new Uint8Array()) : null;
    return `${x.name ?? ''}${d && t === TYPE.eds ? edsShape(d) : ''}`;
  });
  const removed = [...(r.removed_resources ?? [])].sort();
  return `${short(t)} [${names.sort().join(', ')}]${removed.length ? ` removed [${removed.join(', ')}]` : ''}`;
}

/** One ADS stream that a script drives: write, then see what came back within a window. */
class ScriptStream<Req, Res extends AnyResponse> {
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<Req, Res>;
  private readonly inbox: Res[] = [];
  closed: string | undefined;

  constructor(target: string, method: 'StreamAggregatedResources' | 'DeltaAggregatedResources') {
    this.client = new AdsClient(target, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
    this.call = (this.client as unknown as Record<string, () => grpc.ClientDuplexStream<Req, Res>>)[method]!.call(this.client);
    this.call.on('data', (r: Res) => this.inbox.push(r));
    this.call.on('error', (e: grpc.ServiceError) => {
      this.closed = grpc.status[e.code];
    });
  }

  write(req: Req): void {
    this.call.write(req);
  }

  /** Responses that arrived within `ms` (the window ends early once `ms` passes). */
  async collect(ms: number): Promise<Res[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.inbox.splice(0);
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}

export interface ProtocolCase {
  name: string;
  run(target: string, node: Node, window: number): Promise<Transcript>;
}

type Sotw = ScriptStream<DiscoveryRequest, DiscoveryResponse>;
type Delta = ScriptStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

/** Plays `steps` on one stream, each followed by a window in which its responses are collected. */
async function script<Req, Res extends AnyResponse>(
  target: string,
  method: 'StreamAggregatedResources' | 'DeltaAggregatedResources',
  summarize: (r: Res) => string,
  window: number,
  steps: [string, (s: ScriptStream<Req, Res>, last: Res[]) => void][],
): Promise<Transcript> {
  const s = new ScriptStream<Req, Res>(target, method);
  const out: Transcript = [];
  let last: Res[] = [];
  try {
    for (const [step, act] of steps) {
      act(s, last);
      const got = await s.collect(window);
      if (got.length) last = got;
      out.push({ step, responses: [...got.map(summarize), ...(s.closed ? [`stream closed ${s.closed}`] : [])] });
    }
  } finally {
    s.close();
  }
  return out;
}

const sotwScript = (target: string, window: number, steps: [string, (s: Sotw, last: DiscoveryResponse[]) => void][]) =>
  script(target, 'StreamAggregatedResources', summarizeSotw, window, steps);
const deltaScript = (target: string, window: number, steps: [string, (s: Delta, last: DeltaDiscoveryResponse[]) => void][]) =>
  script(target, 'DeltaAggregatedResources', summarizeDelta, window, steps);

const ackOf = (r: DiscoveryResponse | undefined, names: string[]): DiscoveryRequest => ({
  type_url: r?.type_url ?? TYPE.eds,
  version_info: r?.version_info ?? '',
  response_nonce: r?.nonce ?? '',
  resource_names: names,
});

/** The scripts; `a` and `b` are two clusters both servers know, `unknown` one neither does. */
export function protocolCases(a: string, b: string, unknown: string): ProtocolCase[] {
  return [
    {
      name: 'SotW EDS: known and unknown names, then unsubscribe one, then resubscribe',
      run: (t, node, w) =>
        sotwScript(t, w, [
          ['request [a, unknown]', (s) => s.write({ node, type_url: TYPE.eds, resource_names: [a, unknown] })],
          ['ACK', (s, last) => s.write(ackOf(last[0], [a, unknown]))],
          ['add b', (s, last) => s.write({ ...ackOf(last[0], [a, b, unknown]) })],
          ['drop unknown', (s, last) => s.write({ ...ackOf(last[0], [a, b]) })],
          ['drop everything', (s, last) => s.write({ ...ackOf(last[0], []) })],
        ]),
    },
    {
      name: 'SotW EDS: NACK, then a stale nonce',
      run: (t, node, w) =>
        sotwScript(t, w, [
          ['request [a]', (s) => s.write({ node, type_url: TYPE.eds, resource_names: [a] })],
          ['NACK', (s, last) => s.write({ ...ackOf(last[0], [a]), version_info: '', error_detail: { code: 3, message: 'rejected by the test' } })],
          ['stale nonce asking for b', (s) => s.write({ type_url: TYPE.eds, version_info: '', response_nonce: 'stale-nonce', resource_names: [a, b] })],
        ]),
    },
    {
      name: 'SotW CDS wildcard, then EDS for two of its clusters',
      run: (t, node, w) =>
        sotwScript(t, w, [
          ['CDS wildcard', (s) => s.write({ node, type_url: TYPE.cds, resource_names: [] })],
          ['ACK CDS, request EDS [a, b]', (s, last) => {
            s.write(ackOf(last[0], []));
            s.write({ type_url: TYPE.eds, resource_names: [a, b] });
          }],
        ]),
    },
    {
      name: 'Delta EDS: subscribe with an unknown name, unsubscribe, resubscribe',
      run: (t, node, w) =>
        deltaScript(t, w, [
          ['subscribe [a, unknown]', (s) => s.write({ node, type_url: TYPE.eds, resource_names_subscribe: [a, unknown] })],
          ['ACK', (s, last) => s.write({ type_url: TYPE.eds, response_nonce: last[0]?.nonce ?? '' })],
          ['subscribe b', (s) => s.write({ type_url: TYPE.eds, resource_names_subscribe: [b] })],
          ['unsubscribe a', (s) => s.write({ type_url: TYPE.eds, resource_names_unsubscribe: [a] })],
          ['NACK the last', (s, last) => s.write({ type_url: TYPE.eds, response_nonce: last[0]?.nonce ?? '', error_detail: { code: 3, message: 'rejected by the test' } })],
        ]),
    },
  ];
}
