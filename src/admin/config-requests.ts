// POST /apply and POST /delete: YAML documents, validated like files, all or nothing per request.
// Two halves: `prepareConfigRequest` parses and validates a body without touching the store (on
// the main thread for small bodies, on the config parser thread for big ones, see
// parse-thread.ts), and `commitPrepared` writes the outcome into the store as one batch.
import { parseAllDocuments } from 'yaml';
import { formatDiagnostic, hasErrors, type Diagnostic } from '../config/diagnostics.js';
import { parseManifests } from '../config/parse.js';
import { resourceKey, RESOURCE_KINDS, type Resource, type ResourceKey } from '../config/resources.js';
import { CLUSTER_SCOPED_KINDS } from '../config/schemas.js';
import type { ConfigStore } from '../config/store.js';
import { StateWriteError } from '../persist/journal.js';
import { yamlShapeProblem } from './yaml-shape.js';

export interface ConfigRequestResult {
  status: number;
  body: unknown;
}

export type ConfigRequestKind = 'apply' | 'delete';

/** The YAML shape limits checked before parsing (AdminLimits' fields of the same names). */
export interface YamlShapeLimits {
  maxYamlDepth: number;
  maxYamlKeys: number;
  maxYamlDocuments: number;
}

/**
 * A body parsed and validated, ready to commit or to refuse. Plain data, so it crosses from the
 * parser thread to the main thread by structured clone unchanged.
 */
export type PreparedRequest =
  /** Refused before validation (a shape past the limits, YAML the library throws on): 400, an admin refusal. */
  | { kind: 'refused'; message: string }
  /** Refused by validation: 400 with the `file:line` listing, a config rejection. */
  | { kind: 'invalid'; body: string }
  | { kind: 'apply'; resources: Resource[]; warnings: string[] }
  | { kind: 'delete'; keys: ResourceKey[] };

function rejected(diagnostics: readonly Diagnostic[]): PreparedRequest {
  return { kind: 'invalid', body: diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic).join('\n') + '\n' };
}

export function isYamlInputError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return err.name.startsWith('YAML') || (err instanceof ReferenceError && /alias/i.test(err.message));
}

/**
 * Shape pre-scan, then parse and validate. Touches no shared state: runs the same on the main
 * thread and on the parser thread. Unexpected errors are thrown (a 500).
 */
export function prepareConfigRequest(kind: ConfigRequestKind, text: string, limits: YamlShapeLimits, source = 'request'): PreparedRequest {
  const shape = yamlShapeProblem(text, limits.maxYamlDepth, limits.maxYamlKeys, limits.maxYamlDocuments);
  if (shape) return { kind: 'refused', message: `${source}:${shape}; not parsed\n` };
  try {
    return kind === 'apply' ? prepareApply(text, source) : prepareDelete(text, source);
  } catch (err) {
    // The YAML library throws (rather than reports) on some inputs, e.g. alias bombs: the body's fault, not ours.
    if (isYamlInputError(err)) return { kind: 'refused', message: `${source}: ${(err as Error).message}\n` };
    throw err;
  }
}

/** Writes a prepared apply or delete into the store as one batch; refusals are the caller's. */
export function commitPrepared(store: ConfigStore, prepared: Extract<PreparedRequest, { kind: 'apply' | 'delete' }>): ConfigRequestResult {
  try {
    return commitOrThrow(store, prepared);
  } catch (err) {
    // The state dir could not make it durable (disk full): refused, and nothing of it applied.
    if (err instanceof StateWriteError) return { status: 507, body: `${err.message}\n` };
    throw err;
  }
}

function commitOrThrow(store: ConfigStore, prepared: Extract<PreparedRequest, { kind: 'apply' | 'delete' }>): ConfigRequestResult {
  if (prepared.kind === 'apply') {
    const events = store.commit(prepared.resources.map((resource) => ({ op: 'apply' as const, resource })));
    return {
      status: 200,
      body: {
        applied: events.map((e) => ({ key: e.key, type: e.type, resourceVersion: String(e.revision) })),
        unchanged: prepared.resources.length - events.length,
        warnings: prepared.warnings,
      },
    };
  }
  const { keys } = prepared;
  const events = store.commit(keys.map((key) => ({ op: 'delete' as const, key })));
  const deleted = new Set(events.map((e) => e.key));
  return { status: 200, body: { deleted: [...deleted], missing: keys.filter((k) => !deleted.has(k)) } };
}

function prepareApply(text: string, source: string): PreparedRequest {
  const parsed = parseManifests(text, source);
  if (hasErrors(parsed.diagnostics)) return rejected(parsed.diagnostics);
  return {
    kind: 'apply',
    resources: parsed.resources.map((l) => l.resource),
    warnings: parsed.diagnostics.filter((d) => d.severity !== 'error').map(formatDiagnostic),
  };
}

/**
 * Deletion needs only kind, name and namespace, so documents are not schema-checked (a trimmed
 * `kind`/`metadata` stub is enough, as with `kubectl delete -f`). Unknown kinds are errors.
 */
function prepareDelete(text: string, source: string): PreparedRequest {
  const errors: string[] = [];
  const keys: ResourceKey[] = [];
  let docs;
  try {
    docs = parseAllDocuments(text);
  } catch (err) {
    return { kind: 'invalid', body: `${source}: ${(err as Error).message}\n` };
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
  if (errors.length > 0) return { kind: 'invalid', body: errors.join('\n') + '\n' };
  return { kind: 'delete', keys };
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
