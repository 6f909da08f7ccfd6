// (a) Every message, enum and service in our trimmed proto/ tree matches the upstream schema:
// same fully qualified names, field numbers, types, labels, map key types and oneof groups.

import fs from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { PROTO_DIR, root as ours } from '../../src/proto/index.js';
import { OFFICIAL_INCLUDE_DIRS, loadOfficialRoot, ourProtoFiles } from './official.js';

const official = loadOfficialRoot();

function collect(ns: protobuf.NamespaceBase, out: protobuf.ReflectionObject[] = []): protobuf.ReflectionObject[] {
  for (const nested of ns.nestedArray) {
    if (nested.fullName.startsWith('.google.protobuf.')) continue; // bundled by protobufjs
    if (nested instanceof protobuf.Type || nested instanceof protobuf.Enum || nested instanceof protobuf.Service) {
      out.push(nested);
    }
    if (nested instanceof protobuf.Namespace) collect(nested, out);
  }
  return out;
}

const ourObjects = collect(ours);
const ourTypes = ourObjects.filter((o): o is protobuf.Type => o instanceof protobuf.Type);
const ourEnums = ourObjects.filter((o): o is protobuf.Enum => o instanceof protobuf.Enum);
const ourServices = ourObjects.filter((o): o is protobuf.Service => o instanceof protobuf.Service);

/** A comparable description of a field, independent of which Root it lives in. */
function describeField(f: protobuf.Field) {
  f.resolve();
  const isMap = f instanceof protobuf.MapField;
  return {
    id: f.id,
    type: f.resolvedType ? f.resolvedType.fullName : f.type,
    repeated: f.repeated,
    map: isMap,
    keyType: isMap ? (f as protobuf.MapField).keyType : undefined,
    oneof: f.partOf ? f.partOf.name : undefined,
  };
}

function lookupOfficial<T extends protobuf.ReflectionObject>(
  obj: protobuf.ReflectionObject,
  ctor: abstract new (...args: never[]) => T,
): T {
  const found = official.lookup(obj.fullName);
  expect(found, `${obj.fullName} exists upstream`).toBeInstanceOf(ctor);
  return found as T;
}

describe('trimmed protos vs upstream', () => {
  it('covers what xdsim needs', () => {
    const names = new Set(ourObjects.map((o) => o.fullName.slice(1)));
    for (const n of [
      'envoy.config.core.v3.Node',
      'envoy.config.core.v3.HealthStatus',
      'envoy.config.endpoint.v3.ClusterLoadAssignment',
      'envoy.config.cluster.v3.Cluster',
      'envoy.config.listener.v3.Listener',
      'envoy.config.route.v3.RouteConfiguration',
      'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      'envoy.extensions.filters.http.router.v3.Router',
      'envoy.service.discovery.v3.DeltaDiscoveryResponse',
      'envoy.service.discovery.v3.AggregatedDiscoveryService',
      'envoy.service.endpoint.v3.EndpointDiscoveryService',
      'google.rpc.Status',
    ]) {
      expect(names, n).toContain(n);
    }
    expect(ourTypes.length).toBeGreaterThan(40);
  });

  it.each(ourTypes.map((t) => [t.fullName, t] as const))('message %s', (_name, type) => {
    const theirs = lookupOfficial(type, protobuf.Type);
    for (const field of type.fieldsArray) {
      const counterpart = theirs.fields[field.name];
      if (!counterpart) {
        expect.soft(counterpart, `${type.fullName}.${field.name} exists upstream`).toBeDefined();
        continue;
      }
      expect.soft(describeField(field), `${type.fullName}.${field.name}`).toEqual(describeField(counterpart));
    }
    // Every oneof we declare only groups fields that upstream groups under the same name.
    for (const oneof of type.oneofsArray) {
      expect.soft(theirs.oneofs?.[oneof.name], `${type.fullName} oneof ${oneof.name}`).toBeDefined();
    }
  });

  it.each(ourEnums.map((e) => [e.fullName, e] as const))('enum %s', (_name, en) => {
    const theirs = lookupOfficial(en, protobuf.Enum);
    // Complete enums: a value we don't know would decode to a bare number.
    expect(en.values).toEqual(theirs.values);
  });

  it.each(ourServices.map((s) => [s.fullName, s] as const))('service %s', (_name, service) => {
    const theirs = lookupOfficial(service, protobuf.Service);
    for (const method of service.methodsArray) {
      const counterpart = theirs.methods[method.name];
      expect(counterpart, `${service.fullName}.${method.name}`).toBeDefined();
      method.resolve();
      counterpart!.resolve();
      expect({
        request: method.resolvedRequestType?.fullName,
        response: method.resolvedResponseType?.fullName,
        requestStream: Boolean(method.requestStream),
        responseStream: Boolean(method.responseStream),
      }).toEqual({
        request: counterpart!.resolvedRequestType?.fullName,
        response: counterpart!.resolvedResponseType?.fullName,
        requestStream: Boolean(counterpart!.requestStream),
        responseStream: Boolean(counterpart!.responseStream),
      });
    }
  });

  it('each top-level definition lives in the file of the same path as upstream', () => {
    const relativeToInclude = (file: string, dirs: readonly string[]): string => {
      const dir = dirs.find((d) => file.startsWith(d + path.sep));
      return dir ? path.relative(dir, file).split(path.sep).join('/') : file;
    };
    const topLevel = ourObjects.filter((o) => !(o.parent instanceof protobuf.Type));
    expect(topLevel.length).toBeGreaterThan(20);
    for (const obj of topLevel) {
      const theirs = official.lookup(obj.fullName)!;
      expect(relativeToInclude(obj.filename!, [PROTO_DIR.replace(/[\\/]$/, '')]), obj.fullName).toBe(
        relativeToInclude(theirs.filename!, OFFICIAL_INCLUDE_DIRS),
      );
    }
  });

  it('imports only our own files and the protobuf well-known types (no validate/udpa/xds)', () => {
    const ownFiles = new Set(ourProtoFiles());
    for (const rel of ownFiles) {
      const text = fs.readFileSync(path.join(PROTO_DIR, rel), 'utf8');
      for (const m of text.matchAll(/^import\s+(?:public\s+|weak\s+)?"([^"]+)";/gm)) {
        const imported = m[1]!;
        const ok = ownFiles.has(imported) || /^google\/protobuf\/(any|duration|struct|wrappers|timestamp|empty)\.proto$/.test(imported);
        expect(ok, `${rel} imports ${imported}`).toBe(true);
      }
      expect(text, rel).not.toMatch(/\(validate\.|\(udpa\.|\(xds\.|\(envoy\.annotations/);
    }
  });

  it('runtime root is loaded from proto/ and protobufjs bundles only', () => {
    for (const file of ours.files) {
      const fromProtoDir = path.isAbsolute(file) && file.startsWith(PROTO_DIR);
      const bundled = /^google\/protobuf\/\w+\.proto$/.test(file);
      expect(fromProtoDir || bundled, file).toBe(true);
      expect(file).not.toContain('grpc-js-xds');
    }
  });
});
