// RouteConfiguration for a `GENERATOR: grpc` node, as istiod's proxyless generator builds it
// (grpcgen buildHTTPRoute over the sidecar's BuildSidecarOutboundVirtualHosts): named after the
// cluster, one virtual host `<host>:<port>`, and the default outbound route with istiod's default
// retry policy. No VirtualService support, as for sidecars.
import { isIP, isIPv6 } from 'node:net';
import { TYPE_URL, encode } from '../../proto/index.js';
import type { HashPolicy, RetryPolicy, RouteConfiguration } from '../../proto/messages.js';
import type { ConsistentHashSettings } from '../../config/resources.js';
import { durationProto, parseGoDuration } from '../../config/duration.js';
import { UNSPECIFIED_IP } from '../../model/service.js';

const ZERO = { seconds: 0 };

/** istiod's default outbound retry policy (route/retry cachedDefaultPolicy). */
const DEFAULT_RETRY: RetryPolicy = Object.freeze({
  retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
  num_retries: { value: 2 },
  retry_host_predicate: [
    { name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { type_url: TYPE_URL.PREVIOUS_HOSTS, value: encode(TYPE_URL.PREVIOUS_HOSTS, {}) } },
  ],
  host_selection_retry_max_attempts: 5,
});

/** `host:port`, IPv6 literals in brackets (Go's net.JoinHostPort). */
function hostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Short names of a Kubernetes service host as seen from a proxy in DNS domain
 * `<ns>.svc.<suffix>` (istiod's generateAltVirtualHostsForKubernetesService): `name`, `name.ns.svc`
 * and `name.ns` from its own namespace, `name.ns` and `name.ns.svc` from another; each with the port.
 */
function kubeAltHosts(host: string, port: number, dnsDomain: string): string[] {
  const svcAt = dnsDomain.indexOf('.svc.');
  if (svcAt <= 0 || !host.endsWith(dnsDomain.slice(svcAt))) return [];
  const ih = host.indexOf('.svc.');
  const ns = host.indexOf('.');
  if (ih <= 0 || ns + 1 >= host.length || ns + 1 > ih) return [];
  const name = host.slice(0, ns);
  const nsSvc = `${host.slice(0, ih)}.svc`;
  const nsQualified = host.slice(0, ih);
  if (host.slice(ns + 1, ih) === dnsDomain.slice(0, svcAt)) {
    return [name, hostPort(name, port), nsSvc, hostPort(nsSvc, port), nsQualified, hostPort(nsQualified, port)];
  }
  return [nsQualified, hostPort(nsQualified, port), nsSvc, hostPort(nsSvc, port)];
}

/**
 * A proxyless client's virtual host domains (istiod's generateVirtualHostDomains with ports, since
 * SidecarIgnorePort is false for proxyless): the host and `host:port`, the absolute `host.` forms
 * (PILOT_ENABLE_ABSOLUTE_FQDN_VHOST_DOMAIN, on by default), the Kubernetes short names, and the
 * service address with and without the port unless it is 0.0.0.0.
 */
export function proxylessDomains(host: string, port: number, address: string, dnsDomain: string): string[] {
  const out = [host, hostPort(host, port)];
  if (isIP(host) === 0) out.push(`${host}.`);
  out.push(hostPort(`${host}.`, port), ...kubeAltHosts(host, port, dnsDomain));
  if (address && address !== UNSPECIFIED_IP) out.push(isIPv6(address) ? `[${address}]` : address, hostPort(address, port));
  return out;
}

/**
 * The route's hash policy from the DestinationRule's consistentHash (istiod's
 * ConsistentHashToHashPolicy); none without one.
 */
export function hashPolicyOf(ch: ConsistentHashSettings | undefined): HashPolicy | undefined {
  if (!ch) return undefined;
  if (typeof ch.httpHeaderName === 'string') return { header: { header_name: ch.httpHeaderName } };
  if (ch.httpCookie && typeof ch.httpCookie === 'object') {
    const c = ch.httpCookie as { name?: string; path?: string; ttl?: string; attributes?: { name?: string; value?: string }[] };
    const ms = c.ttl !== undefined ? parseGoDuration(c.ttl) : undefined;
    return {
      cookie: {
        name: c.name ?? '',
        ...(ms !== undefined ? { ttl: durationProto(ms) } : {}),
        ...(c.path ? { path: c.path } : {}),
        ...(c.attributes?.length ? { attributes: c.attributes.map((a) => ({ name: a.name ?? '', value: a.value ?? '' })) } : {}),
      },
    };
  }
  if (typeof ch.useSourceIp === 'boolean') return { connection_properties: { source_ip: ch.useSourceIp } };
  if (typeof ch.httpQueryParameterName === 'string') return { query_parameter: { name: ch.httpQueryParameterName } };
  return undefined;
}

/** `name`: the route name asked for, the cluster's unless a subset's. */
export function buildProxylessRoute(cluster: string, host: string, port: number, address: string, dnsDomain: string, name = cluster, hash?: HashPolicy): RouteConfiguration {
  const vhost = hostPort(host, port);
  return {
    name,
    virtual_hosts: [
      {
        name: vhost,
        domains: proxylessDomains(host, port, address, dnsDomain),
        routes: [
          {
            name: 'default',
            match: { prefix: '/' },
            route: { cluster, timeout: ZERO, retry_policy: DEFAULT_RETRY, max_grpc_timeout: ZERO, ...(hash ? { hash_policy: [hash] } : {}) },
            decorator: { operation: `${vhost}/*` },
          },
        ],
        include_request_attempt_count: true,
      },
    ],
  };
}
