// istiod's naming of auto-registered WorkloadEntries (SPEC §6).

const MAX_NAME = 253;

/** `<group>-<ip with ':' as '-'>[-<network>]`, keeping the last 253 characters. */
export function autoRegisteredEntryName(group: string, ip: string, network: string): string {
  let name = `${group}-${ip.replaceAll(':', '-')}`;
  if (network) name += `-${network}`;
  return name.length > MAX_NAME ? name.slice(name.length - MAX_NAME) : name;
}

/** One WorkloadEntry per (network, IP, group, namespace), however many connections share it. */
export function identityKey(p: { network: string; ip?: string; group?: string; namespace: string }): string {
  return `${p.network}\u0000${p.ip ?? ''}\u0000${p.group ?? ''}\u0000${p.namespace}`;
}
