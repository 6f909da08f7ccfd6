// Files and directories -> resources + diagnostics, and the one-batch apply into the store.

import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Diagnostic } from './diagnostics.js';
import { dedupeLoaded, parseManifests, type LoadedResource, type ParseResult } from './parse.js';
import type { ConfigEvent, ConfigStore } from './store.js';

const MANIFEST_FILE = /\.(ya?ml|json)$/i;

function errorDiag(file: string, message: string): Diagnostic {
  return { severity: 'error', file, line: 1, document: 1, message };
}

function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') return 'no such file or directory';
  if (e.code === 'EACCES') return 'permission denied';
  return e.message ?? String(err);
}

/** Manifest files under `dir`, recursively, sorted by path so load order (and "later wins") is stable. */
async function listManifests(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listManifests(p)));
    else if ((e.isFile() || e.isSymbolicLink()) && MANIFEST_FILE.test(e.name)) out.push(p);
  }
  return out;
}

/**
 * Loads every manifest named by `paths` (files of any extension, or directories scanned for
 * *.yaml, *.yml and *.json). Paths in diagnostics are as given (joined for directory contents).
 * A resource defined in several files keeps the last one in load order, with a warning.
 */
export async function loadConfigPaths(paths: readonly string[]): Promise<ParseResult> {
  const resources: LoadedResource[] = [];
  const diagnostics: Diagnostic[] = [];
  const files: string[] = [];
  for (const p of paths) {
    try {
      const st = await stat(p);
      if (st.isDirectory()) files.push(...(await listManifests(p)));
      else files.push(p);
    } catch (err) {
      diagnostics.push(errorDiag(p, `cannot read: ${reason(err)}`));
    }
  }
  for (const f of files) {
    let text: string;
    try {
      text = await readFile(f, 'utf8');
    } catch (err) {
      diagnostics.push(errorDiag(f, `cannot read: ${reason(err)}`));
      continue;
    }
    const r = parseManifests(text, f);
    resources.push(...r.resources);
    diagnostics.push(...r.diagnostics);
  }
  const deduped = dedupeLoaded(resources);
  diagnostics.push(...deduped.diagnostics);
  return { resources: deduped.resources, diagnostics };
}

/** Applies loaded resources to the store as one batch (one notification, one push). */
export function applyLoaded(
  store: ConfigStore,
  loaded: readonly LoadedResource[] | { resources: readonly LoadedResource[] },
): ConfigEvent[] {
  const items = Array.isArray(loaded) ? loaded : (loaded as { resources: readonly LoadedResource[] }).resources;
  return store.commit(items.map((l) => ({ op: 'apply' as const, resource: l.resource })));
}
