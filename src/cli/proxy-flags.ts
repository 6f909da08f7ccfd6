// The proxy an xDS node describes (locality, network, labels), as flags shared by every command
// that answers "what would this proxy get".
import type { Command } from 'commander';
import { proxyView, type ProxyView } from '../eds/proxy.js';
import { parseLocality } from '../model/locality.js';
import { CliError } from './errors.js';

export interface ProxyFlags {
  nodeLocality?: string;
  nodeNetwork?: string;
  nodeLabel?: string[];
  nodeCluster?: string;
  nodeNetworkView?: string;
}

export function addProxyFlags(cmd: Command): Command {
  return cmd
    .option('--node-locality <region/zone/subzone>', "the proxy's locality (node.locality)")
    .option('--node-network <network>', "the proxy's network (node metadata NETWORK)")
    .option('--node-label <key=value>', 'a proxy label (node metadata LABELS); repeatable', collect, [])
    .option('--node-cluster <id>', "the proxy's cluster ID (node metadata CLUSTER_ID)")
    .option('--node-network-view <net1,net2>', "networks the proxy asks to see (node metadata REQUESTED_NETWORK_VIEW)");
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function proxyFromFlags(f: ProxyFlags): ProxyView {
  const labels: Record<string, string> = {};
  for (const kv of f.nodeLabel ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new CliError(`--node-label: expected key=value, got "${kv}"`);
    labels[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const loc = f.nodeLocality ?? '';
  if (loc.split('/').length > 3) throw new CliError(`--node-locality: expected region[/zone[/subzone]], got "${loc}"`);
  const networkView = (f.nodeNetworkView ?? '').split(',').filter(Boolean);
  return proxyView({ locality: parseLocality(loc), network: f.nodeNetwork ?? '', labels, clusterId: f.nodeCluster, ...(networkView.length ? { networkView } : {}) });
}
