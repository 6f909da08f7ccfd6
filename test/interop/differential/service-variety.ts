// Service shapes the topology generator does not make, added to the differential's random meshes:
// ServiceEntries with inline endpoints instead of a selector, MESH_EXTERNAL
// entries, addresses, a second port with another protocol on some services, and entries without
// a locality or with only a region.
import type { KubeService, Resource, ServiceEntry, WorkloadEntry } from '../../../src/config/resources.js';
import type { Rng } from '../../../src/topology/generate.js';

/** `addr(n)` gives the n-th free address of the mesh's /24 (inline endpoints count from 200). */
export function varyServices(rng: Rng, resources: Resource[], localities: readonly string[], addr: (n: number) => string): void {
  let next = 200;
  for (const r of resources) {
    if (r.kind === 'ServiceEntry') {
      const se = r as ServiceEntry;
      if (rng.chance(0.3)) {
        const count = rng.int(1, 3);
        se.spec.endpoints = Array.from({ length: count }, () => ({
          address: addr(next++),
          ...(rng.chance(0.7) && localities.length ? { locality: rng.pick(localities) } : {}),
          ...(rng.chance(0.5) ? { weight: rng.int(1, 9) } : {}),
          ...(rng.chance(0.5) ? { labels: { version: `v${rng.int(1, 2)}` } } : {}),
          ...(rng.chance(0.4) ? { serviceAccount: 'external-sa' } : {}),
          ...(rng.chance(0.3) ? { ports: { http: 7000 + rng.int(0, 9) } } : {}),
        }));
        // Endpoints replace the selector (istiod refuses both on one entry).
        delete se.spec.workloadSelector;
      }
      if (rng.chance(0.2)) se.spec.location = 'MESH_EXTERNAL';
      if (rng.chance(0.3)) se.spec.addresses = [`240.240.${rng.int(0, 255)}.${rng.int(1, 254)}`];
      if (rng.chance(0.2)) (se.spec.ports ??= []).push({ number: 9000, name: rng.pick(['tcp-db', 'grpc-admin', 'mysql']), protocol: rng.pick(['TCP', 'GRPC', 'MYSQL']) });
    } else if (r.kind === 'Service') {
      const svc = r as KubeService;
      if (rng.chance(0.2)) svc.spec.ports = [...(svc.spec.ports ?? []), { name: rng.pick(['tcp-db', 'grpc-admin', 'mongo']), port: 9000, targetPort: 9000 }];
      if (rng.chance(0.3)) svc.spec.clusterIP = `10.96.${rng.int(0, 255)}.${rng.int(1, 254)}`;
    } else if (r.kind === 'WorkloadEntry') {
      const we = r as WorkloadEntry;
      if (rng.chance(0.05)) delete we.spec.locality;
      else if (rng.chance(0.05) && we.spec.locality) we.spec.locality = we.spec.locality.split('/')[0]!;
    }
  }
}
