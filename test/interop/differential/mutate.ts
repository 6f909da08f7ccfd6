// Run-time config changes for the differential: the same YAML applied to (or deleted from) both
// control planes, after which every proxy of the mesh must again see the same thing from each.
import type { DestinationRule, Resource, WorkloadEntry } from '../../../src/config/resources.js';
import { Rng } from '../../../src/topology/generate.js';
import type { Mesh } from './meshes.js';

export interface Change {
  what: string;
  apply: Resource[];
  remove: Resource[];
}

const clone = <T>(x: T): T => structuredClone(x);

/** A few changes to `mesh`, and the mesh's resources as they stand after them (for the next round). */
export function randomChanges(mesh: Mesh, seed: number): Change[] {
  const rng = new Rng(seed * 31 + 5);
  const entries = mesh.resources.filter((r): r is WorkloadEntry => r.kind === 'WorkloadEntry');
  const rules = mesh.resources.filter((r): r is DestinationRule => r.kind === 'DestinationRule');
  const services = mesh.resources.filter((r) => r.kind === 'Service' || r.kind === 'ServiceEntry');
  const out: Change[] = [];
  if (entries.length) {
    const e = clone(rng.pick(entries));
    e.spec.weight = rng.int(1, 30);
    out.push({ what: `weight of ${e.metadata.name} -> ${e.spec.weight}`, apply: [e], remove: [] });
    const gone = rng.pick(entries);
    out.push({ what: `delete ${gone.metadata.name}`, apply: [], remove: [gone] });
    const added = clone(rng.pick(entries));
    added.metadata.name = `${added.metadata.name}-added`;
    added.spec.address = (added.spec.address ?? '10.0.0.1').replace(/\.\d+$/, `.${rng.int(240, 253)}`);
    if (mesh.localities.length) added.spec.locality = rng.pick(mesh.localities);
    out.push({ what: `add ${added.metadata.name} in ${added.spec.locality ?? '-'}`, apply: [added], remove: [] });
  }
  if (rules.length && rng.chance(0.5)) {
    const r = rng.pick(rules);
    out.push({ what: `delete DestinationRule ${r.metadata.namespace}/${r.metadata.name}`, apply: [], remove: [r] });
  }
  if (services.length > 1 && rng.chance(0.3)) {
    const s = rng.pick(services);
    out.push({ what: `delete ${s.kind} ${s.metadata.namespace}/${s.metadata.name}`, apply: [], remove: [s] });
  }
  return out;
}
