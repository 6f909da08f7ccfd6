// `xdsim lb`: how a client would spread load over what the proxy receives.
import type { Command } from 'commander';
import { clusterLbOptions, computeShares, formatSharesTable, type ClaJson } from '../lb/index.js';
import { toCanonicalJson } from '../proto/index.js';
import { buildCluster } from '../xds/resources/cluster.js';
import { addMeshQueryFlags, checkOutput, type MeshQueryFlags } from './eds.js';
import { parseGoBool } from '../registration/identity.js';
import { CliError } from './errors.js';
import { loadMesh, requireCluster } from './mesh-input.js';
import { proxyFromFlags } from './proxy-flags.js';

interface LbFlags extends MeshQueryFlags {
  client: string;
  unhealthy?: string;
  sendUnhealthy?: boolean;
  autoSendUnhealthy?: string;
}

export function registerLbCommand(program: Command): void {
  addMeshQueryFlags(program.command('lb').description('expected traffic shares per endpoint, locality and priority'))
    .option('--client <envoy|grpc>', 'which client to model', 'envoy')
    .option('--unhealthy <ip:port,...>', 'endpoints the client sees as failing')
    .option('--send-unhealthy', "model a control plane with PILOT_SEND_UNHEALTHY_ENDPOINTS: the cluster's panic threshold is 0 even under outlier detection's minHealthPercent")
    .option('--auto-send-unhealthy <bool>', 'PILOT_AUTO_SEND_UNHEALTHY_ENDPOINTS (default true): panic threshold 0 on clusters whose outlier detection sets none')
    .action(async (flags: LbFlags) => {
      const output = checkOutput(flags.output);
      if (flags.client !== 'envoy' && flags.client !== 'grpc') throw new CliError(`--client: expected envoy or grpc, got "${flags.client}"`);
      const unhealthy = (flags.unhealthy ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      for (const u of unhealthy) if (!/^(\[[0-9a-fA-F:.]+\]|[^:\s]+|[0-9a-fA-F:.]+):\d+$/.test(u)) throw new CliError(`--unhealthy: expected ip:port, got "${u}"`);
      let autoSendUnhealthy = true;
      if (flags.autoSendUnhealthy !== undefined) {
        const b = parseGoBool(flags.autoSendUnhealthy);
        if (b === undefined) throw new CliError(`--auto-send-unhealthy: expected true or false, got "${flags.autoSendUnhealthy}"`);
        autoSendUnhealthy = b;
      }
      const proxy = proxyFromFlags(flags);
      const mesh = await loadMesh(flags.file, flags.meshNetworks);
      const cluster = requireCluster(mesh, flags.cluster);
      const view = mesh.eds.view(cluster, proxy)!;
      const cds = buildCluster(mesh.registry.cluster(cluster)!, { sendUnhealthy: flags.sendUnhealthy === true, autoSendUnhealthy });
      const cla = toCanonicalJson('ClusterLoadAssignment', view.bytes) as unknown as ClaJson;
      // istiod sets the cluster's panic threshold and locality weighting; model what it sends.
      const shares = computeShares(cla, { client: flags.client, unhealthy, ...clusterLbOptions(cds) });
      process.stdout.write(output === 'json' ? `${JSON.stringify(shares, null, 2)}\n` : `${formatSharesTable(shares)}\n`);
    });
}
