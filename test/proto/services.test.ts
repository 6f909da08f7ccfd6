// (d) ADS / EDS service definitions from @grpc/proto-loader on our proto/ tree.

import * as grpc from '@grpc/grpc-js';
import protojson from 'protobufjs/ext/protojson.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TYPE_URL,
  fromStruct,
  packAny,
  toCanonicalJson,
  toStruct,
  unpackAny,
} from '../../src/proto/index.js';
import type {
  ClusterLoadAssignment,
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DiscoveryRequest,
  DiscoveryResponse,
  Struct,
} from '../../src/proto/index.js';
import {
  type AdsHandlers,
  type EdsHandlers,
  METHOD_PATH,
  SERVICE_NAME,
  createAdsClient,
  createEdsClient,
  loadXdsServiceDefinitions,
} from '../../src/proto/services.js';
import { claFixture, discoveryRequestFixture, discoveryResponseFixture } from './fixtures.js';
import { loadOfficialRoot } from './official.js';

const defs = loadXdsServiceDefinitions();

describe('service definitions', () => {
  it('has the ADS and EDS methods at their upstream paths', () => {
    const shape = (d: grpc.ServiceDefinition) =>
      Object.fromEntries(Object.entries(d).map(([k, m]) => [k, [m.path, m.requestStream, m.responseStream]]));
    expect(shape(defs.AggregatedDiscoveryService)).toEqual({
      StreamAggregatedResources: [METHOD_PATH.ADS_STREAM, true, true],
      DeltaAggregatedResources: [METHOD_PATH.ADS_DELTA, true, true],
    });
    expect(shape(defs.EndpointDiscoveryService)).toEqual({
      StreamEndpoints: [METHOD_PATH.EDS_STREAM, true, true],
      DeltaEndpoints: [METHOD_PATH.EDS_DELTA, true, true],
      FetchEndpoints: [METHOD_PATH.EDS_FETCH, false, false],
    });
    expect(METHOD_PATH.ADS_STREAM).toBe('/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources');
    expect(METHOD_PATH.ADS_DELTA).toBe('/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources');
    expect(METHOD_PATH.EDS_STREAM).toBe('/envoy.service.endpoint.v3.EndpointDiscoveryService/StreamEndpoints');
  });

  it('loads with grpc.loadPackageDefinition and is memoised', () => {
    const pkg = grpc.loadPackageDefinition(defs.packageDefinition);
    const ads = (pkg.envoy as grpc.GrpcObject & { service: { discovery: { v3: grpc.GrpcObject } } }).service.discovery.v3
      .AggregatedDiscoveryService as grpc.ServiceClientConstructor;
    expect(typeof ads).toBe('function');
    expect(Object.keys(ads.service)).toEqual(Object.keys(defs.AggregatedDiscoveryService));
    expect(defs.packageDefinition[SERVICE_NAME.EDS]).toBeDefined();
    expect(loadXdsServiceDefinitions()).toBe(defs);
  });

  it('serialises responses the upstream schema reads, and reads upstream requests', () => {
    const official = loadOfficialRoot();
    const method = defs.AggregatedDiscoveryService.StreamAggregatedResources!;
    const bytes = method.responseSerialize(discoveryResponseFixture(packAny));
    const theirType = official.lookupType('envoy.service.discovery.v3.DiscoveryResponse');
    expect(protojson.toJson(theirType, theirType.decode(bytes))).toEqual(
      toCanonicalJson('DiscoveryResponse', discoveryResponseFixture(packAny)),
    );

    const reqType = official.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
    const reqBytes = reqType.encode(reqType.fromObject(discoveryRequestFixture(packAny) as Record<string, unknown>)).finish();
    const req = method.requestDeserialize(Buffer.from(reqBytes)) as DiscoveryRequest & { node: { metadata: Struct } };
    expect(req.type_url).toBe(TYPE_URL.ENDPOINT);
    expect(req.response_nonce).toBe('nonce-41');
    expect(req.error_detail?.code).toBe(13);
    expect(req.node.user_agent_version).toBe('1.31.0');
    expect((req.node as unknown as Record<string, unknown>).user_agent_version_type).toBe('user_agent_version'); // oneofs: true
    expect(req.node.metadata.fields?.NAMESPACE).toMatchObject({ stringValue: 'app', kind: 'stringValue' });
    expect(fromStruct(req.node.metadata)).toEqual({
      NAMESPACE: 'app',
      AUTO_REGISTER_GROUP: 'echo',
      INSTANCE_IPS: '10.0.0.1,fd00::1',
      LABELS: { app: 'echo' },
    });
  });

  it("also packs an Any given as {'@type', ...fields}", () => {
    const method = defs.AggregatedDiscoveryService.StreamAggregatedResources!;
    const bytes = method.responseSerialize({ resources: [{ '@type': TYPE_URL.ENDPOINT, cluster_name: 'x' }] });
    const decoded = method.responseDeserialize(bytes) as Required<DiscoveryResponse>;
    expect(unpackAny<ClusterLoadAssignment>(decoded.resources[0]!).cluster_name).toBe('x');
  });
});

