// The mesh a fuzzed server serves: small, but with every resource type, a WorkloadGroup so the
// auto-registration path sees garbage too, and the names the generators aim at.

export const FUZZ_NAMESPACE = 'fuzz';
export const FUZZ_GROUP = 'vm';

export const FUZZ_MESH_YAML = `apiVersion: v1
kind: Service
metadata: { name: api, namespace: fuzz }
spec:
  selector: { app: api }
  ports: [{ name: grpc, port: 8080 }]
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: fuzz }
spec:
  selector: { app: web }
  ports: [{ name: http, port: 80 }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: api, namespace: fuzz }
spec:
  host: api
  trafficPolicy:
    loadBalancer: { localityLbSetting: { enabled: true } }
    outlierDetection: { consecutive5xxErrors: 5 }
  subsets: [{ name: v1, labels: { version: v1 } }]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: api-a, namespace: fuzz }
spec: { address: 10.0.0.1, locality: r1/z1/s1, labels: { app: api, version: v1 } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: api-b, namespace: fuzz }
spec: { address: 10.0.0.2, locality: r2/z1/s1, labels: { app: api } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: web-a, namespace: fuzz }
spec: { address: 10.0.1.1, locality: r1/z1/s1, labels: { app: web } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: { name: vm, namespace: fuzz }
spec:
  metadata: { labels: { app: web } }
  template: { ports: { http: 80 } }
`;

/** Resource names that exist in FUZZ_MESH_YAML, per type (what well-aimed garbage asks for). */
export const FUZZ_NAMES = Object.freeze({
  clusters: ['outbound|8080||api.fuzz.svc.cluster.local', 'outbound|8080|v1|api.fuzz.svc.cluster.local', 'outbound|80||web.fuzz.svc.cluster.local'],
  listeners: ['api.fuzz.svc.cluster.local:8080', 'web.fuzz.svc.cluster.local:80', 'api:8080', 'web.fuzz:80'],
  routes: ['api.fuzz.svc.cluster.local:8080', 'web.fuzz.svc.cluster.local:80'],
});
