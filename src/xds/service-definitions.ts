// gRPC method definitions for ADS and standalone EDS, built by hand rather than by proto-loader:
// the server side must pass pre-encoded DiscoveryResponse bytes straight through
// (`responseSerialize` is the identity) and decode requests with our protobufjs schema.
import type * as grpc from '@grpc/grpc-js';
import { types, OBJECT_OPTIONS } from '../proto/index.js';
import type {
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DiscoveryRequest,
  DiscoveryResponse,
} from '../proto/messages.js';
import { METHOD_PATH } from '../proto/services.js';

/** What the request deserializer hands over when it refuses a message (counted, then the stream is closed). */
export class BadRequest {
  constructor(
    readonly reason: 'malformed' | 'oversized',
    readonly detail: string,
  ) {}
}

const passThrough = (b: Buffer): Buffer => b;

function decoder<T>(type: typeof types.DiscoveryRequest, maxBytes: number): (b: Buffer) => T | BadRequest {
  return (b) => {
    if (b.length > maxBytes) return new BadRequest('oversized', `request of ${b.length} bytes exceeds ${maxBytes}`);
    try {
      // Message instances, not plain objects: no conversion cost, and unset fields read as defaults.
      return type.decode(b) as unknown as T;
    } catch (err) {
      return new BadRequest('malformed', (err as Error).message);
    }
  };
}

function method<Req, Res>(
  path: string,
  deserialize: (b: Buffer) => Req,
  responseDeserialize: (b: Buffer) => Res,
  requestSerialize: (r: Req) => Buffer,
): grpc.MethodDefinition<Req, Res> {
  return {
    path,
    requestStream: true,
    responseStream: true,
    requestSerialize,
    requestDeserialize: deserialize,
    responseSerialize: passThrough as unknown as (r: Res) => Buffer,
    responseDeserialize,
  };
}

export type SotwRequestIn = DiscoveryRequest | BadRequest;
export type DeltaRequestIn = DeltaDiscoveryRequest | BadRequest;

export interface ServerDefinitions {
  ads: grpc.ServiceDefinition;
  eds: grpc.ServiceDefinition;
}

const unused = (): never => {
  throw new Error('client-side serializer used on the server definition');
};

/** Server-side definitions: requests decoded (or refused past `maxRequestBytes`), responses passed through as Buffers. */
export function serverDefinitions(maxRequestBytes: number): ServerDefinitions {
  const sotw = decoder<DiscoveryRequest>(types.DiscoveryRequest, maxRequestBytes);
  const delta = decoder<DeltaDiscoveryRequest>(types.DeltaDiscoveryRequest, maxRequestBytes);
  return {
    ads: {
      StreamAggregatedResources: method<SotwRequestIn, Buffer>(METHOD_PATH.ADS_STREAM, sotw, unused, unused),
      DeltaAggregatedResources: method<DeltaRequestIn, Buffer>(METHOD_PATH.ADS_DELTA, delta, unused, unused),
    },
    eds: {
      StreamEndpoints: method<SotwRequestIn, Buffer>(METHOD_PATH.EDS_STREAM, sotw, unused, unused),
      DeltaEndpoints: method<DeltaRequestIn, Buffer>(METHOD_PATH.EDS_DELTA, delta, unused, unused),
    },
  };
}

function encoder<T>(type: typeof types.DiscoveryRequest): (r: T) => Buffer {
  return (r) => Buffer.from(type.encode(type.fromObject(r as Record<string, unknown>)).finish());
}

function objectDecoder<T>(type: typeof types.DiscoveryResponse): (b: Buffer) => T {
  return (b) => type.toObject(type.decode(b), { ...OBJECT_OPTIONS, defaults: true }) as T;
}

/**
 * Client-side definitions (tests, benches, simulated agents): requests are plain objects in the
 * messages.ts shape; responses come back as plain objects with defaults filled in.
 */
export function clientDefinitions(): { ads: grpc.ServiceDefinition; eds: grpc.ServiceDefinition } {
  const reqS = encoder<DiscoveryRequest>(types.DiscoveryRequest);
  const reqD = encoder<DeltaDiscoveryRequest>(types.DeltaDiscoveryRequest);
  const resS = objectDecoder<DiscoveryResponse>(types.DiscoveryResponse);
  const resD = objectDecoder<DeltaDiscoveryResponse>(types.DeltaDiscoveryResponse);
  const m = <Req, Res>(path: string, ser: (r: Req) => Buffer, de: (b: Buffer) => Res): grpc.MethodDefinition<Req, Res> => ({
    path,
    requestStream: true,
    responseStream: true,
    requestSerialize: ser,
    requestDeserialize: unused,
    responseSerialize: unused,
    responseDeserialize: de,
  });
  return {
    ads: {
      StreamAggregatedResources: m(METHOD_PATH.ADS_STREAM, reqS, resS),
      DeltaAggregatedResources: m(METHOD_PATH.ADS_DELTA, reqD, resD),
    },
    eds: {
      StreamEndpoints: m(METHOD_PATH.EDS_STREAM, reqS, resS),
      DeltaEndpoints: m(METHOD_PATH.EDS_DELTA, reqD, resD),
    },
  };
}
