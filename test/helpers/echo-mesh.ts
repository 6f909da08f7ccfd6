// Real gRPC backends on 127.0.0.2-4, registered as WorkloadEntries of echo.pay in three
// localities behind a running xdsim: what the proxyless-client interop tests route through.
// Each backend answers /xdsim.test.Echo/Who with its name, so a client can count who served it.
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import type { ControlPlane } from '../../src/server/control-plane.js';
import { admin, startPlane, waitFor } from '../xds/helpers.js';
import { whoMethod } from './echo-method.js';

export const ECHO_HOST = 'echo.pay.svc.cluster.local';
export const ECHO_TARGET = `xds:///${ECHO_HOST}:5000`;

export interface EchoBackend {
  readonly name: string;
  readonly ip: string;
  readonly locality: string;
  /** WorkloadEntry spec.weight (none when unset). */
  readonly weight?: number;
}

export const ECHO_BACKENDS: readonly EchoBackend[] = [
  { name: 'echo-a', ip: '127.0.0.2', locality: 'r1/z1/s1' },
  { name: 'echo-b', ip: '127.0.0.3', locality: 'r1/z2/s1' },
  { name: 'echo-c', ip: '127.0.0.4', locality: 'r2/z1/s1' },
];

export { whoMethod } from './echo-method.js';

export const ECHO_SERVICE_YAML = `apiVersion: v1
kind: Service
metadata: { name: echo, namespace: pay }
spec:
  selector: { app: echo }
  ports: [{ name: grpc, port: 5000, targetPort: grpc }]
`;

/** Failover by proximity (outlier detection turns priorities on). */
const FAILOVER_RULE = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: echo, namespace: pay }
spec:
  host: echo
  trafficPolicy:
    outlierDetection: { consecutive5xxErrors: 100, interval: 10s, baseEjectionTime: 30s }
`;

/** From r1/z1: 60% stays, 30% to r1/z2, 10% to r2. */
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

/** Running echo backends: each answers Who with its name on `<ip>:<port>`. */
export interface EchoBackends {
  /** backend name -> port */
  readonly ports: ReadonlyMap<string, number>;
  close(): void;
}

/** One gRPC server per backend, on its own loopback address and a free port. */
export async function startEchoBackends(backends: readonly EchoBackend[]): Promise<EchoBackends> {
  const servers: grpc.Server[] = [];
  const ports = new Map<string, number>();
  const close = () => {
    for (const s of servers) s.forceShutdown();
  };
  try {
    for (const b of backends) {
      const s = new grpc.Server();
      s.addService({ Who: whoMethod }, { Who: (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from(b.name)) });
      servers.push(s);
      const port = await new Promise<number>((resolve, reject) =>
        s.bindAsync(`${b.ip}:0`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
      );
      ports.set(b.name, port);
    }
  } catch (err) {
    close();
    throw err;
  }
  return { ports, close };
}

/** The WorkloadEntry of `b` (app: echo, in pay) on `port`, health-checked, with its Healthy condition. */
export function echoEntryYaml(b: EchoBackend, port: number, healthy: boolean): string {
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
  ports: { grpc: ${port} }${b.weight !== undefined ? `\n  weight: ${b.weight}` : ''}
status:
  conditions:
  - type: Healthy
    status: "${healthy ? 'True' : 'False'}"
`;
}

/**
 * A gRPC xDS bootstrap for a client in `locality` (region/zone/subzone) of namespace pay, with
 * the GENERATOR istio-agent writes into a proxyless bootstrap (its agent.go), so the control
 * plane (xdsim or istiod) serves the proxyless generator's resources.
 */
