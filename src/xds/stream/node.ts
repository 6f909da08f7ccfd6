// The xDS Node of a connecting proxy -> what xdsim needs to know about it: identity, namespace,
// and the proxy view (locality, network, labels) that selects its EDS view (SPEC §6, §9).
import type protobuf from 'protobufjs';
import { proxyView, type ProxyView } from '../../eds/proxy.js';
import { NO_LOCALITY, type Locality } from '../../model/locality.js';
import { DOMAIN_SUFFIX } from '../../model/service.js';
import { fromStruct, toObject } from '../../proto/index.js';
import type { Node } from '../../proto/messages.js';

export interface ProxyNode {
  readonly id: string;
  readonly cluster: string;
  readonly namespace: string;
  /** First of INSTANCE_IPS, else the IP in a `sidecar~<ip>~...` id. */
  readonly ip: string;
  readonly locality: Locality;
  readonly network: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Node metadata as plain JSON (AUTO_REGISTER_GROUP, WORKLOAD_ENTRY, ... for the next layer). */
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly userAgent: string;
  readonly view: ProxyView;
  /** Node metadata GENERATOR: `grpc` selects istiod's proxyless generator for CDS/LDS/RDS. */
  readonly generator: string;
  /** GENERATOR is `grpc` (istiod's Proxy.IsProxylessGrpc). */
  readonly proxyless: boolean;
  /** istiod's DNSDomain: the `<ns>.svc.cluster.local` of a 4-part id, else from the namespace, else ''. */
  readonly dnsDomain: string;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  }
  return out;
}

/** A decoded Node (message instance or plain object) -> ProxyNode. Missing node: an anonymous proxy. */
export function parseNode(node: protobuf.Message | Node | null | undefined): ProxyNode {
  const n: Node = node ? (isMessage(node) ? toObject<Node>('Node', node) : node) : {};
  const metadata = fromStruct(n.metadata);
  const id = n.id ?? '';
  const idParts = id.split('~');
  // Istio proxy ids: <type>~<ip>~<pod>.<namespace>~<namespace>.svc.<domain>
  const idNamespace = idParts.length === 4 ? (idParts[3]!.split('.')[0] ?? '') : '';
  const ips = str(metadata['INSTANCE_IPS']).split(',').filter(Boolean);
  const locality: Locality = n.locality
    ? { region: n.locality.region ?? '', zone: n.locality.zone ?? '', subZone: n.locality.sub_zone ?? '' }
    : NO_LOCALITY;
  const network = str(metadata['NETWORK']);
  const labels = stringMap(metadata['LABELS']);
  const clusterId = str(metadata['CLUSTER_ID']) || undefined;
  // istiod reads it as a comma-separated list.
  const networkView = str(metadata['REQUESTED_NETWORK_VIEW']).split(',').filter(Boolean);
  const generator = str(metadata['GENERATOR']);
  const namespace = str(metadata['NAMESPACE']) || idNamespace;
  return {
    id,
    cluster: n.cluster ?? '',
    namespace,
    ip: ips[0] ?? (idParts.length === 4 ? idParts[1]! : ''),
    locality,
    network,
    labels,
    metadata,
    userAgent: [n.user_agent_name, n.user_agent_version].filter(Boolean).join('/'),
    view: proxyView({ locality, network, labels, ...(clusterId ? { clusterId } : {}), ...(networkView.length ? { networkView } : {}) }),
    generator,
    proxyless: generator === 'grpc',
    // istiod takes it from the id's last part (`<ns>.svc.cluster.local`).
    dnsDomain: idParts.length === 4 ? idParts[3]! : namespace ? `${namespace}.svc.${DOMAIN_SUFFIX}` : '',
  };
}

function isMessage(x: object): x is protobuf.Message {
  return typeof (x as { $type?: unknown }).$type === 'object';
}
