// gRPC service definitions for ADS and standalone EDS, built by @grpc/proto-loader from our
// proto/ tree. proto-loader brings its own protobufjs (7.x); it only shares the .proto files
// with src/proto/index.ts, not the reflection objects.
//
// Messages crossing grpc-js are plain objects with the .proto field names (keepCase), enums as
// names, 64-bit values as strings, unset fields filled with defaults (`defaults: true`, message
// fields become null) and oneof discriminators present (`oneofs: true`, e.g.
// `node.user_agent_version_type`, and `kind` on every Struct value). Struct values keep
// protobufjs' camelCase member names (`stringValue`); read node metadata with `fromStruct`
// from ./index.js. For responses, pack
// resources with `packAny` from ./index.js (bytes already encoded); an Any given as
// `{'@type': url, ...fields}` also works because every proto/ file is loaded here.

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import fs from 'node:fs';
import path from 'node:path';
import { PROTO_DIR } from './index.js';
import type {
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DiscoveryRequest,
  DiscoveryResponse,
} from './messages.js';

export const SERVICE_NAME = Object.freeze({
  ADS: 'envoy.service.discovery.v3.AggregatedDiscoveryService',
  EDS: 'envoy.service.endpoint.v3.EndpointDiscoveryService',
} as const);

export const METHOD_PATH = Object.freeze({
  ADS_STREAM: '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
  ADS_DELTA: '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources',
  EDS_STREAM: '/envoy.service.endpoint.v3.EndpointDiscoveryService/StreamEndpoints',
  EDS_DELTA: '/envoy.service.endpoint.v3.EndpointDiscoveryService/DeltaEndpoints',
  EDS_FETCH: '/envoy.service.endpoint.v3.EndpointDiscoveryService/FetchEndpoints',
} as const);

export const PROTO_LOADER_OPTIONS: Readonly<protoLoader.Options> = Object.freeze({
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
});

export interface XdsServiceDefinitions {
  packageDefinition: protoLoader.PackageDefinition;
  /** For `server.addService`: StreamAggregatedResources, DeltaAggregatedResources. */
  AggregatedDiscoveryService: grpc.ServiceDefinition;
  /** For `server.addService`: StreamEndpoints, DeltaEndpoints, FetchEndpoints. */
  EndpointDiscoveryService: grpc.ServiceDefinition;
  /** Client classes (simulated istio-agents / gRPC clients). */
  AggregatedDiscoveryServiceClient: grpc.ServiceClientConstructor;
  EndpointDiscoveryServiceClient: grpc.ServiceClientConstructor;
}

function relativeProtoFiles(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...relativeProtoFiles(full, base));
    else if (entry.name.endsWith('.proto')) out.push(path.relative(base, full).split(path.sep).join('/'));
  }
  return out.sort();
}

function clientAt(pkg: grpc.GrpcObject, serviceName: string): grpc.ServiceClientConstructor {
  let node: unknown = pkg;
  for (const part of serviceName.split('.')) {
    node = (node as Record<string, unknown> | undefined)?.[part];
  }
  if (typeof node !== 'function' || !('service' in node)) {
    throw new Error(`xdsim proto: service ${serviceName} missing from ${PROTO_DIR}`);
  }
  return node as grpc.ServiceClientConstructor;
}

/** Server-side handlers for `server.addService(defs.AggregatedDiscoveryService, handlers)`. */
export interface AdsHandlers extends grpc.UntypedServiceImplementation {
  StreamAggregatedResources: grpc.handleBidiStreamingCall<DiscoveryRequest, DiscoveryResponse>;
  DeltaAggregatedResources: grpc.handleBidiStreamingCall<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;
}

/** Server-side handlers for `server.addService(defs.EndpointDiscoveryService, handlers)`. */
export interface EdsHandlers extends grpc.UntypedServiceImplementation {
  StreamEndpoints: grpc.handleBidiStreamingCall<DiscoveryRequest, DiscoveryResponse>;
  DeltaEndpoints: grpc.handleBidiStreamingCall<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;
  FetchEndpoints: grpc.handleUnaryCall<DiscoveryRequest, DiscoveryResponse>;
}

/** ADS client as created by `createAdsClient` (messages follow PROTO_LOADER_OPTIONS). */
export interface AdsClient extends grpc.Client {
  StreamAggregatedResources(
    metadata?: grpc.Metadata,
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;
  DeltaAggregatedResources(
    metadata?: grpc.Metadata,
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;
}

/** Standalone EDS client as created by `createEdsClient`. */
export interface EdsClient extends grpc.Client {
  StreamEndpoints(
    metadata?: grpc.Metadata,
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;
  DeltaEndpoints(
    metadata?: grpc.Metadata,
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;
  FetchEndpoints(
    request: DiscoveryRequest,
    callback: (err: grpc.ServiceError | null, response?: DiscoveryResponse) => void,
  ): grpc.ClientUnaryCall;
}

export function createAdsClient(
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ClientOptions,
): AdsClient {
  const Ctor = loadXdsServiceDefinitions().AggregatedDiscoveryServiceClient;
  return new Ctor(address, credentials, options) as unknown as AdsClient;
}

export function createEdsClient(
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ClientOptions,
): EdsClient {
  const Ctor = loadXdsServiceDefinitions().EndpointDiscoveryServiceClient;
  return new Ctor(address, credentials, options) as unknown as EdsClient;
}

let cached: XdsServiceDefinitions | undefined;

/** Loads (once) and returns the ADS and EDS service definitions and client classes. */
export function loadXdsServiceDefinitions(): XdsServiceDefinitions {
  if (cached) return cached;
  const packageDefinition = protoLoader.loadSync(relativeProtoFiles(PROTO_DIR), { ...PROTO_LOADER_OPTIONS });
  const pkg = grpc.loadPackageDefinition(packageDefinition);
  const ads = clientAt(pkg, SERVICE_NAME.ADS);
  const eds = clientAt(pkg, SERVICE_NAME.EDS);
  cached = {
    packageDefinition,
    AggregatedDiscoveryService: ads.service,
    EndpointDiscoveryService: eds.service,
    AggregatedDiscoveryServiceClient: ads,
    EndpointDiscoveryServiceClient: eds,
  };
  return cached;
}
