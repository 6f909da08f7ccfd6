// What a `GENERATOR: grpc` node gets, as istiod's proxyless generator builds it
// (pilot/pkg/networking/grpcgen: cds.go edsCluster, lds.go buildOutboundListeners, rds.go
// buildHTTPRoute over core's BuildSidecarOutboundVirtualHosts), against a sidecar node on the
// same plane, which keeps the sidecar flavour.
import { afterEach, describe, expect, it } from 'vitest';
import type { Resource } from '../../src/config/resources.js';
import { TYPE_URL, unpackAny } from '../../src/proto/index.js';
import type { ControlPlane } from '../../src/server/control-plane.js';
import { dr, se, svc, we } from '../helpers/mesh.js';
import { API, API_HOST } from './fixtures.js';
import { node, SotwClient, startPlane } from './helpers.js';

let plane: ControlPlane | undefined;
const clients: SotwClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await plane?.close();
  plane = undefined;
});

function client(): SotwClient {
  const c = new SotwClient(plane!.xdsPort, 'ads');
  clients.push(c);
  return c;
}

const GRPC = { NAMESPACE: 'pay', GENERATOR: 'grpc' };
const GRPC_ID = 'sidecar~10.0.9.9~client.pay~pay.svc.cluster.local';

function meshWith(extra: Resource[] = []): Resource[] {
  const api = svc('api', { app: 'api' }, [{ name: 'grpc', port: 8080 }]);
  api.spec.clusterIP = '10.96.0.10';
  return [api, we('api-a', { address: '10.0.0.1', labels: { app: 'api' } }), ...extra];
}

async function fetch(c: SotwClient, typeUrl: string, names: string[], first: boolean, id = GRPC_ID, metadata: Record<string, unknown> = GRPC) {
  c.send({ ...(first ? { node: node(id, undefined, metadata) } : {}), type_url: typeUrl, resource_names: names });
  const r = await c.recv();
  c.ack(r.raw, names);
  return r;
}

const unpackHcm = (l: Record<string, unknown>) => unpackAny((l['api_listener'] as { api_listener: { type_url: string; value: Uint8Array } }).api_listener);

