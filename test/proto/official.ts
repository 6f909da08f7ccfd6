// TESTS ONLY: the upstream Envoy / googleapis protos shipped inside the @grpc/grpc-js-xds dev
// dependency, loaded with protobufjs so our trimmed proto/ tree can be checked against them.
// Nothing under src/ may import this file.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import protobuf from 'protobufjs';
import { PROTO_DIR } from '../../src/proto/index.js';

const require = createRequire(import.meta.url);

export const OFFICIAL_DEPS_DIR = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');

/** Include roots, in the order grpc-js-xds itself uses them. */
export const OFFICIAL_INCLUDE_DIRS: readonly string[] = ['envoy-api', 'xds', 'protoc-gen-validate', 'googleapis'].map(
  (d) => path.join(OFFICIAL_DEPS_DIR, d),
);

// The upstream annotations import descriptor.proto, which protobufjs ships as a file but does not
// register as a bundled type; point at that file instead of mutating protobufjs' global registry.
const PROTOBUFJS_DIR = path.dirname(require.resolve('protobufjs/package.json'));

function resolveOfficial(target: string): string | undefined {
  if (path.isAbsolute(target)) return target;
  if (target === 'google/protobuf/descriptor.proto') return path.join(PROTOBUFJS_DIR, target);
  for (const dir of OFFICIAL_INCLUDE_DIRS) {
    const candidate = path.join(dir, target);
    if (fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Our proto/ files as paths relative to PROTO_DIR, e.g. `envoy/config/endpoint/v3/endpoint.proto`. */
export function ourProtoFiles(dir = PROTO_DIR, base = PROTO_DIR): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...ourProtoFiles(full, base));
    else if (entry.name.endsWith('.proto')) out.push(path.relative(base, full).split(path.sep).join('/'));
  }
  return out.sort();
}

let cached: protobuf.Root | undefined;

/**
 * The upstream counterparts of every file in proto/ (same relative paths), plus whatever they
 * import, with `keepCase: true` like our root.
 */
export function loadOfficialRoot(): protobuf.Root {
  if (cached) return cached;
  const root = new protobuf.Root();
  root.resolvePath = (origin: string, target: string): string =>
    resolveOfficial(target) ?? protobuf.util.path.resolve(origin, target);
  const files = ourProtoFiles().map((rel) => {
    const found = resolveOfficial(rel);
    if (!found) throw new Error(`no upstream counterpart for proto/${rel}`);
    return found;
  });
  root.loadSync(files, { keepCase: true });
  root.resolveAll();
  cached = root;
  return root;
}
