// Manifest text -> validated resources + diagnostics (SPEC §1).
// Each YAML document (and each item of a `kind: List`) stands alone: a broken one is reported
// and skipped, never taking the valid ones down with it.

import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseAllDocuments,
  type Document,
  type Node as YamlNode,
  type YAMLError,
} from 'yaml';
import { formatPath, type Diagnostic } from './diagnostics.js';
import { keyOf, RESOURCE_KINDS, type Resource, type ResourceKind } from './resources.js';
import {
  CLUSTER_SCOPED_KINDS,
  DOCUMENT_SCHEMAS,
  KIND_GROUP,
  SERVER_MANAGED_METADATA,
} from './schemas.js';
import { semanticIssues, type Issue, type Path } from './semantic.js';

export interface SourceRef {
  file: string;
  /** Line where the resource's mapping starts. */
  line: number;
  /** 1-based YAML document index in the file. */
  document: number;
}

export interface LoadedResource {
  resource: Resource;
  source: SourceRef;
}

export interface ParseResult {
  resources: LoadedResource[];
  diagnostics: Diagnostic[];
}

export const UNUSED_MESSAGE = 'not used by xdsim';

// ---- Ajv -------------------------------------------------------------------------------------

let validators: Map<ResourceKind, ValidateFunction> | undefined;

function validatorFor(kind: ResourceKind): ValidateFunction {
  if (!validators) {
    // verbose: errors carry the failing value and its schema, which the messages are built from.
    const ajv = new Ajv({ allErrors: true, verbose: true, strictTypes: false });
    ajv.addVocabulary(['expected']);
    validators = new Map();
    for (const k of RESOURCE_KINDS) validators.set(k, ajv.compile(DOCUMENT_SCHEMAS[k]));
  }
  return validators.get(kind)!;
}

// ---- locating values in the YAML source ------------------------------------------------------

interface DocCtx {
  file: string;
  text: string;
  document: number;
  doc: Document;
  lc: LineCounter;
}

interface Located {
  line: number;
  column: number;
  /** The value node at the path, when it exists in the source. */
  node?: YamlNode;
}

type Where = 'value' | 'key' | 'parent';

function pos(ctx: DocCtx, offset: number): { line: number; column: number } {
  const p = ctx.lc.linePos(offset);
  return { line: p.line, column: p.col };
}

function deref(ctx: DocCtx, n: unknown): unknown {
  // Paths descend through aliases into the anchored node; a value that is itself an alias is
  // still reported where the alias is written (the caller keeps the alias node for that).
  return isAlias(n) ? n.resolve(ctx.doc) : n;
}

function rangeStart(n: unknown): number | undefined {
  const r = (n as { range?: [number, number, number] } | null | undefined)?.range;
  return r ? r[0] : undefined;
}

/**
 * Line of the node at `path` (from the document root). Falls back to the deepest node that
 * exists when the path leaves the source (merge keys, defaults).
 */
function locate(ctx: DocCtx, path: Path, where: Where = 'value'): Located {
  let node: unknown = ctx.doc.contents;
  let key: unknown;
  let parent: unknown = node;
  let deepest: unknown = node;
  let complete = true;
  for (const seg of path) {
    const cur = deref(ctx, node);
    if (isMap(cur)) {
      const pair = cur.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(seg));
      if (!pair) {
        complete = false;
        parent = cur;
        break;
      }
      parent = cur;
      key = pair.key;
      node = pair.value;
    } else if (isSeq(cur) && cur.items[Number(seg)] !== undefined) {
      parent = cur;
      key = undefined;
      node = cur.items[Number(seg)];
    } else {
      complete = false;
      parent = cur;
      break;
    }
    if (rangeStart(node) !== undefined) deepest = node;
    else if (rangeStart(key) !== undefined) deepest = key;
  }
  const at = (n: unknown, withNode: boolean): Located | undefined => {
    const s = rangeStart(n);
    if (s === undefined) return undefined;
    return { ...pos(ctx, s), node: withNode ? (n as YamlNode) : undefined };
  };
  const fallback = at(deepest, false) ?? { line: 1, column: 1 };
  if (!complete) return at(parent, false) ?? fallback;
  if (where === 'parent') return at(parent, false) ?? fallback;
  if (where === 'key') return at(key, false) ?? at(node, true) ?? fallback;
  // An empty value (`weight:`) has a zero-width range after the key; the key's line reads better.
  const empty = isScalar(node) && node.value === null && rawSource(ctx, node) === '';
  return (!empty && at(node, true)) || at(key, false) || fallback;
}

/** The node's text as written, for scalars. */
function rawSource(ctx: DocCtx, node: unknown): string | undefined {
  if (!isScalar(node) || !node.range) return undefined;
  return ctx.text.slice(node.range[0], node.range[1]);
}

// ---- messages --------------------------------------------------------------------------------

