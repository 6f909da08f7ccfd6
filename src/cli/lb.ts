// `xdsim lb`: how a client would spread load over what the proxy receives.
import type { Command } from 'commander';
import { clusterLbOptions, computeShares, formatSharesTable, type ClaJson } from '../lb/index.js';
import { toCanonicalJson } from '../proto/index.js';
import { buildCluster } from '../xds/resources/cluster.js';
import { addMeshQueryFlags, checkOutput, type MeshQueryFlags } from './eds.js';
import { CliError } from './errors.js';
import { loadMesh, requireCluster } from './mesh-input.js';
import { proxyFromFlags } from './proxy-flags.js';

interface LbFlags extends MeshQueryFlags {
  client: string;
  unhealthy?: string;
}

export function registerLbCommand(program: Command): void {
  addMeshQueryFlags(program.command('lb').description('expected traffic shares per endpoint, locality and priority'))
    .option('--client <envoy|grpc>', 'which client to model', 'envoy')
    .option('--unhealthy <ip:port,...>', 'endpoints the client sees as failing')
    .action(async (flags: LbFlags) => {
      const output = checkOutput(flags.output);
      if (flags.client !== 'envoy' && flags.client !== 'grpc') throw new CliError(`--client: expected envoy or grpc, got "${flags.client}"`);
      const unhealthy = (flags.unhealthy ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      for (const u of unhealthy) if (!/^(\[[0-9a-fA-F:.]+\]|[^:\s]+|[0-9a-fA-F:.]+):\d+$/.test(u)) throw new CliError(`--unhealthy: expected ip:port, got "${u}"`);
      const proxy = proxyFromFlags(flags);
      const mesh = await loadMesh(flags.file, { sendUnhealthy: flags.sendUnhealthy });
      const cluster = requireCluster(mesh, flags.cluster);
      const view = mesh.eds.view(cluster, proxy)!;
      const cds = buildCluster(mesh.registry.cluster(cluster)!, { sendUnhealthy: flags.sendUnhealthy === true });
      const cla = toCanonicalJson('ClusterLoadAssignment', view.bytes) as unknown as ClaJson;
      // istiod sets the cluster's panic threshold and locality weighting; model what it sends.
      const shares = computeShares(cla, { client: flags.client, unhealthy, ...clusterLbOptions(cds) });
      process.stdout.write(output === 'json' ? `${JSON.stringify(shares, null, 2)}\n` : `${formatSharesTable(shares)}\n`);
    });
}
