// Manifest text -> validated resources + diagnostics (SPEC §1).
// Each YAML document (and each item of a `kind: List`) stands alone: a broken one is reported
// and skipped, never taking the valid ones down with it.

import type { ValidateFunction } from 'ajv';
import type { Diagnostic } from './diagnostics.js';
import { keyOf, RESOURCE_KINDS, type Resource, type ResourceKind } from './resources.js';
import {
  CLUSTER_SCOPED_KINDS,
  DOCUMENT_SCHEMAS,
  KIND_GROUP,
  SERVER_MANAGED_METADATA,
} from './schemas.js';
import { semanticIssues, type Issue, type Path } from './semantic.js';
import {
  compileSchema,
  findingToDiagnostic,
  isPlainObject,
  locate,
  readYamlDocuments,
  show,
  validateValue,
  type DocCtx,
  type Finding,
} from './yaml-validate.js';

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

let validators: Map<ResourceKind, ValidateFunction> | undefined;

function validatorFor(kind: ResourceKind): ValidateFunction {
  if (!validators) {
    validators = new Map();
    for (const k of RESOURCE_KINDS) validators.set(k, compileSchema(DOCUMENT_SCHEMAS[k]));
  }
  return validators.get(kind)!;
}

// ---- documents -------------------------------------------------------------------------------

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
    this.diagnostics.push(findingToDiagnostic(this.ctx, base, issue, { kind, name }));
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
    // Unknown fields are warnings, dropped so the stored resource holds only what we model.
    const checked = validateValue(validatorFor(kind), obj);
    for (const f of checked.findings) this.diag(base, f, kind, name);
    if (checked.failed) return;
    let failed = false;

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
  // Only two statuses mean anything to xdsim: a WorkloadEntry's health conditions (SPEC §2) and a
  // Service's LoadBalancer ingress, the address of a network gateway (src/model/service-gateways.ts).
  if ((kind === 'WorkloadEntry' || kind === 'Service') && obj['status'] !== undefined) r['status'] = obj['status'];
  return { resource: r as unknown as Resource, issues };
}

/**
 * Parses a multi-document manifest file. Every valid resource comes back, whatever else in the
 * file is broken; callers decide what to do with `diagnostics` (errors, warnings, unused kinds).
 * A resource defined twice keeps the later definition, with a warning.
 */
export function parseManifests(text: string, file: string): ParseResult {
  const { documents, diagnostics } = readYamlDocuments(text, file);
  const resources: LoadedResource[] = [];
  for (const { ctx, value } of documents) {
    // A bare YAML list is not a manifest (kubectl rejects it too); only parseObjectsAt takes one.
    const p = new DocumentProcessor(ctx);
    p.object(value, []);
    diagnostics.push(...p.diagnostics);
    resources.push(...p.resources);
  }
  const deduped = dedupeLoaded(resources);
  diagnostics.push(...deduped.diagnostics);
  diagnostics.sort((a, b) => a.document - b.document || a.line - b.line);
  return { resources: deduped.resources, diagnostics };
}

/**
 * Kubernetes objects (one, a `kind: List`, or a YAML list of them) found at `base` inside a
 * document, e.g. manifests written inline in a scenario file. Diagnostics point into that
 * document; paths in them are relative to each object.
 */
export function parseObjectsAt(ctx: DocCtx, value: unknown, base: Path): ParseResult {
  const p = new DocumentProcessor(ctx);
  if (Array.isArray(value)) value.forEach((v, i) => p.object(v, [...base, i]));
  else p.object(value, base);
  return { resources: p.resources, diagnostics: p.diagnostics };
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
