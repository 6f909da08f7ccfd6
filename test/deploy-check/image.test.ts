// What the Dockerfile's image needs, checked without building it: every module the CLI can load
// (the import graph from bin/xdsim.js, worker entry points included) is in a directory the
// Dockerfile copies, and every package it imports is a runtime dependency, since the image
// installs with `npm ci --omit=dev`.
import { builtinModules } from 'node:module';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };

/** Static imports and re-exports (not `import type`), dynamic imports, and `new URL('./x', import.meta.url)`. */
function specifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: string[] = [];
  for (const m of code.matchAll(/^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm)) out.push(m[1]!);
  for (const m of code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]!);
  for (const m of code.matchAll(/new URL\(\s*['"](\.[^'"]+)['"],\s*import\.meta\.url\s*\)/g)) out.push(m[1]!);
  return out;
}

/** The file a relative specifier loads under tsx (`./x.js` may be `./x.ts`), or a directory. */
function resolve(from: string, spec: string): string {
  const p = path.resolve(path.dirname(from), spec);
  if (existsSync(p)) return p;
  const ts = p.replace(/\.js$/, '.ts');
  if (existsSync(ts)) return ts;
  throw new Error(`${path.relative(ROOT, from)}: cannot resolve ${spec}`);
}

function runtimeClosure(entry: string): { files: Set<string>; packages: Map<string, string> } {
  const files = new Set<string>();
  const packages = new Map<string, string>();
  const todo = [entry];
  while (todo.length) {
    const f = todo.pop()!;
    if (files.has(f)) continue;
    files.add(f);
    if (statSync(f).isDirectory() || !/\.(ts|js|mjs)$/.test(f)) continue;
    for (const spec of specifiers(readFileSync(f, 'utf8'))) {
      if (spec.startsWith('.')) todo.push(resolve(f, spec));
      else if (!spec.startsWith('node:') && !builtinModules.includes(spec)) {
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        packages.set(name, path.relative(ROOT, f));
      }
    }
  }
  return { files, packages };
}

describe('the image (Dockerfile)', () => {
  const { files, packages } = runtimeClosure(path.join(ROOT, 'bin/xdsim.js'));

  it('finds the whole CLI: every command, the worker entry points and the protos', () => {
    const rel = [...files].map((f) => path.relative(ROOT, f));
    for (const f of ['src/cli/agents.ts', 'src/cli/serve.ts', 'src/cli/run.ts', 'src/cli/report.ts', 'src/fleet/worker-entry.mjs', 'src/admin/parse-worker-entry.mjs', 'proto']) {
      expect(rel).toContain(f);
    }
    expect(rel.length).toBeGreaterThan(100);
  });

  it('imports only runtime dependencies (npm ci --omit=dev leaves out the rest)', () => {
    // tsx loads the TypeScript sources at run time (bin/xdsim.js, the worker entry points).
    for (const p of ['tsx', '@grpc/grpc-js', 'protobufjs', 'piscina', 'prom-client']) expect([...packages.keys()]).toContain(p);
    const missing = [...packages].filter(([name]) => !(name in pkg.dependencies)).map(([name, from]) => `${name} (imported by ${from})`);
    expect(missing).toEqual([]);
  });

  it('copies every directory the CLI loads from, and runs bin/xdsim.js as its entry point', () => {
    const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM node:20-slim$/m);
    expect(dockerfile).toMatch(/^RUN npm ci --omit=dev\b/m);
    const copied = [...dockerfile.matchAll(/^COPY (\S+)\/ \1\/$/gm)].map((m) => m[1]!);
    const outside = [...files].map((f) => path.relative(ROOT, f)).filter((f) => !copied.some((d) => f === d || f.startsWith(`${d}/`)));
    expect(outside).toEqual([]);
    expect(JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)![1]!)).toEqual(['node', '/app/bin/xdsim.js']);
    expect(dockerfile).toMatch(/^WORKDIR \/app$/m);
    // Non-root, by number (runAsNonRoot cannot check a name).
    expect(dockerfile).toMatch(/^USER [1-9]\d*:[1-9]\d*$/m);
  });
});