describe('proxyless generator (GENERATOR: grpc)', () => {
  it('Cluster: EDS over ADS only (grpcgen edsCluster)', async () => {
    plane = await startPlane(meshWith());
    const c = client();
    const r = await fetch(c, TYPE_URL.CLUSTER, [API], true);
    expect(r.resources).toEqual([
      { name: API, alt_stat_name: `${API};`, type: 'EDS', eds_cluster_config: { eds_config: { ads: {} }, service_name: API } },
    ]);
  });

  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    ['LEAST_REQUEST is kept', { loadBalancer: { simple: 'LEAST_REQUEST' } }, { lb_policy: 'LEAST_REQUEST' }],
    ['RANDOM and LEAST_CONN are dropped (gRPC cannot do them)', { loadBalancer: { simple: 'RANDOM' } }, {}],
    ['ring hash', { loadBalancer: { consistentHash: { httpHeaderName: 'x-user', ringHash: { minimumRingSize: 2048 } } } }, { lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: { value: '2048' } } }],
    ['maglev', { loadBalancer: { consistentHash: { useSourceIp: true, maglev: { tableSize: 65537 } } } }, { lb_policy: 'MAGLEV', maglev_lb_config: { table_size: { value: '65537' } } }],
    ['only http2MaxRequests becomes a circuit breaker (gRFC A32)', { connectionPool: { tcp: { maxConnections: 5 }, http: { http2MaxRequests: 100, maxRetries: 3 } } }, { circuit_breakers: { thresholds: [{ max_requests: { value: 100 } }] } }],
    ['outlier detection and connect timeout are not written', { outlierDetection: { consecutive5xxErrors: 5 }, connectionPool: { tcp: { connectTimeout: '3s' } } }, {}],
  ])('Cluster from the DestinationRule (grpcgen applyTrafficPolicy): %s', async (_n, trafficPolicy, extra) => {
    plane = await startPlane(meshWith([dr('api', { host: 'api', trafficPolicy })]));
    const r = await fetch(client(), TYPE_URL.CLUSTER, [API], true);
    expect(r.resources).toEqual([{ name: API, alt_stat_name: `${API};`, type: 'EDS', eds_cluster_config: { eds_config: { ads: {} }, service_name: API }, ...extra }]);
  });

  it.each<[string, Record<string, unknown>, Record<string, unknown> | undefined]>([
    ['header', { httpHeaderName: 'x-user' }, { header: { header_name: 'x-user' } }],
    ['source IP', { useSourceIp: true }, { connection_properties: { source_ip: true } }],
    ['query parameter', { httpQueryParameterName: 'u' }, { query_parameter: { name: 'u' } }],
    ['cookie', { httpCookie: { name: 'c', path: '/', ttl: '10s' } }, { cookie: { name: 'c', path: '/', ttl: { seconds: '10' } } }],
  ])('RouteConfiguration: consistentHash by %s becomes the route hash policy (route.ConsistentHashToHashPolicy)', async (_n, consistentHash, want) => {
    plane = await startPlane(meshWith([dr('api', { host: 'api', trafficPolicy: { loadBalancer: { consistentHash } } })]));
    const r = await fetch(client(), TYPE_URL.ROUTE, [API], true);
    const vh = (r.resources[0]!['virtual_hosts'] as { routes: { route: { hash_policy?: unknown[] } }[] }[])[0]!;
    expect(vh.routes[0]!.route.hash_policy).toEqual([want]);
  });

  it('Cluster: no wildcard (grpcgen builds only the names asked for)', async () => {
    plane = await startPlane(meshWith());
    const r = await fetch(client(), TYPE_URL.CLUSTER, [], true);
    expect(r.resources).toEqual([]);
  });

  it.each([
    ['the FQDN', `${API_HOST}:8080`],
    ['svc in the own namespace', 'api:8080'],
    ['svc.ns', 'api.pay:8080'],
    ['svc.ns.svc', 'api.pay.svc:8080'],
  ])('Listener for %s: address, fault then router, RDS outbound|port||host (grpcgen buildOutboundListeners)', async (_, name) => {
    plane = await startPlane(meshWith());
    const r = await fetch(client(), TYPE_URL.LISTENER, [name], true);
    const l = r.resources.find((x) => x['name'] === name)!;
    expect(l['address']).toEqual({ socket_address: { address: '10.96.0.10', port_value: 8080 } });
    expect(unpackHcm(l)).toEqual({
      rds: { config_source: { ads: {} }, route_config_name: API },
      http_filters: [
        { name: 'envoy.filters.http.fault', typed_config: { type_url: TYPE_URL.FAULT } },
        { name: 'envoy.filters.http.router', typed_config: { type_url: TYPE_URL.ROUTER } },
      ],
    });
  });

  it('Listener: svc.ns of another namespace is not resolved (grpcgen tryFindFQDN)', async () => {
    plane = await startPlane(meshWith());
    const c = client();
    c.send({ node: node('sidecar~10.0.9.9~client.other~other.svc.cluster.local', undefined, { NAMESPACE: 'other', GENERATOR: 'grpc' }), type_url: TYPE_URL.LISTENER, resource_names: ['api.pay:8080'] });
    const r = await c.recv();
    expect(r.resources).toEqual([]);
  });

  it('RouteConfiguration: vhost <host>:<port>, domains with the short names, the default route and retry policy', async () => {
    plane = await startPlane(meshWith());
    const r = await fetch(client(), TYPE_URL.ROUTE, [API], true);
    expect(r.resources).toEqual([
      {
        name: API,
        virtual_hosts: [
          {
            name: `${API_HOST}:8080`,
            domains: [
              API_HOST,
              `${API_HOST}:8080`,
              `${API_HOST}.`,
              `${API_HOST}.:8080`,
              'api',
              'api:8080',
              'api.pay.svc',
              'api.pay.svc:8080',
              'api.pay',
              'api.pay:8080',
              '10.96.0.10',
              '10.96.0.10:8080',
            ],
            routes: [
              {
                name: 'default',
                match: { prefix: '/' },
                route: {
                  cluster: API,
                  timeout: {},
                  retry_policy: {
                    retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
                    num_retries: { value: 2 },
                    retry_host_predicate: [
                      { name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { type_url: TYPE_URL.PREVIOUS_HOSTS } },
                    ],
                    host_selection_retry_max_attempts: '5',
                  },
                  max_grpc_timeout: {},
                },
                decorator: { operation: `${API_HOST}:8080/*` },
              },
            ],
            include_request_attempt_count: true,
          },
        ],
      },
    ]);
  });

  it('RouteConfiguration: domains from another namespace; a ServiceEntry without addresses has no address domains', async () => {
    const ext = se('ext', { hosts: ['ext.example.com'], ports: [{ name: 'grpc', number: 9000, protocol: 'GRPC' }], resolution: 'STATIC', endpoints: [{ address: '10.1.0.1' }] });
    plane = await startPlane(meshWith([ext]));
    const c = client();
    c.send({ node: node('sidecar~10.0.9.9~client.other~other.svc.cluster.local', undefined, { NAMESPACE: 'other', GENERATOR: 'grpc' }), type_url: TYPE_URL.ROUTE, resource_names: [API, 'outbound|9000||ext.example.com'] });
    const r = await c.recv();
    const domains = Object.fromEntries(r.resources.map((x) => [x['name'], (x['virtual_hosts'] as { domains: string[] }[])[0]!.domains]));
    expect(domains[API]).toEqual([API_HOST, `${API_HOST}:8080`, `${API_HOST}.`, `${API_HOST}.:8080`, 'api.pay', 'api.pay:8080', 'api.pay.svc', 'api.pay.svc:8080', '10.96.0.10', '10.96.0.10:8080']);
    expect(domains['outbound|9000||ext.example.com']).toEqual(['ext.example.com', 'ext.example.com:9000', 'ext.example.com.', 'ext.example.com.:9000']);
  });

  it('RDS: an unknown service gets a route with no virtual host; a subset name routes to the default cluster (grpcgen buildHTTPRoute)', async () => {
    plane = await startPlane(meshWith());
    const unknown = 'outbound|9999||nope.pay.svc.cluster.local';
    const subset = `outbound|8080|v1|${API_HOST}`;
    const r = await fetch(client(), TYPE_URL.ROUTE, [unknown, subset], true);
    const byName = Object.fromEntries(r.resources.map((x) => [x['name'], x]));
    expect(byName[unknown]).toEqual({ name: unknown });
    const vh = (byName[subset]!['virtual_hosts'] as { name: string; routes: { route: { cluster: string } }[] }[])[0]!;
    expect(vh.name).toBe(`${API_HOST}:8080`);
    expect(vh.routes[0]!.route.cluster).toBe(API);
  });

  it('RDS: a port istiod reads as TCP (name, well-known port) gets no virtual host; an unnamed one is sniffed (route core.BuildSidecarVirtualHostWrapper IsHTTPOrSniffed)', async () => {
    const db = svc('db', { app: 'api' }, [{ name: 'mysql', port: 3306 }, { name: 'tcp-x', port: 7000 }, { name: '', port: 3307 }, { name: 'admin', port: 9000 }]);
    plane = await startPlane(meshWith([db]));
    const host = 'db.pay.svc.cluster.local';
    const names = [3306, 7000, 3307, 9000].map((p) => `outbound|${p}||${host}`);
    const r = await fetch(client(), TYPE_URL.ROUTE, names, true);
    const hasVhost = Object.fromEntries(r.resources.map((x) => [x['name'], Array.isArray(x['virtual_hosts']) && (x['virtual_hosts'] as unknown[]).length > 0]));
    expect(hasVhost).toEqual({ [names[0]!]: false, [names[1]!]: false, [names[2]!]: true, [names[3]!]: true });
  });

  it('RDS: a `<host>:<port>` name is not a proxyless route (grpcgen parses it as a cluster key)', async () => {
    plane = await startPlane(meshWith());
    const c = client();
    c.send({ node: node(GRPC_ID, undefined, GRPC), type_url: TYPE_URL.ROUTE, resource_names: [`${API_HOST}:8080`] });
    expect(await c.none()).toBe(true);
  });

  it('a sidecar node on the same plane keeps the sidecar flavour', async () => {
    plane = await startPlane(meshWith());
    const grpcClient = client();
    const sidecar = client();
    const g = await fetch(grpcClient, TYPE_URL.CLUSTER, [API], true);
    const s = await fetch(sidecar, TYPE_URL.CLUSTER, [API], true, 'sidecar~10.0.9.8~vm.pay~pay.svc.cluster.local', { NAMESPACE: 'pay' });
    expect(s.resources[0]).toMatchObject({ name: API, connect_timeout: { seconds: '10' } });
    expect(g.resources[0]).not.toHaveProperty('connect_timeout');
    const sl = await fetch(sidecar, TYPE_URL.LISTENER, [], false);
    expect(unpackHcm(sl.resources.find((x) => x['name'] === `${API_HOST}:8080`)!)).toMatchObject({ rds: { route_config_name: `${API_HOST}:8080` } });
  });
});
