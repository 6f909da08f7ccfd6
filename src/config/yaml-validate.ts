// The generic half of config validation: YAML text -> documents with a LineCounter, a value
// checked against a TypeBox schema with Ajv, and every finding turned into a located Diagnostic
// (file:line, field path, "expected ..., got ..."). Manifests (parse.ts) and scenario files
// (src/scenario) share it so both report errors the same way.

import type { TSchema } from '@sinclair/typebox';
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
import type { Issue, Path } from './semantic.js';

// ---- Ajv -------------------------------------------------------------------------------------

let ajv: Ajv | undefined;

/** Compiles a schema on the shared Ajv instance (errors carry the failing value and schema). */
export function compileSchema(schema: TSchema): ValidateFunction {
  if (!ajv) {
    // verbose: errors carry the failing value and its schema, which the messages are built from.
    ajv = new Ajv({ allErrors: true, verbose: true, strictTypes: false });
    ajv.addVocabulary(['expected']);
  }
  return ajv.compile(schema);
}

// ---- documents -------------------------------------------------------------------------------

/** One YAML document of a file, with what is needed to map paths back to lines. */
export interface DocCtx {
  file: string;
  text: string;
  /** 1-based document index in the file. */
  document: number;
  doc: Document;
  lc: LineCounter;
}

export interface YamlDocument {
  ctx: DocCtx;
  /** The document as plain JS (merge keys applied). */
  value: unknown;
}

function yamlErrorDiag(file: string, document: number, lc: LineCounter, e: YAMLError, severity: 'error' | 'warning'): Diagnostic {
  const p = e.linePos?.[0] ?? lc.linePos(e.pos[0]);
  // yaml appends "at line X, column Y:" and a source excerpt; we carry the position ourselves.
  const message = e.message.split('\n')[0]!.replace(/\s*at line \d+, column \d+:?\s*$/, '');
  return { severity, file, line: p.line, column: p.col, document, message: `YAML: ${message}` };
}

/**
 * Splits a multi-document file. Syntax errors and warnings become diagnostics; a broken
 * document is left out, empty (comment-only) documents too.
 */
export function readYamlDocuments(text: string, file: string): { documents: YamlDocument[]; diagnostics: Diagnostic[] } {
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc, merge: true, prettyErrors: true });
  const diagnostics: Diagnostic[] = [];
  const documents: YamlDocument[] = [];
  if ('empty' in docs) {
    for (const e of docs.errors) diagnostics.push(yamlErrorDiag(file, 1, lc, e, 'error'));
    return { documents, diagnostics };
  }
  // yaml may attach an error to a neighbouring document (a stray `}` right after `---` lands on
  // the one before it); charge each error to the document whose text holds it, so one broken
  // document cannot sink another. An error found right at the next `---` (an unclosed bracket)
  // stays with its own document.
  const starts = docs.map((d) => d.range[0]);
  const owner = (e: YAMLError, attached: number): number => {
    const p = e.pos[0];
    if (p >= starts[attached]! && (attached + 1 >= starts.length || p <= starts[attached + 1]!)) return attached;
    // The last document starting at or before p (binary search: a scan per error made a body
    // of many misattached errors quadratic, 30,000 of them took seconds).
    let j = 0;
    for (let hi = starts.length - 1; j < hi; ) {
      const mid = (j + hi + 1) >> 1;
      if (starts[mid]! <= p) j = mid;
      else hi = mid - 1;
    }
    return p === starts[j] && j > 0 ? j - 1 : j;
  };
  const errorsOf = docs.map(() => [] as YAMLError[]);
  docs.forEach((d, i) => {
    for (const e of d.errors) errorsOf[owner(e, i)]!.push(e);
  });
  docs.forEach((doc, i) => {
    const document = i + 1;
    for (const w of doc.warnings) diagnostics.push(yamlErrorDiag(file, document, lc, w, 'warning'));
    const errors = errorsOf[i]!;
    if (errors.length > 0) {
      for (const e of errors) diagnostics.push(yamlErrorDiag(file, document, lc, e, 'error'));
      return;
    }
    if (doc.contents === null) return;
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
    documents.push({ ctx, value });
  });
  return { documents, diagnostics };
}

// ---- locating values in the YAML source ------------------------------------------------------

export interface Located {
  line: number;
  column: number;
  /** The value node at the path, when it exists in the source. */
  node?: YamlNode;
}

export type Where = 'value' | 'key' | 'parent';

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
export function locate(ctx: DocCtx, path: Path, where: Where = 'value'): Located {
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
  exclusiveMinimum?: number;
  minLength?: number;
  minItems?: number;
  pattern?: string;
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
      if (s.minimum !== undefined && s.maximum !== undefined) return `a number ${s.minimum}..${s.maximum}`;
      if (s.minimum !== undefined) return `a number >= ${s.minimum}`;
      if (s.exclusiveMinimum !== undefined) return `a number > ${s.exclusiveMinimum}`;
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
export function show(ctx: DocCtx, value: unknown, node: YamlNode | undefined): string {
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

/** ` (did you mean "x"?)` when `unknown` is a near miss of one of `known`, else ''. */
export function suggestion(unknown: string, known: readonly string[]): string {
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
export interface Finding {
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
export function translateAjv(errors: readonly ErrorObject[]): Finding[] {
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

/** A finding at `base` + its path, located in the source and rendered. */
export function findingToDiagnostic(ctx: DocCtx, base: Path, f: Finding, subject: { kind?: string; name?: string } = {}): Diagnostic {
  const loc = locate(ctx, [...base, ...f.path], f.at ?? 'value');
  const message = f.got ? `expected ${f.got.expected}, got ${show(ctx, f.got.data, loc.node)}` : (f.message ?? '');
  const d: Diagnostic = {
    severity: f.severity,
    file: ctx.file,
    line: loc.line,
    column: loc.column,
    document: ctx.document,
    message,
  };
  if (subject.kind) d.kind = subject.kind;
  if (subject.name) d.name = subject.name;
  if (f.path.length) d.path = formatPath(f.path);
  return d;
}

/**
 * Checks `value` (found at `base` in the document) against a compiled schema. Unknown fields
 * come back as warnings and are deleted from `value`, so what is kept holds only modelled fields.
 */
export function validateValue(validate: ValidateFunction, value: unknown): { findings: Finding[]; failed: boolean } {
  if (validate(value)) return { findings: [], failed: false };
  const findings = translateAjv(validate.errors ?? []);
  for (const f of findings) if (f.severity === 'warning') deletePath(value, f.path);
  return { findings, failed: findings.some((f) => f.severity === 'error') };
}

// ---- small helpers ---------------------------------------------------------------------------

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deletePath(root: unknown, path: Path): void {
  let cur = root;
  for (const seg of path.slice(0, -1)) {
    if (cur === null || typeof cur !== 'object') return;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  if (cur !== null && typeof cur === 'object') delete (cur as Record<string | number, unknown>)[path[path.length - 1]!];
}
