// RouteConfiguration (RDS) for `<host>:<port>`: one virtual host matching the names a client may
// dial, routing everything to the service's default cluster (no VirtualService support).
import type { RouteConfiguration } from '../../proto/messages.js';

export function buildRoute(name: string, domains: readonly string[], cluster: string): RouteConfiguration {
  return {
    name,
    virtual_hosts: [
      {
        name,
        domains: [...domains],
        routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster } }],
      },
    ],
  };
}

/**
 * Names a client may use for a service host on a port: the host and `host:port`, and for a
 * Kubernetes service `<name>.<ns>.svc.cluster.local` also `<name>`, `<name>.<ns>`, `<name>.<ns>.svc`.
 */
export function hostAliases(host: string, kube: boolean): string[] {
  const out = [host];
  if (kube) {
    const m = /^([^.]+)\.([^.]+)\.svc\.(.+)$/.exec(host);
    if (m) out.push(`${m[1]}.${m[2]}.svc`, `${m[1]}.${m[2]}`, m[1]!);
  }
  return out;
}

export function routeDomains(host: string, port: number, kube: boolean): string[] {
  const out: string[] = [];
  for (const a of hostAliases(host, kube)) out.push(a, `${a}:${port}`);
  return out;
}