interface SchemaLike {
  expected?: string;
  enum?: unknown[];
  const?: unknown;
  anyOf?: SchemaLike[];
  type?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  minItems?: number;
  properties?: Record<string, unknown>;
}

/** "what was expected", from the schema that failed. */
function describe(s: SchemaLike): string {
  if (s.expected) return s.expected;
  if (s.enum) return `one of ${s.enum.join(', ')}`;
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.anyOf) return s.anyOf.map(describe).join(' or ');
  switch (s.type) {
    case 'integer':
      if (s.minimum !== undefined && s.maximum !== undefined) return `an integer ${s.minimum}..${s.maximum}`;
      if (s.minimum !== undefined) return `an integer >= ${s.minimum}`;
      return 'an integer';
    case 'number':
      return 'a number';
    case 'string':
      return s.minLength ? 'a non-empty string' : 'a string';
    case 'boolean':
      return 'a boolean (true or false)';
    case 'array':
      return s.minItems ? 'a non-empty list' : 'a list';
    case 'object':
      return 'a mapping';
    default:
      return 'a valid value';
  }
}

/** "what was got", as the user wrote it where that is clearer than the parsed value. */
function show(ctx: DocCtx, value: unknown, node: YamlNode | undefined): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined) {
    const raw = rawSource(ctx, node)?.trim();
    return raw ? raw : 'an empty value';
  }
  if (typeof value === 'number' || typeof value === 'boolean') {
    // Plain scalars keep their spelling (1.0 stays 1.0, not 1).
    const raw = isScalar(node) && node.type === 'PLAIN' ? rawSource(ctx, node) : undefined;
    if (raw) return raw;
    return String(value);
  }
  if (Array.isArray(value)) return value.length ? 'a list' : 'an empty list';
  return 'a mapping';
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

function suggestion(unknown: string, known: string[]): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(unknown.toLowerCase(), k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  // Short names tolerate one slip, longer ones two (a swap of adjacent letters counts as two).
  const limit = unknown.length <= 4 ? 1 : 2;
  return best !== undefined && bestD <= limit ? ` (did you mean "${best}"?)` : '';
}

function pointerToPath(pointer: string): Path {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9]\d*)$/.test(s) ? Number(s) : s));
}

/**
 * A problem found in one object, before it has a source position. A wrong value carries `got`
 * instead of a message: the message is written once the value's source node is known.
 */
interface Finding {
  severity: Diagnostic['severity'];
  path: Path;
  at?: Issue['at'];
  message?: string;
  got?: { data: unknown; expected: string };
}

/**
 * Ajv errors -> one finding per field. Errors inside a failed anyOf are dropped in favour of
 * the anyOf itself ("an integer 1..65535 or a port name"), and a field with several failing
 * keywords (type + enum, say) yields one message.
 */
function translateAjv(errors: readonly ErrorObject[]): Finding[] {
  const unions = errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf').map((e) => e.schemaPath + '/');
  const kept = errors.filter((e) => !unions.some((u) => e.schemaPath.startsWith(u)));
  const out: Finding[] = [];
  const valueErrors = new Map<string, ErrorObject>();
  for (const e of kept) {
    const base = pointerToPath(e.instancePath);
    if (e.keyword === 'additionalProperties') {
      const prop = (e.params as { additionalProperty: string }).additionalProperty;
      const known = Object.keys((e.parentSchema as SchemaLike | undefined)?.properties ?? {});
      out.push({
        severity: 'warning',
        path: [...base, prop],
        at: 'key',
        message: `unknown field, ignored${suggestion(prop, known)}`,
      });
    } else if (e.keyword === 'required') {
      const prop = (e.params as { missingProperty: string }).missingProperty;
      out.push({ severity: 'error', path: [...base, prop], at: 'parent', message: 'required field missing' });
    } else {
      const prev = valueErrors.get(e.instancePath);
      if (!prev || e.schemaPath.length < prev.schemaPath.length) valueErrors.set(e.instancePath, e);
    }
  }
  for (const e of valueErrors.values()) {
    out.push({
      severity: 'error',
      path: pointerToPath(e.instancePath),
      got: { data: e.data, expected: describe((e.parentSchema ?? {}) as SchemaLike) },
    });
  }
  return out;
}

