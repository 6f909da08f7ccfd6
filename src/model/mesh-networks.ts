// meshNetworks (istiod's MeshNetworks config, `--mesh-networks <file>`) and the network gateways
// istiod derives from it: the input of split-horizon EDS (src/eds/network-filter.ts).
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { Type, type Static } from '@sinclair/typebox';
import type { Diagnostic } from '../config/diagnostics.js';
import { DEFAULT_CLUSTER_ID } from './labels.js';
import { compileSchema, findingToDiagnostic, locate, readYamlDocuments, validateValue, type DocCtx } from '../config/yaml-validate.js';

const Endpoint = Type.Object(
  {
    fromCidr: Type.Optional(Type.String({ expected: 'a CIDR such as 10.0.0.0/16' })),
    fromRegistry: Type.Optional(Type.String({ expected: 'a registry (cluster) name' })),
  },
  { additionalProperties: false },
);

const Gateway = Type.Object(
  {
    address: Type.Optional(Type.String({ expected: 'an IP address' })),
    registryServiceName: Type.Optional(Type.String({ expected: 'a service hostname' })),
    port: Type.Integer({ minimum: 1, maximum: 65535, expected: 'an integer 1..65535' }),
    locality: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

const Network = Type.Object(
  {
    endpoints: Type.Optional(Type.Array(Endpoint)),
    gateways: Type.Optional(Type.Array(Gateway)),
  },
  { additionalProperties: false },
);

export const MeshNetworksSchema = Type.Object(
  { networks: Type.Record(Type.String(), Network, { expected: 'a map of network name -> {endpoints, gateways}' }) },
  { additionalProperties: false },
);

export type MeshNetworks = Static<typeof MeshNetworksSchema>;

let validate: ReturnType<typeof compileSchema> | undefined;

/** istiod's MeshNetworks YAML (`networks:` at the top); errors and warnings with file:line like the rest of config. */
export function parseMeshNetworks(text: string, file: string): { meshNetworks: MeshNetworks; diagnostics: Diagnostic[] } {
  validate ??= compileSchema(MeshNetworksSchema);
  const { documents, diagnostics } = readYamlDocuments(text, file);
  const meshNetworks: MeshNetworks = { networks: {} };
  if (documents.length > 1) {
    const d = documents[1]!;
    diagnostics.push({ severity: 'error', file, line: locate(d.ctx, []).line, document: d.ctx.document, message: 'meshNetworks is one document' });
  }
  const doc = documents[0];
  if (!doc) return { meshNetworks, diagnostics };
  const { findings, failed } = validateValue(validate, doc.value);
  for (const f of findings) diagnostics.push(findingToDiagnostic(doc.ctx, [], f, { kind: 'MeshNetworks' }));
  if (failed) return { meshNetworks, diagnostics };
  const value = doc.value as MeshNetworks;
  diagnostics.push(...meshNetworksChecks(doc.ctx, [], value));
  if (!diagnostics.some((d) => d.severity === 'error')) meshNetworks.networks = value.networks;
  return { meshNetworks, diagnostics };
}

export async function loadMeshNetworksFile(file: string): Promise<{ meshNetworks: MeshNetworks; diagnostics: Diagnostic[] }> {
  return parseMeshNetworks(await readFile(file, 'utf8'), file);
}

/**
 * What istiod's ValidateMeshNetworks refuses, and what xdsim cannot honour (warnings), for a
 * schema-valid value found at `base` in the document (a scenario holds one under controlPlane).
 */
export function meshNetworksChecks(ctx: DocCtx, base: (string | number)[], m: MeshNetworks, subject: { kind?: string; name?: string } = { kind: 'MeshNetworks' }): Diagnostic[] {
  const out: Diagnostic[] = [];
  const at = (path: (string | number)[], severity: Diagnostic['severity'], message: string): void => {
    out.push(findingToDiagnostic(ctx, [], { severity, path: [...base, ...path], message }, subject));
  };
  for (const [name, nw] of Object.entries(m.networks)) {
    (nw.endpoints ?? []).forEach((e, i) => {
      const path = ['networks', name, 'endpoints', i];
      if ((e.fromCidr === undefined) === (e.fromRegistry === undefined)) at(path, 'error', 'exactly one of fromCidr or fromRegistry');
      else if (e.fromCidr !== undefined && !isCidr(e.fromCidr)) at([...path, 'fromCidr'], 'error', `expected a CIDR such as 10.0.0.0/16, got "${e.fromCidr}"`);
      else if (e.fromRegistry !== undefined && !DNS1123_LABEL.test(e.fromRegistry))
        at([...path, 'fromRegistry'], 'error', `expected a registry name (a DNS-1123 label), got "${e.fromRegistry}"`);
    });
    (nw.gateways ?? []).forEach((g, i) => {
      const path = ['networks', name, 'gateways', i];
      if ((g.address === undefined) === (g.registryServiceName === undefined)) at(path, 'error', 'exactly one of address or registryServiceName');
      else if (g.registryServiceName !== undefined && !isFqdn(g.registryServiceName))
        at([...path, 'registryServiceName'], 'error', `expected a service hostname, got "${g.registryServiceName}"`);
      else if (g.address !== undefined && isIP(g.address) === 0 && !isFqdn(g.address))
        at([...path, 'address'], 'error', `expected an IP address or a DNS name, got "${g.address}"`);
      else if (g.registryServiceName !== undefined) {
        if (!(nw.endpoints ?? []).some((e) => e.fromRegistry === DEFAULT_CLUSTER_ID))
          at([...path, 'registryServiceName'], 'warning', `istiod looks this Service up only in the registries the network lists in fromRegistry, and xdsim's one registry is "${DEFAULT_CLUSTER_ID}"; ignored`);
      } else if (isIP(g.address!) === 0)
        at([...path, 'address'], 'warning', 'a hostname gateway is resolved by istiod through DNS, which xdsim does not do; ignored');
    });
  }
  return out;
}

const DNS1123_LABEL = /^[a-zA-Z0-9](?:[-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?$/;

/** istiod's ValidateFQDN: DNS-1123 labels, a top-level one not all digits, a trailing dot allowed. */
function isFqdn(s: string): boolean {
  if (s.length === 0 || s.length > 255) return false;
  const parts = s.split('.');
  if (/^\d+$/.test(parts[parts.length - 1]!)) return false;
  return parts.every((p, i) => (i === parts.length - 1 && p === '') || DNS1123_LABEL.test(p));
}

/** istiod's ValidateIPSubnet: a prefix, or a single address. */
function isCidr(s: string): boolean {
  const slash = s.indexOf('/');
  if (slash < 0) return isIP(s) !== 0;
  const ip = s.slice(0, slash);
  const bits = s.slice(slash + 1);
  const v = isIP(ip);
  if (v === 0 || !/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (v === 4 ? 32 : 128);
}

/** One east-west gateway of a network (istiod's NetworkGateway, sidecar fields). */
export interface NetworkGateway {
  readonly network: string;
  /** The registry (cluster) it was discovered in; "" for a meshNetworks address. */
  readonly cluster: string;
  readonly address: string;
  readonly port: number;
}

function gatewayKey(g: NetworkGateway): string {
  return `${g.network}\u0000${g.cluster}\u0000${g.address}\u0000${g.port}`;
}

/** istiod's SortGateways: by address (string order), then port. */
export function compareGateways(a: NetworkGateway, b: NetworkGateway): number {
  if (a.address !== b.address) return a.address < b.address ? -1 : 1;
  return a.port - b.port;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * The gateway set istiod's NetworkManager keeps: duplicates merged, only IP addresses (no DNS
 * here), indexed by network and by (network, cluster), and the weight scale factor: the least
 * common multiple of the gateway counts of both indexes, so every endpoint's weight divides evenly
 * among its network's gateways.
 */
export class NetworkGateways {
  static readonly NONE = new NetworkGateways([]);

  readonly all: readonly NetworkGateway[];
  readonly scaleFactor: number;
  /** Identifies the set: equal sets, equal signatures. */
  readonly signature: string;
  private readonly byNetwork = new Map<string, NetworkGateway[]>();
  /** network -> cluster -> gateways (no key building per endpoint lookup). */
  private readonly byNetworkAndCluster = new Map<string, Map<string, NetworkGateway[]>>();

  constructor(gateways: readonly NetworkGateway[]) {
    const unique = new Map<string, NetworkGateway>();
    for (const g of gateways) if (isIP(g.address) !== 0) unique.set(gatewayKey(g), g);
    this.all = [...unique.values()].sort(compareGateways);
    for (const g of this.all) {
      push(this.byNetwork, g.network, g);
      let byCluster = this.byNetworkAndCluster.get(g.network);
      if (!byCluster) this.byNetworkAndCluster.set(g.network, (byCluster = new Map()));
      push(byCluster, g.cluster, g);
    }
    let lcm = 1;
    const lists = [...this.byNetwork.values(), ...[...this.byNetworkAndCluster.values()].flatMap((m) => [...m.values()])];
    for (const list of lists) lcm = (lcm * list.length) / gcd(lcm, list.length);
    this.scaleFactor = lcm;
    this.signature = this.all.map(gatewayKey).join('\u0001');
  }

  static fromMeshNetworks(m: MeshNetworks | undefined): NetworkGateways {
    const out: NetworkGateway[] = [];
    for (const [network, nw] of Object.entries(m?.networks ?? {})) {
      for (const g of nw.gateways ?? []) if (g.address !== undefined) out.push({ network, cluster: '', address: g.address, port: g.port });
    }
    return out.length === 0 ? NetworkGateways.NONE : new NetworkGateways(out);
  }

  /** istiod's IsMultiNetworkEnabled: any gateway at all turns split horizon on. */
  get enabled(): boolean {
    return this.all.length > 0;
  }

  /**
   * The gateways an endpoint on (network, cluster) is reached through (istiod's
   * selectNetworkGateways for a sidecar): those of its network and cluster, else of its network.
   */
  forEndpoint(network: string, cluster: string): readonly NetworkGateway[] {
    return this.byNetworkAndCluster.get(network)?.get(cluster) ?? this.byNetwork.get(network) ?? NO_GATEWAYS;
  }
}

const NO_GATEWAYS: readonly NetworkGateway[] = [];

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}