export function proxylessBootstrap(serverUri: string, locality = 'r1/z1/s1', id = 'sidecar~127.0.0.9~client.pay~pay.svc.cluster.local'): object {
  const [region = '', zone = '', sub_zone = ''] = locality.split('/');
  return {
    xds_servers: [{ server_uri: serverUri, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id, locality: { region, zone, sub_zone }, metadata: { NAMESPACE: 'pay', GENERATOR: 'grpc' } },
  };
}

export class EchoMesh {
  private constructor(
    readonly plane: ControlPlane,
    private readonly backends: EchoBackends,
  ) {}

  /** Backends up, control plane up, and the echo service with the failover rule and all backends healthy. */
  static async start(): Promise<EchoMesh> {
    const backends = await startEchoBackends(ECHO_BACKENDS);
    const mesh = new EchoMesh(await startPlane([]), backends);
    await mesh.apply([ECHO_SERVICE_YAML, FAILOVER_RULE, ...ECHO_BACKENDS.map((b) => mesh.entryYaml(b, true))].join('---\n'));
    return mesh;
  }

  /** The WorkloadEntry of `b`, health-checked, with its Healthy condition. */
  entryYaml(b: EchoBackend, healthy: boolean): string {
    return echoEntryYaml(b, this.backends.ports.get(b.name)!, healthy);
  }

  /** POST /apply, as a user would. */
  async apply(yaml: string): Promise<void> {
    const r = await admin(this.plane, '/apply', { method: 'POST', body: yaml });
    expect(r.status, r.text).toBe(200);
  }

  /**
   * A gRPC xDS bootstrap for a client in r1/z1/s1, with the GENERATOR istio-agent writes into a
   * proxyless bootstrap (its agent.go), so xdsim serves the proxyless generator's resources.
   */
  bootstrap(): object {
    return proxylessBootstrap(`127.0.0.1:${this.plane.xdsPort}`);
  }

  async close(): Promise<void> {
    await this.plane.close();
    this.backends.close();
  }
}

/** RPCs made by a client under test: backend name -> count, failures as "error:<code>". */
export type Tally = (n: number) => Promise<Record<string, number>>;

/**
 * The checks every proxyless client goes through, whatever its language: `get` returns the
 * running mesh and the client's tally once the file's beforeAll has set them up.
 */
export function describeProxylessClient(name: string, get: () => { mesh: EchoMesh; tally: Tally }): void {
  describe(name, () => {
    it('ACKs every resource and routes every RPC to its own locality', async () => {
      const { mesh, tally } = get();
      await waitFor(async () => (await tally(1))['echo-a'] === 1, 30_000, 'first RPC through xDS');
      expect(await tally(60)).toEqual({ 'echo-a': 60 });
      const adsz = (await admin(mesh.plane, '/debug/adsz')).json() as { clients: { locality: string }[] };
      expect(adsz.clients.map((c) => c.locality)).toEqual(['r1/z1/s1']);
      const syncz = (await admin(mesh.plane, '/debug/syncz')).json() as { streams: { type: string; state: string }[] };
      expect(syncz.streams.map((s) => `${s.type} ${s.state}`).sort()).toEqual(['cds SYNCED', 'eds SYNCED', 'lds SYNCED', 'rds SYNCED']);
    });

    it('moves to the next priority when its endpoint is marked unhealthy', async () => {
      const { mesh, tally } = get();
      await mesh.apply(mesh.entryYaml(ECHO_BACKENDS[0]!, false));
      await waitFor(async () => (await tally(1))['echo-b'] === 1, 10_000, 'traffic on echo-b');
      expect(await tally(60)).toEqual({ 'echo-b': 60 });
    });

    it('with distribute, shares follow the weights', async () => {
      const { mesh, tally } = get();
      await mesh.apply([mesh.entryYaml(ECHO_BACKENDS[0]!, true), DISTRIBUTE_RULE].join('---\n'));
      await waitFor(async () => (await tally(20))['echo-c'] !== undefined, 10_000, 'traffic on echo-c');
      const t = await tally(600);
      if (process.env['XDSIM_TEST_LOG']) console.log(name, t);
      // Wide bounds: every RPC is a random pick.
      const share = (b: string) => (t[b] ?? 0) / 600;
      expect(share('echo-a')).toBeGreaterThan(0.5);
      expect(share('echo-a')).toBeLessThan(0.7);
      expect(share('echo-b')).toBeGreaterThan(0.2);
      expect(share('echo-b')).toBeLessThan(0.4);
      expect(share('echo-c')).toBeGreaterThan(0.03);
      expect(share('echo-c')).toBeLessThan(0.17);
    });
  });
}
