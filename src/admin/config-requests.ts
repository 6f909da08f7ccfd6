// POST /apply and POST /delete: YAML documents, validated like files, all or nothing per request.
import { parseAllDocuments } from 'yaml';
import { formatDiagnostic, hasErrors, type Diagnostic } from '../config/diagnostics.js';
import { applyLoaded } from '../config/load.js';
import { parseManifests } from '../config/parse.js';
import { resourceKey, RESOURCE_KINDS, type ResourceKey } from '../config/resources.js';
import { CLUSTER_SCOPED_KINDS } from '../config/schemas.js';
import type { ConfigStore } from '../config/store.js';

export interface ConfigRequestResult {
  status: number;
  body: unknown;
}

function rejected(diagnostics: readonly Diagnostic[]): ConfigRequestResult {
  return { status: 400, body: diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic).join('\n') + '\n' };
}

export function applyRequest(store: ConfigStore, text: string, source = 'request'): ConfigRequestResult {
  const parsed = parseManifests(text, source);
  if (hasErrors(parsed.diagnostics)) return rejected(parsed.diagnostics);
  const events = applyLoaded(store, parsed);
  return {
    status: 200,
    body: {
      applied: events.map((e) => ({ key: e.key, type: e.type, resourceVersion: e.resource.metadata.resourceVersion })),
      unchanged: parsed.resources.length - events.length,
      warnings: parsed.diagnostics.filter((d) => d.severity !== 'error').map(formatDiagnostic),
    },
  };
}

/**
 * Deletion needs only kind, name and namespace, so documents are not schema-checked (a trimmed
 * `kind`/`metadata` stub is enough, as with `kubectl delete -f`). Unknown kinds are errors.
 */
export function deleteRequest(store: ConfigStore, text: string, source = 'request'): ConfigRequestResult {
  const errors: string[] = [];
  const keys: ResourceKey[] = [];
  let docs;
  try {
    docs = parseAllDocuments(text);
  } catch (err) {
    return { status: 400, body: `${source}: ${(err as Error).message}\n` };
  }
  const list = Array.isArray(docs) ? docs : [docs];
  const lineOf = lineCounter(text);
  list.forEach((doc, i) => {
    const where = `${source}:${(doc.range?.[0] !== undefined ? lineOf(doc.range[0]) : 1)}${i > 0 ? ` (document ${i + 1})` : ''}`;
    if (doc.errors.length > 0) {
      errors.push(`${where}: ${doc.errors[0]!.message}`);
      return;
    }
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) return;
    const items = isList(value) ? value.items : [value];
    for (const item of items) {
      const r = item as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
      const kind = typeof r?.kind === 'string' ? r.kind : '';
      const name = typeof r?.metadata?.name === 'string' ? r.metadata.name : '';
      if (!kind || !name) {
        errors.push(`${where}: kind and metadata.name are required to delete`);
        continue;
      }
      if (!(RESOURCE_KINDS as readonly string[]).includes(kind)) {
        errors.push(`${where} ${kind} ${name}: kind not used by xdsim, nothing to delete`);
        continue;
      }
      const ns = CLUSTER_SCOPED_KINDS.has(kind) ? '' : typeof r.metadata?.namespace === 'string' && r.metadata.namespace ? r.metadata.namespace : 'default';
      keys.push(resourceKey(kind, ns, name));
    }
  });
  if (errors.length > 0) return { status: 400, body: errors.join('\n') + '\n' };
  const events = store.commit(keys.map((key) => ({ op: 'delete' as const, key })));
  const deleted = new Set(events.map((e) => e.key));
  return { status: 200, body: { deleted: [...deleted], missing: keys.filter((k) => !deleted.has(k)) } };
}

function isList(v: unknown): v is { items: unknown[] } {
  return !!v && typeof v === 'object' && (v as { kind?: unknown }).kind === 'List' && Array.isArray((v as { items?: unknown }).items);
}

/**
 * Line of an offset, for offsets asked in increasing order (documents): one pass over the text
 * for all of them. Counting from the start for each made 100,000 documents take minutes.
 */
function lineCounter(text: string): (offset: number) => number {
  let at = 0;
  let line = 1;
  return (offset) => {
    if (offset < at) {
      at = 0;
      line = 1;
    }
    for (; at < offset && at < text.length; at++) if (text.charCodeAt(at) === 10) line++;
    return line;
  };
}