describe('over a loopback connection', () => {
  let server: grpc.Server;
  let address: string;
  const seen: { sotw?: DiscoveryRequest; delta?: DeltaDiscoveryRequest } = {};

  beforeAll(async () => {
    server = new grpc.Server();
    const ads: AdsHandlers = {
      StreamAggregatedResources: (call) => {
        call.on('data', (req: DiscoveryRequest) => {
          seen.sotw = req;
          call.write({
            version_info: '1',
            type_url: TYPE_URL.ENDPOINT,
            nonce: 'n1',
            resources: (req.resource_names ?? []).map((name) =>
              packAny('ClusterLoadAssignment', { ...claFixture(packAny), cluster_name: name }),
            ),
          });
        });
        call.on('end', () => call.end());
      },
      DeltaAggregatedResources: (call) => {
        call.on('data', (req: DeltaDiscoveryRequest) => {
          seen.delta = req;
          call.write({
            type_url: req.type_url,
            nonce: 'd1',
            system_version_info: 's1',
            removed_resources: req.resource_names_subscribe,
          });
        });
        call.on('end', () => call.end());
      },
    };
    const eds: EdsHandlers = {
      StreamEndpoints: (call) => call.end(),
      DeltaEndpoints: (call) => call.end(),
      FetchEndpoints: (call, cb) => cb(null, { version_info: 'f', type_url: call.request.type_url ?? '' }),
    };
    server.addService(defs.AggregatedDiscoveryService, ads);
    server.addService(defs.EndpointDiscoveryService, eds);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    address = `127.0.0.1:${port}`;
  });

  afterAll(() => {
    server.forceShutdown();
  });

  it('StreamAggregatedResources carries requests and CLA resources', async () => {
    const client = createAdsClient(address, grpc.credentials.createInsecure());
    try {
      const call = client.StreamAggregatedResources();
      const response = new Promise<DiscoveryResponse>((resolve, reject) => {
        call.once('data', resolve);
        call.once('error', reject);
      });
      call.write({
        node: { id: 'sidecar~10.0.0.9~vm.app~app.svc.cluster.local', metadata: toStruct({ NAMESPACE: 'app' }) },
        type_url: TYPE_URL.ENDPOINT,
        resource_names: ['outbound|8080||a.app.svc.cluster.local'],
      });
      const res = await response;
      call.end();
      expect(res.nonce).toBe('n1');
      expect(res.resources).toHaveLength(1);
      expect(res.resources![0]!.type_url).toBe(TYPE_URL.ENDPOINT);
      const cla = unpackAny<ClusterLoadAssignment>(res.resources![0]!);
      expect(cla.cluster_name).toBe('outbound|8080||a.app.svc.cluster.local');
      expect(cla.endpoints?.[0]?.load_balancing_weight).toEqual({ value: 4 });
      // Request as the server saw it: snake_case, defaults filled in, unset message fields null.
      expect(seen.sotw?.resource_names).toEqual(['outbound|8080||a.app.svc.cluster.local']);
      expect(seen.sotw?.version_info).toBe('');
      expect(seen.sotw?.error_detail).toBeNull();
      expect(fromStruct(seen.sotw?.node?.metadata)).toEqual({ NAMESPACE: 'app' });
    } finally {
      client.close();
    }
  });

  it('DeltaAggregatedResources carries maps and removals', async () => {
    const client = createAdsClient(address, grpc.credentials.createInsecure());
    try {
      const call = client.DeltaAggregatedResources();
      const response = new Promise<DeltaDiscoveryResponse>((resolve, reject) => {
        call.once('data', resolve);
        call.once('error', reject);
      });
      call.write({
        type_url: TYPE_URL.CLUSTER,
        resource_names_subscribe: ['missing-cluster'],
        initial_resource_versions: { 'outbound|80||b': '7' },
      });
      const res = await response;
      call.end();
      expect(res).toMatchObject({ nonce: 'd1', system_version_info: 's1', removed_resources: ['missing-cluster'] });
      expect(seen.delta?.initial_resource_versions).toEqual({ 'outbound|80||b': '7' });
    } finally {
      client.close();
    }
  });

  it('FetchEndpoints is unary', async () => {
    const client = createEdsClient(address, grpc.credentials.createInsecure());
    try {
      const res = await new Promise<DiscoveryResponse | undefined>((resolve, reject) =>
        client.FetchEndpoints({ type_url: TYPE_URL.ENDPOINT }, (err, r) => (err ? reject(err) : resolve(r))),
      );
      expect(res).toMatchObject({ version_info: 'f', type_url: TYPE_URL.ENDPOINT });
    } finally {
      client.close();
    }
  });
});
