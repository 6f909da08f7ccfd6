// Seeded generators of malformed input for the fuzz harness: mutated manifests, random bytes,
// absurd-but-valid values. Deterministic per seed so a crash can be replayed from its seed.
import { Rng } from '../topology/generate.js';

const SEED_MANIFESTS = [
  'apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata:\n  name: we-1\n  namespace: pay\nspec:\n  address: 10.0.0.1\n  labels:\n    app: reviews\n  locality: us-east/us-east-1a/rack1\n  weight: 3\n  ports:\n    http: 8080\n',
  'apiVersion: v1\nkind: Service\nmetadata:\n  name: reviews\n  namespace: pay\nspec:\n  selector:\n    app: reviews\n  ports:\n  - name: http\n    port: 9080\n    targetPort: http\n',
  'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: reviews\n  namespace: pay\nspec:\n  host: reviews\n  trafficPolicy:\n    outlierDetection:\n      consecutive5xxErrors: 1\n    loadBalancer:\n      localityLbSetting:\n        enabled: true\n        failover:\n        - from: us-east\n          to: us-west\n        distribute:\n        - from: us-east/*\n          to:\n            "us-east/*": 80\n            "us-west/*": 20\n  subsets:\n  - name: v1\n    labels:\n      version: v1\n',
  'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: db\n  namespace: pay\nspec:\n  hosts: [db.example.com]\n  ports:\n  - number: 5432\n    name: pg\n  resolution: STATIC\n  endpoints:\n  - address: 192.168.0.1\n    locality: r/z\n',
  'apiVersion: networking.istio.io/v1\nkind: WorkloadGroup\nmetadata:\n  name: g\n  namespace: pay\nspec:\n  metadata:\n    labels:\n      app: x\n  template:\n    serviceAccount: sa\n  probe:\n    httpGet:\n      path: /health\n      port: 8080\n',
];

const NASTY = [
  '', '~', 'null', '[]', '{}', '- -', ': :', '&a [*a]', '*undefined', '!!binary AAAA', '!!js/function x', '"\\u0000"', '0x7fffffff', '-1', '1e400',
  '4294967296', 'NaN', '.inf', "'", '"', '{{{{', ']]]]', '\t', '\r\n', '---', '...', '%YAML 1.1', '? complex\n: key', '<<: *x', 'yes', '😀'.repeat(50),
];

/** One malformed manifest text. */
export function mutatedManifest(rng: Rng): string {
  const base = SEED_MANIFESTS[rng.int(0, SEED_MANIFESTS.length - 1)]!;
  const lines = base.split('\n');
  const ops = rng.int(1, 4);
  for (let k = 0; k < ops; k++) {
    const i = rng.int(0, lines.length - 1);
    switch (rng.int(0, 9)) {
      case 0: lines.splice(i, 1); break; // drop a line
      case 1: lines[i] = lines[i]!.replace(/:\s.*$/, `: ${NASTY[rng.int(0, NASTY.length - 1)]}`); break; // bad value
      case 2: lines[i] = ' '.repeat(rng.int(0, 7)) + lines[i]!.trimStart(); break; // bad indent
      case 3: lines.splice(i, 0, `${' '.repeat(rng.int(0, 4))}unknownField${rng.int(0, 99)}: ${rng.int(0, 9)}`); break;
      case 4: lines[i] = lines[i]!.slice(0, rng.int(0, lines[i]!.length)); break; // truncate
      case 5: lines.splice(i, 0, NASTY[rng.int(0, NASTY.length - 1)]!); break;
      case 6: lines[i] = `${lines[i]}${'x'.repeat(rng.int(1, 5000))}`; break; // long value
      case 7: lines.splice(i, 0, ...lines.slice(0, rng.int(0, lines.length))); break; // duplicate keys
      case 8: { // deep nesting
        const depth = rng.int(10, 300);
        lines.splice(i, 0, `${'  '.repeat(1)}deep: ${'['.repeat(depth)}${']'.repeat(rng.next() < 0.5 ? depth : 0)}`);
        break;
      }
      default: lines[i] = randomText(rng, rng.int(0, 80)); break;
    }
  }
  const docs = rng.int(1, 3);
  return Array.from({ length: docs }, () => lines.join('\n')).join('\n---\n');
}

export function randomText(rng: Rng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(rng.next() < 0.9 ? rng.int(32, 126) : rng.int(0, 0xffff));
  return s;
}

export function randomBytes(rng: Rng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(0, 255);
  return b;
}
