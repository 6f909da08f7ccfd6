// A real proxyless gRPC client (@grpc/grpc-js-xds) resolving xds:/// through xdsim and calling
// real backends on 127.0.0.2-4, registered as WorkloadEntries in three localities.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlPlane } from '../../src/server/control-plane.js';
import { admin, startPlane, waitFor } from './helpers.js';

const HOST = 'echo.pay.svc.cluster.local';
const TARGET = `xds:///${HOST}:5000`;
const BACKENDS = [
  { name: 'echo-a', ip: '127.0.0.2', locality: 'r1/z1/s1' },
  { name: 'echo-b', ip: '127.0.0.3', locality: 'r1/z2/s1' },
  { name: 'echo-c', ip: '127.0.0.4', locality: 'r2/z1/s1' },
];

const bytes = (b: Buffer) => b;
const whoMethod = {
  path: '/xdsim.test.Echo/Who',
  requestStream: false,
  responseStream: false,
  requestSerialize: bytes,
  requestDeserialize: bytes,
  responseSerialize: bytes,
  responseDeserialize: bytes,
};
const EchoClient = grpc.makeGenericClientConstructor({ Who: whoMethod }, 'Echo');

let plane: ControlPlane;
const servers: grpc.Server[] = [];
const ports = new Map<string, number>();
let client: grpc.Client;

function entryYaml(b: (typeof BACKENDS)[number], healthy: boolean): string {
  return `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: ${b.name}
  namespace: pay
  annotations:
    proxy.istio.io/health-checks-enabled: "true"
spec:
  address: ${b.ip}
  locality: ${b.locality}
  labels: { app: echo }
  ports: { grpc: ${ports.get(b.name)} }
status:
  conditions:
  - type: Healthy
    status: "${healthy ? 'True' : 'False'}"
`;
}

const SERVICE = `apiVersion: v1
kind: Service
metadata: { name: echo, namespace: pay }
spec:
  selector: { app: echo }
  ports: [{ name: grpc, port: 5000, targetPort: grpc }]
`;

const FAILOVER_RULE = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: echo, namespace: pay }
spec:
  host: echo
  trafficPolicy:
    outlierDetection: { consecutive5xxErrors: 100 }
`;

const DISTRIBUTE_RULE = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: echo, namespace: pay }
spec:
  host: echo
  trafficPolicy:
    loadBalancer:
      localityLbSetting:
        enabled: true
        distribute:
        - from: r1/z1/*
          to: { "r1/z1/*": 60, "r1/z2/*": 30, "r2/*": 10 }
`;

async function apply(yaml: string): Promise<void> {
  const r = await admin(plane, '/apply', { method: 'POST', body: yaml });
  expect(r.status, r.text).toBe(200);
}

function who(deadlineMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    (client as unknown as { Who: (req: Buffer, opts: grpc.CallOptions, cb: grpc.requestCallback<Buffer>) => void }).Who(
      Buffer.alloc(0),
      { deadline: Date.now() + deadlineMs },
      (err, res) => (err ? reject(err) : resolve(res!.toString())),
    );
  });
}

async function tally(n: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i += 20) {
    const batch = await Promise.all(Array.from({ length: Math.min(20, n - i) }, () => who()));
    for (const b of batch) out[b] = (out[b] ?? 0) + 1;
  }
  return out;
}

beforeAll(async () => {
  for (const b of BACKENDS) {
    const s = new grpc.Server();
    s.addService({ Who: whoMethod }, { Who: (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from(b.name)) });
    const port = await new Promise<number>((resolve, reject) =>
      s.bindAsync(`${b.ip}:0`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    servers.push(s);
    ports.set(b.name, port);
  }
  plane = await startPlane([]);
  await apply([SERVICE, FAILOVER_RULE, ...BACKENDS.map((b) => entryYaml(b, true))].join('---\n'));
  process.env['GRPC_XDS_BOOTSTRAP_CONFIG'] = JSON.stringify({
    xds_servers: [{ server_uri: `127.0.0.1:${plane.xdsPort}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: {
      id: 'sidecar~127.0.0.9~client.pay~pay.svc.cluster.local',
      locality: { region: 'r1', zone: 'z1', sub_zone: 's1' },
      metadata: { NAMESPACE: 'pay' },
    },
  });
  const xds = await import('@grpc/grpc-js-xds');
  xds.register();
  client = new EchoClient(TARGET, grpc.credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  await plane?.close();
  for (const s of servers) s.forceShutdown();
});

describe('grpc-js-xds client', () => {
  it('routes every RPC to its own locality', async () => {
    await waitFor(() => who().then(() => true, () => false), 20_000, 'first RPC through xDS');
    const t = await tally(60);
    expect(t).toEqual({ 'echo-a': 60 });
    const adsz = (await admin(plane, '/debug/adsz')).json() as { clients: { locality: string; watches: { type: string }[] }[] };
    expect(adsz.clients[0]!.locality).toBe('r1/z1/s1');
    expect(adsz.clients[0]!.watches.map((w) => w.type).sort()).toEqual(['cds', 'eds', 'lds', 'rds']);
  });

  it('moves to the next priority when its endpoint is marked unhealthy', async () => {
    await apply(entryYaml(BACKENDS[0]!, false));
    await waitFor(async () => (await who()) === 'echo-b', 10_000, 'traffic on echo-b');
    const t = await tally(60);
    expect(t).toEqual({ 'echo-b': 60 });
  });

  it('with distribute, shares follow the weights', async () => {
    await apply([entryYaml(BACKENDS[0]!, true), DISTRIBUTE_RULE].join('---\n'));
    await waitFor(async () => (await tally(20))['echo-c'] !== undefined, 10_000, 'traffic on echo-c');
    const t = await tally(600);
    if (process.env['XDSIM_TEST_LOG']) console.log(t);
    const share = (n: string) => (t[n] ?? 0) / 600;
    expect(share('echo-a')).toBeGreaterThan(0.5);
    expect(share('echo-a')).toBeLessThan(0.7);
    expect(share('echo-b')).toBeGreaterThan(0.2);
    expect(share('echo-b')).toBeLessThan(0.4);
    expect(share('echo-c')).toBeGreaterThan(0.03);
    expect(share('echo-c')).toBeLessThan(0.17);
  });
});
