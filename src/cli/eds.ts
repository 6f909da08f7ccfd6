// `xdsim eds`: the ClusterLoadAssignment a proxy would receive for a cluster.
import Table from 'cli-table3';
import type { Command } from 'commander';
import type { EncodedView } from '../eds/eds-cache.js';
import { localityLabel } from '../model/locality.js';
import { toCanonicalJson } from '../proto/index.js';
import { CliError } from './errors.js';
import { loadMesh, requireCluster } from './mesh-input.js';
import { addProxyFlags, proxyFromFlags, type ProxyFlags } from './proxy-flags.js';

export interface MeshQueryFlags extends ProxyFlags {
  file: string[];
  cluster?: string;
  output: string;
  meshNetworks?: string;
}

export function addMeshQueryFlags(cmd: Command): Command {
  return addProxyFlags(
    cmd
      .requiredOption('-f, --file <file|dir...>', 'mesh config: YAML files or directories (repeatable)')
      .option('--cluster <name>', 'cluster name, e.g. outbound|9080||reviews.pay.svc.cluster.local')
      .option('-o, --output <format>', 'json or table', 'table')
      .option('--mesh-networks <file>', "istiod's meshNetworks: endpoints on other networks reached through their gateways (split horizon)"),
  );
}

export function checkOutput(output: string): 'json' | 'table' {
  if (output !== 'json' && output !== 'table') throw new CliError(`-o: expected json or table, got "${output}"`);
  return output;
}

export function registerEdsCommand(program: Command): void {
  addMeshQueryFlags(program.command('eds').description('print the ClusterLoadAssignment a proxy would receive')).action(
    async (flags: MeshQueryFlags) => {
      const output = checkOutput(flags.output);
      const proxy = proxyFromFlags(flags);
      const mesh = await loadMesh(flags.file, flags.meshNetworks);
      const cluster = requireCluster(mesh, flags.cluster);
      const view = mesh.eds.view(cluster, proxy)!;
      process.stdout.write(output === 'json' ? `${JSON.stringify(toCanonicalJson('ClusterLoadAssignment', view.bytes), null, 2)}\n` : formatViewTable(view));
    },
  );
}

export function formatViewTable(view: EncodedView): string {
  const t = new Table({
    head: ['priority', 'locality', 'locality weight', 'endpoint', 'weight', 'health'],
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  for (const g of view.groups) {
    const loc = localityLabel(g.source.locality) || '(none)';
    if (g.endpoints.length === 0) t.push([g.priority, loc, g.weight, '(no endpoints)', '', '']);
    for (const e of g.endpoints) {
      const ep = e.endpoint;
      t.push([g.priority, loc, g.weight, `${ep.address}:${ep.port}`, ep.weight, ep.unhealthy ? 'UNHEALTHY' : '']);
    }
  }
  const n = view.groups.reduce((s, g) => s + g.endpoints.length, 0);
  return `cluster ${view.cluster}: ${n} endpoint(s) in ${view.groups.length} group(s), ${view.bytes.length} bytes\n${t.toString()}\n`;
}
