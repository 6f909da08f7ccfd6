// A small mesh: Service pay/api on 8080 with three VMs in three localities.
import type { Resource, WorkloadGroup } from '../../src/config/resources.js';
import { dr, svc, we } from '../helpers/mesh.js';

export const API_HOST = 'api.pay.svc.cluster.local';
export const API = `outbound|8080||${API_HOST}`;
export const WEB = 'outbound|80||web.pay.svc.cluster.local';

export function apiMesh(): Resource[] {
  return [
    svc('api', { app: 'api' }, [{ name: 'grpc', port: 8080 }]),
    svc('web', { app: 'web' }, [{ name: 'http', port: 80 }]),
    we('api-a', { address: '10.0.0.1', locality: 'r1/z1/s1', labels: { app: 'api' } }),
    we('api-b', { address: '10.0.0.2', locality: 'r1/z2/s1', labels: { app: 'api' } }),
    we('api-c', { address: '10.0.0.3', locality: 'r2/z1/s1', labels: { app: 'api' } }),
    we('web-a', { address: '10.0.1.1', locality: 'r1/z1/s1', labels: { app: 'web' } }),
  ];
}

export const failoverRule = dr('api', {
  host: 'api',
  trafficPolicy: {
    loadBalancer: { localityLbSetting: { enabled: true } },
    outlierDetection: { consecutive5xxErrors: 5 },
  },
});

/** WorkloadGroup pay/vm: VMs that auto-register into the api service (app=api, grpc on 8080). */
export const vmGroup: WorkloadGroup = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'WorkloadGroup',
  metadata: { name: 'vm', namespace: 'pay' },
  spec: { metadata: { labels: { app: 'api' } }, template: { ports: { grpc: 8080 } } },
};