// ---- documents -------------------------------------------------------------------------------

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deletePath(root: unknown, path: Path): void {
  let cur = root;
  for (const seg of path.slice(0, -1)) {
    if (cur === null || typeof cur !== 'object') return;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  if (cur !== null && typeof cur === 'object') delete (cur as Record<string | number, unknown>)[path[path.length - 1]!];
}

/** `ns/name` as far as it can be read from a possibly invalid object. */
function displayName(obj: Record<string, unknown>, kind: string): string | undefined {
  const meta = obj['metadata'];
  if (!isPlainObject(meta) || typeof meta['name'] !== 'string') return undefined;
  if (CLUSTER_SCOPED_KINDS.has(kind)) return meta['name'];
  if (!(RESOURCE_KINDS as readonly string[]).includes(kind))
    return typeof meta['namespace'] === 'string' && meta['namespace'] ? `${meta['namespace']}/${meta['name']}` : meta['name'];
  const ns = typeof meta['namespace'] === 'string' && meta['namespace'] ? meta['namespace'] : 'default';
  return `${ns}/${meta['name']}`;
}

function apiGroup(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/**
 * Whether xdsim reads this kind. Istio kind names are distinctive, so a WorkloadEntry with a
 * wrong apiVersion is a mistake to report; a `Service` outside the core group (Knative's, say)
 * is a different kind altogether.
 */
function isOurs(apiVersion: string, kind: string): kind is ResourceKind {
  if (!(RESOURCE_KINDS as readonly string[]).includes(kind)) return false;
  return KIND_GROUP[kind as ResourceKind] !== '' || apiGroup(apiVersion) === '';
}

class DocumentProcessor {
  readonly resources: LoadedResource[] = [];
  readonly diagnostics: Diagnostic[] = [];

  constructor(private readonly ctx: DocCtx) {}

  private diag(base: Path, issue: Finding, kind?: string, name?: string): void {
    const loc = locate(this.ctx, [...base, ...issue.path], issue.at ?? 'value');
    const { got } = issue;
    const message = got ? `expected ${got.expected}, got ${show(this.ctx, got.data, loc.node)}` : (issue.message ?? '');
    const d: Diagnostic = {
      severity: issue.severity,
      file: this.ctx.file,
      line: loc.line,
      column: loc.column,
      document: this.ctx.document,
      message,
    };
    if (kind) d.kind = kind;
    if (name) d.name = name;
    if (issue.path.length) d.path = formatPath(issue.path);
    this.diagnostics.push(d);
  }

  /** One Kubernetes object found at `base` (the document root, or `items[i]` of a List). */
  object(value: unknown, base: Path): void {
    if (!isPlainObject(value)) {
      this.diag(base, {
        severity: 'error',
        path: [],
        message: `expected a Kubernetes object (a mapping with apiVersion and kind), got ${show(this.ctx, value, undefined)}`,
      });
      return;
    }
    const kind = value['kind'];
    const apiVersion = value['apiVersion'];
    const kindName = typeof kind === 'string' && kind ? kind : undefined;
    const name = kindName ? displayName(value, kindName) : undefined;
    let header = true;
    for (const [field, v] of [['apiVersion', apiVersion], ['kind', kind]] as const) {
      if (v === undefined || v === null) {
        this.diag(base, { severity: 'error', path: [field], at: 'parent', message: 'required field missing' }, kindName, name);
        header = false;
      } else if (typeof v !== 'string' || v === '') {
        this.diag(base, { severity: 'error', path: [field], got: { data: v, expected: 'a non-empty string' } }, kindName, name);
        header = false;
      }
    }
    if (!header) return;
    const k = kind as string;
    const av = apiVersion as string;

    if (k.endsWith('List') && Array.isArray(value['items'])) {
      (value['items'] as unknown[]).forEach((item, i) => this.object(item, [...base, 'items', i]));
      return;
    }
    if (!isOurs(av, k)) {
      this.diag(base, { severity: 'unused', path: [], message: UNUSED_MESSAGE }, k, name);
      return;
    }
    this.resource(value, k, name, base);
  }

  private resource(obj: Record<string, unknown>, kind: ResourceKind, name: string | undefined, base: Path): void {
    const validate = validatorFor(kind);
    let failed = false;
    if (!validate(obj)) {
      const findings = translateAjv(validate.errors ?? []);
      for (const f of findings) {
        if (f.severity === 'error') failed = true;
        this.diag(base, f, kind, name);
      }
      // Unknown fields are warnings: drop them so the stored resource holds only what we model.
      for (const f of findings) if (f.severity === 'warning') deletePath(obj, f.path);
    }
    if (failed) return;

    const { resource, issues } = normalise(obj, kind);
    issues.push(...semanticIssues(resource));
    for (const issue of issues) {
      if (issue.severity === 'error') failed = true;
      this.diag(base, issue, kind, displayName(obj, kind));
    }
    if (failed) return;
    this.resources.push({
      resource,
      source: { file: this.ctx.file, line: locate(this.ctx, base).line, document: this.ctx.document },
    });
  }
}

/** Schema-valid document -> resource: namespace defaulted, server-owned fields dropped. */
function normalise(obj: Record<string, unknown>, kind: ResourceKind): { resource: Resource; issues: Issue[] } {
  const issues: Issue[] = [];
  const meta = { ...(obj['metadata'] as Record<string, unknown>) };
  for (const f of SERVER_MANAGED_METADATA) delete meta[f];
  if (CLUSTER_SCOPED_KINDS.has(kind)) {
    if (meta['namespace'])
      issues.push({
        severity: 'warning',
        path: ['metadata', 'namespace'],
        message: `ignored: ${kind} is cluster-scoped`,
      });
    meta['namespace'] = '';
  } else if (!meta['namespace']) {
    meta['namespace'] = 'default';
  }
  const metadata: Record<string, unknown> = { name: meta['name'], namespace: meta['namespace'] };
  if (meta['labels'] !== undefined) metadata['labels'] = meta['labels'];
  if (meta['annotations'] !== undefined) metadata['annotations'] = meta['annotations'];

  const r: Record<string, unknown> = { apiVersion: obj['apiVersion'], kind, metadata };
  if (kind !== 'ServiceAccount' && obj['spec'] !== undefined) r['spec'] = obj['spec'];
  // Only WorkloadEntry status means anything to xdsim (health conditions, SPEC §2).
  if (kind === 'WorkloadEntry' && obj['status'] !== undefined) r['status'] = obj['status'];
  return { resource: r as unknown as Resource, issues };
}

function yamlErrorDiag(file: string, document: number, lc: LineCounter, e: YAMLError, severity: 'error' | 'warning'): Diagnostic {
  const p = e.linePos?.[0] ?? lc.linePos(e.pos[0]);
  // yaml appends "at line X, column Y:" and a source excerpt; we carry the position ourselves.
  const message = e.message.split('\n')[0]!.replace(/\s*at line \d+, column \d+:?\s*$/, '');
  return { severity, file, line: p.line, column: p.col, document, message: `YAML: ${message}` };
}

/**
 * Parses a multi-document manifest file. Every valid resource comes back, whatever else in the
 * file is broken; callers decide what to do with `diagnostics` (errors, warnings, unused kinds).
 * A resource defined twice keeps the later definition, with a warning.
 */
export function parseManifests(text: string, file: string): ParseResult {
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc, merge: true, prettyErrors: true });
  const diagnostics: Diagnostic[] = [];
  const resources: LoadedResource[] = [];
  if ('empty' in docs) {
    for (const e of docs.errors) diagnostics.push(yamlErrorDiag(file, 1, lc, e, 'error'));
    return { resources, diagnostics };
  }
  docs.forEach((doc, i) => {
    const document = i + 1;
    for (const w of doc.warnings) diagnostics.push(yamlErrorDiag(file, document, lc, w, 'warning'));
    if (doc.errors.length > 0) {
      for (const e of doc.errors) diagnostics.push(yamlErrorDiag(file, document, lc, e, 'error'));
      return;
    }
    if (doc.contents === null) return; // empty or comment-only document
    const ctx: DocCtx = { file, text, document, doc, lc };
    let value: unknown;
    try {
      value = doc.toJS();
    } catch (err) {
      const line = lc.linePos(rangeStart(doc.contents) ?? 0).line;
      diagnostics.push({ severity: 'error', file, line, document, message: `YAML: ${(err as Error).message}` });
      return;
    }
    if (value === null || value === undefined) return;
    const p = new DocumentProcessor(ctx);
    p.object(value, []);
    diagnostics.push(...p.diagnostics);
    resources.push(...p.resources);
  });
  const deduped = dedupeLoaded(resources);
  diagnostics.push(...deduped.diagnostics);
  diagnostics.sort((a, b) => a.document - b.document || a.line - b.line);
  return { resources: deduped.resources, diagnostics };
}

function where(s: SourceRef): string {
  return `${s.file}:${s.line}${s.document > 1 ? ` (document ${s.document})` : ''}`;
}

/**
 * Same kind/namespace/name loaded twice: the later definition wins, as with `kubectl apply` of
 * both in order, and a warning on the later one names the earlier.
 */
export function dedupeLoaded(items: readonly LoadedResource[]): ParseResult {
  const slots: (LoadedResource | undefined)[] = [];
  const index = new Map<string, number>();
  const diagnostics: Diagnostic[] = [];
  for (const item of items) {
    const key = keyOf(item.resource);
    const prev = index.get(key);
    if (prev !== undefined) {
      const earlier = slots[prev]!;
      const { namespace, name } = item.resource.metadata;
      diagnostics.push({
        severity: 'warning',
        file: item.source.file,
        line: item.source.line,
        document: item.source.document,
        kind: item.resource.kind,
        name: namespace ? `${namespace}/${name}` : name,
        message: `defined again: replaces the definition at ${where(earlier.source)} (the later one wins)`,
      });
      slots[prev] = undefined;
    }
    index.set(key, slots.length);
    slots.push(item);
  }
  return { resources: slots.filter((s): s is LoadedResource => s !== undefined), diagnostics };
}
