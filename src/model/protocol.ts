// The application protocol of a service port, as istiod reads it: a Kubernetes port's
// appProtocol, else its name's prefix before the first '-' (`http-web` -> HTTP), with a few
// well-known ports TCP when nothing says otherwise; a ServiceEntry port's `protocol` field.
// An unrecognised protocol means istiod sniffs the traffic, which counts as possibly HTTP.

export type Protocol =
  | 'TCP' | 'UDP' | 'GRPC' | 'GRPC-Web' | 'HTTP' | 'HTTP_PROXY' | 'HTTP2' | 'HTTPS' | 'TLS'
  | 'Mongo' | 'Redis' | 'MySQL' | 'UnsupportedProtocol';

const BY_NAME: Readonly<Record<string, Protocol>> = {
  tcp: 'TCP', udp: 'UDP', grpc: 'GRPC', 'grpc-web': 'GRPC-Web', http: 'HTTP', http_proxy: 'HTTP_PROXY',
  http2: 'HTTP2', https: 'HTTPS', tls: 'TLS', mongo: 'Mongo', redis: 'Redis', mysql: 'MySQL',
};

/** SMTP, DNS, MySQL, MongoDB: never sniffed, TCP unless named otherwise. */
const WELL_KNOWN_TCP_PORTS = new Set([25, 53, 3306, 27017]);

/** istio's protocol.Parse: case-insensitive, anything else unsupported (sniffed). */
export function parseProtocol(s: string | undefined): Protocol {
  return BY_NAME[(s ?? '').toLowerCase()] ?? 'UnsupportedProtocol';
}

/** istio's kube ConvertProtocol for a Service port. */
export function kubePortProtocol(p: { port: number; name?: string; protocol?: string; appProtocol?: string }): Protocol {
  if (p.protocol === 'UDP') return 'UDP';
  let name = p.name ?? '';
  if (p.appProtocol !== undefined) {
    name = p.appProtocol;
    if (name === 'kubernetes.io/h2c') return 'HTTP2';
    if (name === 'kubernetes.io/ws') return 'HTTP';
    if (name === 'kubernetes.io/wss') return 'HTTPS';
  }
  if (name.toLowerCase().startsWith('grpc-web')) return 'GRPC-Web';
  const dash = name.indexOf('-');
  const parsed = parseProtocol(dash >= 0 ? name.slice(0, dash) : name);
  if (parsed === 'UnsupportedProtocol' && WELL_KNOWN_TCP_PORTS.has(p.port)) return 'TCP';
  return parsed;
}

/** istio's IsHTTPOrSniffed: HTTP-family protocols, and unknown ones (sniffed, maybe HTTP). */
export function isHttpOrSniffed(p: Protocol): boolean {
  return p === 'HTTP' || p === 'HTTP2' || p === 'HTTP_PROXY' || p === 'GRPC' || p === 'GRPC-Web' || p === 'UnsupportedProtocol';
}
