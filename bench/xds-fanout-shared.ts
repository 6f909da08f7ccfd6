// What the fan-out bench's processes agree on: the cluster, the clients' locality, the mesh every
// server is given and the change of each round.
import type { Resource } from '../src/config/resources.js';

export const CLUSTER = 'outbound|8080||api.bench.svc.cluster.local';
export const LOCALITY = { region: 'r1', zone: 'z1', sub_zone: 's1' };

/** The moving entry's address in round `round`: what the change adds to the resource. */
export function movingAddress(round: number): string {
  return `10.9.${(round >> 8) & 255}.${round & 255}`;
}

export function mesh(): Resource[] {
  const out: Resource[] = [
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'api', namespace: 'bench' }, spec: { selector: { app: 'api' }, ports: [{ name: 'grpc', port: 8080 }] } },
  ];
  const localities = ['r1/z1/s1', 'r1/z2/s1', 'r2/z1/s1'];
  for (let i = 0; i < 30; i++) {
    out.push({
      apiVersion: 'networking.istio.io/v1',
      kind: 'WorkloadEntry',
      metadata: { name: `api-${i}`, namespace: 'bench', labels: { app: 'api' } },
      spec: { address: `10.0.${i >> 8}.${i & 255}`, locality: localities[i % 3]! },
    });
  }
  return out;
}

export function change(round: number): Resource {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'WorkloadEntry',
    metadata: { name: 'api-moving', namespace: 'bench', labels: { app: 'api' } },
    spec: { address: movingAddress(round), locality: 'r1/z1/s1' },
  };
}

