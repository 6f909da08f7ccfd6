// (b) Wire compatibility: fixtures encoded with our schema decode with the upstream schema to
// the same content and vice versa, and both encoders produce identical bytes.

import protobuf from 'protobufjs';
import protojson from 'protobufjs/ext/protojson.js';
import { describe, expect, it } from 'vitest';
import { root as ours } from '../../src/proto/index.js';
import { FIXTURES, type Pack } from './fixtures.js';
import { loadOfficialRoot } from './official.js';

const official = loadOfficialRoot();

const OPTS: protobuf.IConversionOptions = { longs: String, enums: String, bytes: String };

function typeIn(r: protobuf.Root, ref: string): protobuf.Type {
  return r.lookupType(ref.slice(ref.lastIndexOf('/') + 1));
}

function packer(r: protobuf.Root): Pack {
  return (typeUrl, value) => {
    const t = typeIn(r, typeUrl);
    return { type_url: typeUrl, value: t.encode(t.fromObject(value as Record<string, unknown>)).finish() };
  };
}

function encodeWith(r: protobuf.Root, typeName: string, build: (pack: Pack) => object): Uint8Array {
  const t = typeIn(r, typeName);
  return t.encode(t.fromObject(build(packer(r)) as Record<string, unknown>)).finish();
}

describe.each(FIXTURES.map((f) => [f.name, f] as const))('%s', (_name, fx) => {
  const ourType = typeIn(ours, fx.type);
  const theirType = typeIn(official, fx.type);
  const ourBytes = encodeWith(ours, fx.type, fx.build);
  const theirBytes = encodeWith(official, fx.type, fx.build);

  it('encodes to the same bytes as the upstream schema', () => {
    expect(ourBytes.length).toBeGreaterThan(20);
    expect(Buffer.from(ourBytes).toString('hex')).toBe(Buffer.from(theirBytes).toString('hex'));
  });

  it('ours -> upstream decodes to an equal object', () => {
    const byThem = theirType.decode(ourBytes);
    const byUs = ourType.decode(ourBytes);
    expect(theirType.toObject(byThem, OPTS)).toEqual(ourType.toObject(byUs, OPTS));
    // Canonical JSON unpacks nested Anys (HCM, Router, CLA...) with each side's own types.
    expect(protojson.toJson(theirType, byThem)).toEqual(protojson.toJson(ourType, byUs));
  });

  it('upstream -> ours decodes to an equal object and re-encodes losslessly', () => {
    const byUs = ourType.decode(theirBytes);
    const byThem = theirType.decode(theirBytes);
    expect(ourType.toObject(byUs, OPTS)).toEqual(theirType.toObject(byThem, OPTS));
    expect(protojson.toJson(ourType, byUs)).toEqual(protojson.toJson(theirType, byThem));
    expect(Buffer.from(ourType.encode(byUs).finish()).equals(Buffer.from(theirBytes))).toBe(true);
  });
});

const STRUCT_TYPES = ['.google.protobuf.Struct', '.google.protobuf.Value', '.google.protobuf.ListValue'];

describe('fixture coverage', () => {
  it('the fixtures set every field of every message in proto/', () => {
    const seen = new Set<string>();
    const visit = (type: protobuf.Type, message: protobuf.Message): void => {
      if (type.fullName === '.google.protobuf.Any') {
        const any = message as unknown as { type_url: string; value: Uint8Array };
        const inner = typeIn(ours, any.type_url);
        visit(inner, inner.decode(any.value));
        return;
      }
      if (type.fullName.startsWith('.google.protobuf.') && !STRUCT_TYPES.includes(type.fullName)) return;
      const record = message as unknown as Record<string, unknown>;
      for (const field of type.fieldsArray) {
        if (!Object.hasOwn(record, field.name)) continue;
        const value = record[field.name];
        if (value === null || value === undefined) continue;
        if (Array.isArray(value) && value.length === 0) continue;
        seen.add(`${type.fullName}.${field.name}`);
        field.resolve();
        if (!(field.resolvedType instanceof protobuf.Type)) continue;
        const values = field.map
          ? Object.values(value as object)
          : Array.isArray(value)
            ? value
            : [value];
        for (const v of values) visit(field.resolvedType, v as protobuf.Message);
      }
    };
    for (const fx of FIXTURES) {
      const t = typeIn(ours, fx.type);
      visit(t, t.decode(encodeWith(ours, fx.type, fx.build)));
    }

    const missing: string[] = [];
    const walk = (ns: protobuf.NamespaceBase): void => {
      for (const nested of ns.nestedArray) {
        if (nested.fullName.startsWith('.google.protobuf.')) continue;
        if (nested instanceof protobuf.Type) {
          for (const f of nested.fieldsArray) {
            if (!seen.has(`${nested.fullName}.${f.name}`)) missing.push(`${nested.fullName}.${f.name}`);
          }
        }
        if (nested instanceof protobuf.Namespace) walk(nested);
      }
    };
    walk(ours);
    // Struct contents too: protobufjs names Value members in camelCase (stringValue...), and a
    // snake_case key would be dropped silently by fromObject on both sides.
    for (const name of STRUCT_TYPES) {
      for (const f of ours.lookupType(name).fieldsArray) {
        if (!seen.has(`${name}.${f.name}`)) missing.push(`${name}.${f.name}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
