// Loading mesh config for one-shot commands: diagnostics to stderr, errors stop the command.
import { countBySeverity, formatDiagnostic, hasErrors, type Diagnostic } from '../config/diagnostics.js';
import { applyLoaded, loadConfigPaths } from '../config/load.js';
import { ConfigStore } from '../config/store.js';
import { EdsCache } from '../eds/eds-cache.js';
import { Registry } from '../model/registry.js';
import { loadMeshNetworksFile, type MeshNetworks } from '../model/mesh-networks.js';
import { meshGateways } from '../model/service-gateways.js';
import { CliError } from './errors.js';

export interface LoadedMesh {
  store: ConfigStore;
  registry: Registry;
  eds: EdsCache;
}

export function reportDiagnostics(diagnostics: readonly Diagnostic[], out: NodeJS.WritableStream = process.stderr): void {
  for (const d of diagnostics) if (d.severity !== 'unused') out.write(`${formatDiagnostic(d)}\n`);
  const unused = diagnostics.filter((d) => d.severity === 'unused');
  if (unused.length > 0) {
    const kinds = [...new Set(unused.map((d) => d.kind ?? '?'))].sort().join(', ');
    out.write(`note: ${unused.length} document(s) not used by xdsim (${kinds})\n`);
  }
}

export async function loadMesh(paths: readonly string[], meshNetworksFile?: string): Promise<LoadedMesh> {
  if (paths.length === 0) throw new CliError('no config given: use -f <file|dir>');
  const loaded = await loadConfigPaths(paths);
  reportDiagnostics(loaded.diagnostics);
  if (hasErrors(loaded.diagnostics)) {
    const n = countBySeverity(loaded.diagnostics).error;
    throw new CliError(`${n} error(s) in the config; nothing computed`);
  }
  const store = new ConfigStore();
  applyLoaded(store, loaded);
  const registry = new Registry(store);
  const eds = new EdsCache(registry);
  let meshNetworks: MeshNetworks | undefined;
  if (meshNetworksFile !== undefined) {
    const mn = await loadMeshNetworksFile(meshNetworksFile);
    reportDiagnostics(mn.diagnostics);
    if (hasErrors(mn.diagnostics)) throw new CliError(`${countBySeverity(mn.diagnostics).error} error(s) in ${meshNetworksFile}; nothing computed`);
    meshNetworks = mn.meshNetworks;
  }
  // meshNetworks' gateways and those of Services labeled with a network (a one-shot command: no watch).
  eds.setNetworkGateways(meshGateways(store, meshNetworks));
  return { store, registry, eds };
}

export function requireCluster(mesh: LoadedMesh, cluster: string | undefined): string {
  if (!cluster) throw new CliError('--cluster <name> is required');
  if (mesh.eds.has(cluster)) return cluster;
  const known = mesh.eds.clusterNames();
  const hint = known.length ? `known clusters:\n  ${known.slice(0, 50).join('\n  ')}${known.length > 50 ? `\n  ... ${known.length - 50} more` : ''}` : 'the config defines no EDS clusters';
  throw new CliError(`unknown cluster "${cluster}"; ${hint}`);
}
