// Scenario file -> validated Scenario + diagnostics in the format of config errors
// (`file:line Scenario name path: message`). Schema first (types, ranges, unknown fields as
// warnings), then what a schema cannot say (one action per timeline entry, times inside the
// run, known groups and clusters), then the referenced manifests, each with its own lines.
import { stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { readFile } from 'node:fs/promises';
import type { ValidateFunction } from 'ajv';
import type { Diagnostic } from '../config/diagnostics.js';
import { loadConfigPaths } from '../config/load.js';
import { dedupeLoaded, parseManifests, parseObjectsAt, type LoadedResource } from '../config/parse.js';
import { keyOf, type Resource, type WorkloadGroup } from '../config/resources.js';
import type { Path } from '../config/semantic.js';
import { ConfigStore } from '../config/store.js';
import { meshNetworksChecks } from '../model/mesh-networks.js';
import { compileSchema, findingToDiagnostic, readYamlDocuments, suggestion, validateValue, type DocCtx, type Finding } from '../config/yaml-validate.js';
import { Registry } from '../model/registry.js';
import { localityMatches, parseLocality } from '../model/locality.js';
import { NO_SHAPE, parseBitRate, type DirectionShape, type LinkShape } from '../network/link-shape.js';
import { generateMesh, type MeshOptions } from '../topology/generate.js';
import type { ChurnSpec } from '../fleet/churn.js';
import type {
  AgentSelector,
  AgentSetSpec,
  ControlPlaneSettings,
  Expectation,
  ExpectationSpec,
  FleetSpec,
  NetworkLinkSpec,
  Scenario,
  TimelineAction,
  TimelineEvent,
} from './model.js';
import { totalAgents } from './model.js';
import {
  EXPECTATION_KINDS,
  ScenarioSchema,
  TIMELINE_ACTIONS,
  type ExpectationDocument,
  type ChurnDocument,
  type FleetDocument,
  type NetworkDocument,
  type ScenarioDocument,
  type TimelineEntryDocument,
} from './schema.js';
import { formatDuration, formatPercent, parseDuration, parseFraction, parseRate } from './units.js';

export interface ScenarioLoadResult {
  scenario?: Scenario;
  diagnostics: Diagnostic[];
}

export const DEFAULT_CONTROL_PLANE: ControlPlaneSettings = Object.freeze({
  gracePeriodMs: 10_000,
  debounceAfterMs: 100,
  debounceMaxMs: 10_000,
  edsDebounce: true,
  sendUnhealthyEndpoints: false,
  autoSendUnhealthyEndpoints: true,
  validateIdentity: true,
});

let validator: ValidateFunction | undefined;

/** Reads, validates and resolves a scenario file. `scenario` is set only when there are no errors. */
export async function loadScenario(file: string): Promise<ScenarioLoadResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    return { diagnostics: [{ severity: 'error', file, line: 1, document: 1, message: `cannot read: ${why}` }] };
  }
  return parseScenario(text, file);
}

/** As loadScenario, for text already read; `file` names it in diagnostics and anchors relative paths. */
export async function parseScenario(text: string, file: string): Promise<ScenarioLoadResult> {
  const { documents, diagnostics } = readYamlDocuments(text, file);
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
  if (documents.length === 0) {
    diagnostics.push({ severity: 'error', file, line: 1, document: 1, message: 'empty file: expected a Scenario' });
    return { diagnostics };
  }
  for (const extra of documents.slice(1)) {
    diagnostics.push(findingToDiagnostic(extra.ctx, [], { severity: 'error', path: [], message: 'a scenario file holds one document; this one is extra' }));
  }
  const { ctx, value } = documents[0]!;
  validator ??= compileSchema(ScenarioSchema);
  const name = (value as { metadata?: { name?: unknown } })?.metadata?.name;
  const subject = { kind: 'Scenario', name: typeof name === 'string' ? name : undefined };
  const checked = validateValue(validator, value);
  for (const f of checked.findings) diagnostics.push(findingToDiagnostic(ctx, [], f, subject));
  if (checked.failed || diagnostics.some((d) => d.severity === 'error')) return { diagnostics: sortDiags(diagnostics) };
  const builder = new ScenarioBuilder(ctx, value as ScenarioDocument, subject);
  const scenario = await builder.build();
  diagnostics.push(...builder.diagnostics);
  const failed = diagnostics.some((d) => d.severity === 'error');
  return failed ? { diagnostics: sortDiags(diagnostics) } : { scenario, diagnostics: sortDiags(diagnostics) };
}

function sortDiags(ds: Diagnostic[]): Diagnostic[] {
  // Scenario-file lines first, in order; referenced files after, in their own order.
  return ds.map((d, i) => [d, i] as const).sort(([a, i], [b, j]) => (a.file === b.file ? a.line - b.line || i - j : 0)).map(([d]) => d);
}

/** `ns/name` -> [ns, name]; a bare name is in `default`. */
function splitRef(ref: string): [string, string] {
  const i = ref.indexOf('/');
  return i < 0 ? ['default', ref] : [ref.slice(0, i), ref.slice(i + 1)];
}

const LOCALITY_PARTS = /^[^/\s]+(\/[^/\s]*){0,2}$/;

class ScenarioBuilder {
  readonly diagnostics: Diagnostic[] = [];
  private readonly dir: string;

  constructor(
    private readonly ctx: DocCtx,
    private readonly doc: ScenarioDocument,
    private readonly subject: { kind: string; name?: string },
  ) {
    this.dir = dirname(ctx.file);
  }

  private report(path: Path, message: string, severity: Finding['severity'] = 'error', at: Finding['at'] = 'value'): void {
    this.diagnostics.push(findingToDiagnostic(this.ctx, [], { severity, path, message, at }, this.subject));
  }

  private line(path: Path): number {
    return findingToDiagnostic(this.ctx, [], { severity: 'error', path, message: '' }).line;
  }

  /** A path from the scenario file, as the user should see it (relative to the working dir). */
  private resolve(p: string): string {
    const abs = isAbsolute(p) ? p : join(this.dir, p);
    const rel = relative(process.cwd(), abs);
    return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : abs;
  }

  private locality(path: Path, s: string): void {
    if (s !== '' && !LOCALITY_PARTS.test(s)) this.report(path, `expected a locality like "region/zone/subzone", got ${JSON.stringify(s)}`);
  }

  async build(): Promise<Scenario> {
    const d = this.doc;
    const resources = await this.mesh();
    const fleet = this.fleet(d.fleet);
    const network = d.network ? this.network(d.network, fleet) : undefined;
    const timeline = await this.timeline(fleet, network);
    const expectations = this.expectations(fleet);
    this.crossCheck(resources, timeline, fleet, expectations);
    const cp = d.controlPlane ?? {};
    const controlPlane: ControlPlaneSettings = {
      gracePeriodMs: cp.gracePeriod ? parseDuration(cp.gracePeriod) : DEFAULT_CONTROL_PLANE.gracePeriodMs,
      debounceAfterMs: cp.debounceAfter ? parseDuration(cp.debounceAfter) : DEFAULT_CONTROL_PLANE.debounceAfterMs,
      debounceMaxMs: cp.debounceMax ? parseDuration(cp.debounceMax) : DEFAULT_CONTROL_PLANE.debounceMaxMs,
      edsDebounce: cp.edsDebounce ?? DEFAULT_CONTROL_PLANE.edsDebounce,
      sendUnhealthyEndpoints: cp.sendUnhealthyEndpoints ?? DEFAULT_CONTROL_PLANE.sendUnhealthyEndpoints,
      autoSendUnhealthyEndpoints: cp.autoSendUnhealthyEndpoints ?? DEFAULT_CONTROL_PLANE.autoSendUnhealthyEndpoints,
      validateIdentity: cp.validateIdentity ?? DEFAULT_CONTROL_PLANE.validateIdentity,
    };
    for (const [k, field] of [
      ['keepaliveInterval', 'keepaliveTimeMs'],
      ['keepaliveTimeout', 'keepaliveTimeoutMs'],
    ] as const) {
      if (cp[k] === undefined) continue;
      const ms = parseDuration(cp[k]);
      if (ms <= 0) this.report(['controlPlane', k], 'must be longer than 0s');
      else controlPlane[field] = ms;
    }
    if (cp.cleanupRate !== undefined) {
      const r = parseRate(cp.cleanupRate);
      if (r <= 0) this.report(['controlPlane', 'cleanupRate'], 'must be above 0');
      else controlPlane.cleanupPerSecond = r;
    }
    if (cp.meshNetworks) {
      controlPlane.meshNetworks = cp.meshNetworks;
      this.diagnostics.push(...meshNetworksChecks(this.ctx, ['controlPlane', 'meshNetworks'], cp.meshNetworks, this.subject));
    }
    if (cp.target) {
      const t = cp.target;
      controlPlane.target = {
        address: t.address,
        ...(t.applyUrl ? { applyUrl: t.applyUrl } : {}),
        ...(t.applyCommand ? { applyCommand: t.applyCommand } : {}),
        ...(t.deleteCommand ? { deleteCommand: t.deleteCommand } : {}),
        ...(t.commandTimeout ? { commandTimeoutMs: parseDuration(t.commandTimeout) } : {}),
        ...(t.tokenFile ? { tokenFile: this.resolve(t.tokenFile) } : {}),
        ...(t.tokenCommand ? { tokenCommand: t.tokenCommand } : {}),
        ...(t.tls
          ? {
              tls: {
                ...(t.tls.caFile ? { caFile: this.resolve(t.tls.caFile) } : {}),
                ...(t.tls.certFile ? { certFile: this.resolve(t.tls.certFile) } : {}),
                ...(t.tls.keyFile ? { keyFile: this.resolve(t.tls.keyFile) } : {}),
                ...(t.tls.serverName ? { sni: t.tls.serverName } : {}),
              },
            }
          : {}),
        ...(t.metricsUrl ? { metricsUrl: t.metricsUrl } : {}),
        ...(t.debugUrl ? { debugUrl: t.debugUrl } : {}),
        ...(t.name ? { name: t.name } : {}),
      };
      const at = ['controlPlane', 'target'];
      if (t.applyUrl && t.applyCommand) this.report([...at, 'applyCommand'], 'give applyUrl or applyCommand, not both', 'error', 'key');
      if (t.deleteCommand && !t.applyCommand) this.report([...at, 'deleteCommand'], 'goes with applyCommand (applyUrl deletes through its /delete sibling)', 'error', 'key');
      if (t.tls && !!t.tls.certFile !== !!t.tls.keyFile) this.report([...at, 'tls'], 'certFile and keyFile go together', 'error', 'key');
    }
    if (controlPlane.debounceMaxMs < controlPlane.debounceAfterMs)
      this.report(['controlPlane', 'debounceMax'], `must not be shorter than debounceAfter (${formatDuration(controlPlane.debounceAfterMs)})`);
    const s: Scenario = {
      name: d.metadata.name,
      description: d.metadata.description ?? '',
      file: this.ctx.file,
      resources,
      controlPlane,
      fleet,
      timeline,
      expectations,
    };
    if (network) s.network = { links: network };
    if (this.topology) s.topology = this.topology;
    return s;
  }

  // ---- mesh ----------------------------------------------------------------------------------

  private topology: MeshOptions | undefined;

  private async mesh(): Promise<LoadedResource[]> {
    const m = this.doc.mesh ?? {};
    const all: LoadedResource[] = [];
    const files: string[] = [];
    for (const [i, f] of (m.files ?? []).entries()) {
      const p = this.resolve(f);
      try {
        await stat(p);
        files.push(p);
      } catch {
        this.report(['mesh', 'files', i], `cannot read ${JSON.stringify(p)}: no such file or directory`);
      }
    }
    if (files.length) {
      const loaded = await loadConfigPaths(files);
      this.diagnostics.push(...loaded.diagnostics);
      all.push(...loaded.resources);
    }
    if (m.topology) {
      const t = m.topology;
      if (t.entriesPerLocality === undefined && t.totalEntries === undefined) {
        this.report(['mesh', 'topology'], 'give entriesPerLocality or totalEntries', 'error', 'key');
      }
      this.topology = { ...t, namespaces: t.namespaces ?? 1 };
      const line = this.line(['mesh', 'topology']);
      for (const resource of generateMesh(this.topology!)) all.push({ resource, source: { file: this.ctx.file, line, document: this.ctx.document } });
    }
    if (m.manifests) all.push(...this.inline(m.manifests, ['mesh', 'manifests']));
    if (this.doc.workloadGroups) {
      const groups = this.inline(this.doc.workloadGroups, ['workloadGroups']);
      groups.forEach((g) => {
        if (g.resource.kind !== 'WorkloadGroup') {
          const i = this.doc.workloadGroups!.findIndex((x) => (x as { metadata?: { name?: unknown } }).metadata?.name === g.resource.metadata.name);
          this.report(['workloadGroups', Math.max(0, i), 'kind'], `expected WorkloadGroup here, got ${g.resource.kind} (put it under mesh.manifests)`);
        }
      });
      all.push(...groups);
    }
    const deduped = dedupeLoaded(all);
    this.diagnostics.push(...deduped.diagnostics);
    return deduped.resources;
  }

  private inline(items: unknown[], base: Path): LoadedResource[] {
    const r = parseObjectsAt(this.ctx, items, base);
    this.diagnostics.push(...r.diagnostics);
    return r.resources;
  }

  // ---- fleet ---------------------------------------------------------------------------------

  private fleet(f: FleetDocument): FleetSpec {
    const durationMs = parseDuration(f.duration);
    if (durationMs <= 0) this.report(['fleet', 'duration'], 'must be longer than 0s');
    const agents: AgentSetSpec[] = f.agents.map((a, i) => {
      const path: Path = ['fleet', 'agents', i];
      if (!/^[^/\s]+(\/[^/\s]+)?$/.test(a.group)) this.report([...path, 'group'], `expected "namespace/name" of a WorkloadGroup, got ${JSON.stringify(a.group)}`);
      const [namespace, group] = splitRef(a.group);
      let localities: [string, number][] = [];
      if (Array.isArray(a.localities)) localities = a.localities.map((l) => [l, 1]);
      else if (a.localities) localities = Object.entries(a.localities);
      localities.forEach(([l], j) => this.locality([...path, 'localities', Array.isArray(a.localities) ? j : l], l));
      if (a.localities && !Array.isArray(a.localities) && localities.every(([, w]) => w === 0)) this.report([...path, 'localities'], 'at least one weight must be above 0');
      const spec: AgentSetSpec = { namespace, group, count: a.count, localities, network: a.network ?? '', labels: a.labels ?? {}, ...(a.serviceAccount ? { serviceAccount: a.serviceAccount } : {}) };
      if (a.probe) {
        const p = a.probe;
        const pp: Path = [...path, 'probe'];
        let model: NonNullable<AgentSetSpec['probe']>['model'];
        if (p.model === 'flapping') {
          if (!p.period) this.report([...pp, 'period'], 'required field missing (one healthy + unhealthy cycle)', 'error', 'parent');
          model = { kind: 'flapping', periodMs: p.period ? parseDuration(p.period) : 10_000 };
        } else {
          if (p.period) this.report([...pp, 'period'], `only used by the flapping model, ignored for ${p.model}`, 'warning', 'key');
          model = { kind: p.model };
        }
        spec.probe = { model, fraction: this.fraction([...pp, 'agents'], p.agents ?? 1) };
      }
      return spec;
    });
    const churn = (f.churn ?? []).map((c, i) => this.churn(c, ['fleet', 'churn', i], durationMs)).filter((c): c is ChurnSpec => c !== undefined);
    const spec: FleetSpec = { durationMs, mode: f.mode ?? 'sotw', seed: f.seed ?? 1, agents, churn };
    if (f.ramp !== undefined) {
      const r = parseRate(f.ramp);
      if (r <= 0) this.report(['fleet', 'ramp'], 'must be above 0 (leave it out to connect all agents at once)');
      spec.rampPerSecond = r;
      const rampMs = (totalAgents(spec) / r) * 1000;
      if (rampMs > durationMs)
        this.report(['fleet', 'ramp'], `ramping ${totalAgents(spec)} agents at ${r}/s takes ${formatDuration(rampMs)}, longer than the duration (${formatDuration(durationMs)})`, 'warning');
    }
    if (f.workers !== undefined) spec.workers = f.workers;
    if (f.subscribe) spec.clusters = [...f.subscribe.clusters];
    return spec;
  }

  /** One churn entry -> the fleet's ChurnSpec; keys the model does not use are warned about. */
  private churn(c: ChurnDocument, path: Path, durationMs: number): ChurnSpec | undefined {
    const uses: Record<ChurnDocument['model'], { required: (keyof ChurnDocument)[]; optional: (keyof ChurnDocument)[] }> = {
      disconnect: { required: ['agents', 'every'], optional: ['start', 'times', 'down'] },
      ipChange: { required: ['agents', 'every'], optional: ['start', 'times', 'down'] },
      storm: { required: ['at'], optional: ['agents', 'down'] },
      flap: { required: ['agents', 'period'], optional: ['at'] },
      scale: { required: ['at', 'to'], optional: [] },
    };
    const { required, optional } = uses[c.model];
    let ok = true;
    for (const k of required) {
      if (c[k] === undefined) {
        this.report([...path, k], `required field missing for model ${c.model}`, 'error', 'parent');
        ok = false;
      }
    }
    for (const k of Object.keys(c) as (keyof ChurnDocument)[]) {
      if (k !== 'model' && !required.includes(k) && !optional.includes(k)) this.report([...path, k], `not used by model ${c.model}, ignored`, 'warning', 'key');
    }
    if (!ok) return undefined;
    const dur = (k: 'every' | 'start' | 'down' | 'at' | 'period', def: number) => (c[k] !== undefined ? parseDuration(c[k]) : def);
    const frac = (k: 'agents' | 'to', def: number) => (c[k] !== undefined ? this.fraction([...path, k], c[k]) : def);
    for (const k of ['at', 'start'] as const) {
      if (c[k] !== undefined && parseDuration(c[k]) >= durationMs) this.report([...path, k], `is not before the end of the run (fleet duration ${formatDuration(durationMs)})`);
    }
    for (const k of ['every', 'period'] as const) if (c[k] !== undefined && parseDuration(c[k]) <= 0) this.report([...path, k], 'must be longer than 0s');
    switch (c.model) {
      case 'disconnect':
      case 'ipChange': {
        const everyMs = dur('every', 1000);
        return {
          kind: c.model === 'disconnect' ? 'disconnect' : 'ip-change',
          fraction: frac('agents', 0),
          everyMs,
          downMs: dur('down', c.model === 'disconnect' ? 1000 : 0),
          startMs: dur('start', everyMs),
          ...(c.times !== undefined ? { times: c.times } : {}),
        };
      }
      case 'storm':
        return { kind: 'storm', atMs: dur('at', 0), fraction: frac('agents', 1), downMs: dur('down', 0) };
      case 'flap':
        return { kind: 'flap', fraction: frac('agents', 0), periodMs: dur('period', 10_000), atMs: dur('at', 0) };
      case 'scale':
        return { kind: 'scale', atMs: dur('at', 0), to: frac('to', 1) };
    }
  }

  private fraction(path: Path, v: number | string): number {
    const x = parseFraction(v);
    if (x > 1) this.report(path, `expected at most 100%, got ${JSON.stringify(v)}`);
    return x;
  }

  // ---- network -------------------------------------------------------------------------------

  private network(n: NetworkDocument, fleet: FleetSpec): NetworkLinkSpec[] {
    const out: NetworkLinkSpec[] = [];
    const names = new Set<string>();
    for (const [i, l] of n.links.entries()) {
      const path: Path = ['network', 'links', i];
      if (names.has(l.name)) this.report([...path, 'name'], `link ${JSON.stringify(l.name)} is defined twice`);
      names.add(l.name);
      const select: NetworkLinkSpec['select'] = {};
      if (l.select.group === undefined && l.select.locality === undefined) this.report([...path, 'select'], 'give group, locality or both', 'error', 'key');
      if (l.select.group !== undefined) {
        const [ns, name] = splitRef(l.select.group);
        select.group = `${ns}/${name}`;
        if (!fleet.agents.some((a) => `${a.namespace}/${a.group}` === select.group)) {
          const known = [...new Set(fleet.agents.map((a) => `${a.namespace}/${a.group}`))];
          this.report([...path, 'select', 'group'], `no agents of group ${select.group} in the fleet${suggestion(select.group, known) || ` (groups: ${known.join(', ')})`}`);
        }
      }
      if (l.select.locality !== undefined) {
        this.locality([...path, 'select', 'locality'], l.select.locality);
        select.locality = l.select.locality;
      }
      const base: Partial<DirectionShape> = this.shapeOf(l, path);
      const shape: LinkShape = {
        toServer: { ...NO_SHAPE, ...base, ...(l.toServer ? this.shapeOf(l.toServer, [...path, 'toServer']) : {}) },
        toAgents: { ...NO_SHAPE, ...base, ...(l.toAgents ? this.shapeOf(l.toAgents, [...path, 'toAgents']) : {}) },
      };
      out.push({ name: l.name, select, shape, line: this.line(path) });
    }
    // An agent goes through one link at most: overlapping selections are refused, not resolved by order.
    const matches = (link: NetworkLinkSpec, group: string, locality: string) =>
      (link.select.group !== undefined || link.select.locality !== undefined) &&
      (!link.select.group || link.select.group === group) &&
      (!link.select.locality || localityMatches(parseLocality(locality), link.select.locality));
    const reported = new Set<string>();
    const used = new Set<number>();
    for (const set of fleet.agents) {
      const group = `${set.namespace}/${set.group}`;
      const localities = set.localities.length ? set.localities.filter(([, w]) => w > 0).map(([l]) => l) : [''];
      for (const loc of localities) {
        const hit = out.map((link, i) => [link, i] as const).filter(([link]) => matches(link, group, loc));
        hit.forEach(([, i]) => used.add(i));
        if (hit.length < 2) continue;
        const key = hit.map(([, i]) => i).join(',');
        if (reported.has(key)) continue;
        reported.add(key);
        this.report(
          ['network', 'links', hit[1]![1], 'select'],
          `agents of ${group}${loc ? ` in ${loc}` : ''} match links ${hit.map(([h]) => JSON.stringify(h.name)).join(' and ')}; an agent goes through one link at most`,
        );
      }
    }
    out.forEach((l, i) => {
      const empty = l.select.group === undefined && l.select.locality === undefined;
      if (!used.has(i) && !empty) this.report(['network', 'links', i, 'select'], `selects no agent of the fleet`, 'warning', 'key');
    });
    return out;
  }

  private shapeOf(d: { delay?: string; jitter?: string; loss?: number | string; rate?: string }, path: Path): Partial<DirectionShape> {
    const out: Partial<DirectionShape> = {};
    if (d.delay !== undefined) out.delayMs = parseDuration(d.delay);
    if (d.jitter !== undefined) out.jitterMs = parseDuration(d.jitter);
    if (d.loss !== undefined) {
      out.loss = this.fraction([...path, 'loss'], d.loss);
      // A link losing everything would never deliver; stalls make anything near it pointless too.
      if (out.loss > 0.5) this.report([...path, 'loss'], `expected at most 50% (each loss stalls the stream one retransmission timeout), got ${JSON.stringify(d.loss)}`);
    }
    if (d.rate !== undefined) {
      out.rateBps = parseBitRate(d.rate);
      if (out.rateBps < 8000) this.report([...path, 'rate'], `expected at least 8kbit, got ${JSON.stringify(d.rate)}`);
    }
    return out;
  }

  // ---- timeline ------------------------------------------------------------------------------

  private async timeline(fleet: FleetSpec, links: NetworkLinkSpec[] | undefined): Promise<TimelineEvent[]> {
    const out: TimelineEvent[] = [];
    const entries = this.doc.timeline ?? [];
    for (const [i, e] of entries.entries()) {
      const path: Path = ['timeline', i];
      const actions = TIMELINE_ACTIONS.filter((a) => e[a] !== undefined);
      if (actions.length !== 1) {
        this.report(
          path,
          actions.length === 0 ? `no action: give one of ${TIMELINE_ACTIONS.join(', ')}` : `one action per entry, got ${actions.join(' and ')}`,
        );
        continue;
      }
      const atMs = parseDuration(e.at);
      if (atMs >= fleet.durationMs) this.report([...path, 'at'], `is not before the end of the run (fleet duration ${formatDuration(fleet.durationMs)})`);
      const action = await this.action(e, actions[0]!, path);
      if (action) out.push({ atMs, action, label: e.note ?? describeAction(action), line: this.line(path), index: i });
      if (action?.kind === 'partition') {
        const p: Path = [...path, 'partition'];
        if (!links?.some((l) => l.name === action.link)) {
          const known = links?.map((l) => l.name) ?? [];
          this.report([...p, 'link'], `no link ${JSON.stringify(action.link)} under network.links${suggestion(action.link, known) || (known.length ? ` (links: ${known.join(', ')})` : ' (declare one there)')}`);
        }
        if (action.forMs <= 0) this.report([...p, 'for'], 'must be longer than 0s');
        const healMs = atMs + action.forMs;
        if (healMs >= fleet.durationMs) this.report([...p, 'for'], `heals at ${formatDuration(healMs)}, not before the end of the run (fleet duration ${formatDuration(fleet.durationMs)})`);
        const heal: TimelineAction = { kind: 'heal', link: action.link, partitionedAtMs: atMs };
        out.push({ atMs: healMs, action: heal, label: describeAction(heal), line: this.line(path), index: i });
      }
    }
    // Two partitions of one link must not overlap: the first heal would end the second.
    const byLink = new Map<string, TimelineEvent[]>();
    for (const t of out) if (t.action.kind === 'partition') byLink.set(t.action.link, [...(byLink.get(t.action.link) ?? []), t]);
    for (const list of byLink.values()) {
      list.sort((a, b) => a.atMs - b.atMs);
      for (let k = 1; k < list.length; k++) {
        const prev = list[k - 1]!;
        const end = prev.atMs + (prev.action as { forMs: number }).forMs;
        if (list[k]!.atMs < end)
          this.report(['timeline', list[k]!.index, 'partition'], `overlaps the partition of link ${(prev.action as { link: string }).link} at ${formatDuration(prev.atMs)} (healed at ${formatDuration(end)})`, 'error', 'key');
      }
    }
    // Stable: entries at the same time run in file order.
    return out.map((e, i) => [e, i] as const).sort(([a, i], [b, j]) => a.atMs - b.atMs || i - j).map(([e]) => e);
  }

  private async action(e: TimelineEntryDocument, kind: (typeof TIMELINE_ACTIONS)[number], path: Path): Promise<TimelineAction | undefined> {
    switch (kind) {
      case 'apply': {
        const count = Array.isArray(e.apply) ? e.apply.length : 1;
        const r = parseObjectsAt(this.ctx, e.apply, [...path, 'apply']);
        this.diagnostics.push(...r.diagnostics);
        if (r.resources.length === 0 && !r.diagnostics.some((d) => d.severity === 'error')) this.report([...path, 'apply'], `nothing xdsim reads in ${count} object(s)`, 'warning');
        return { kind: 'apply', resources: r.resources, source: `${r.resources.length} inline object(s)` };
      }
      case 'applyFile': {
        const p = this.resolve(e.applyFile!);
        let text: string;
        try {
          text = await readFile(p, 'utf8');
        } catch {
          this.report([...path, 'applyFile'], `cannot read ${JSON.stringify(p)}: no such file`);
          return undefined;
        }
        const r = parseManifests(text, p);
        this.diagnostics.push(...r.diagnostics);
        return { kind: 'apply', resources: r.resources, source: p };
      }
      case 'delete': {
        const refs = Array.isArray(e.delete) ? e.delete : [e.delete!];
        const keys = refs.map((ref) => {
          const parts = ref.split('/');
          // Kind/name for cluster-scoped kinds, Kind/namespace/name otherwise.
          return parts.length === 2 ? `${parts[0]}//${parts[1]}` : ref;
        });
        return { kind: 'delete', keys };
      }
      case 'partition': {
        const p = e.partition!;
        return { kind: 'partition', link: p.link, direction: p.direction ?? 'both', forMs: parseDuration(p.for) };
      }
      default: {
        const sel = e[kind]!;
        const selector: AgentSelector = {};
        if (typeof sel.agents === 'number') selector.count = sel.agents;
        else if (typeof sel.agents === 'string') selector.fraction = this.fraction([...path, kind, 'agents'], sel.agents);
        if (sel.group) {
          const [ns, name] = splitRef(sel.group);
          selector.group = `${ns}/${name}`;
        }
        if (sel.spread !== undefined) {
          if (kind === 'reconnect') selector.spreadMs = parseDuration(sel.spread);
          else this.report([...path, kind, 'spread'], `only used by reconnect, ignored for ${kind}`, 'warning', 'key');
        }
        if (sel.locality !== undefined) {
          this.locality([...path, kind, 'locality'], sel.locality);
          selector.locality = sel.locality;
          // The fleet scales and storms a set as a whole; health can be set per entry.
          if (kind === 'drop' || kind === 'reconnect')
            this.report([...path, kind, 'locality'], `${kind} picks agents across a whole group; select by group, or use unhealthy/healthy for a locality`, 'error', 'key');
        }
        return { kind, selector };
      }
    }
  }

  // ---- expectations --------------------------------------------------------------------------

  private expectations(fleet: FleetSpec): Expectation[] {
    const out: Expectation[] = [];
    for (const [i, e] of (this.doc.expectations ?? []).entries()) {
      const path: Path = ['expectations', i];
      const kinds = EXPECTATION_KINDS.filter((k) => e[k] !== undefined);
      if (kinds.length !== 1) {
        this.report(
          path,
          kinds.length === 0 ? `nothing to check: give one of ${EXPECTATION_KINDS.join(', ')}` : `one check per entry, got ${kinds.join(' and ')}`,
        );
        continue;
      }
      const spec = this.expectation(e, kinds[0]!, path, fleet);
      if (!spec) continue;
      const x: Expectation = { name: e.name ?? defaultName(spec), spec, line: this.line(path), index: i };
      if (e.onlyAgainst !== undefined) x.onlyAgainst = e.onlyAgainst;
      if (e.at !== undefined) {
        x.atMs = parseDuration(e.at);
        if (x.atMs > fleet.durationMs) this.report([...path, 'at'], `is after the fleet stops (duration ${formatDuration(fleet.durationMs)})`);
        if (spec.kind === 'leakedEntries' || spec.kind === 'convergence' || spec.kind === 'nacks' || spec.kind === 'errors')
          this.report([...path, 'at'], `${spec.kind} is checked over the whole run; "at" does not apply`, 'error', 'key');
      }
      out.push(x);
    }
    const names = new Map<string, number>();
    for (const x of out) names.set(x.name, (names.get(x.name) ?? 0) + 1);
    // Duplicate names would make report lines ambiguous: number them.
    const seen = new Map<string, number>();
    for (const x of out) {
      if ((names.get(x.name) ?? 0) < 2) continue;
      const k = (seen.get(x.name) ?? 0) + 1;
      seen.set(x.name, k);
      x.name = `${x.name} #${k}`;
    }
    return out;
  }

  private bounds(path: Path, v: number | 'all' | { min?: number; max?: number }, all: number): { min?: number; max?: number } {
    if (v === 'all') return { min: all };
    if (typeof v === 'number') return { min: v };
    if (v.min === undefined && v.max === undefined) this.report(path, 'give min, max or both', 'error', 'key');
    if (v.min !== undefined && v.max !== undefined && v.min > v.max) this.report([...path, 'min'], `is above max (${v.max})`);
    const out: { min?: number; max?: number } = {};
    if (v.min !== undefined) out.min = v.min;
    if (v.max !== undefined) out.max = v.max;
    return out;
  }

  private expectation(e: ExpectationDocument, kind: (typeof EXPECTATION_KINDS)[number], path: Path, fleet: FleetSpec): ExpectationSpec | undefined {
    const all = totalAgents(fleet);
    switch (kind) {
      case 'lbShares': {
        const l = e.lbShares!;
        const p: Path = [...path, 'lbShares'];
        this.locality([...p, 'proxy', 'locality'], l.proxy.locality);
        const localities = Object.entries(l.localities ?? {}).map(([k, v]) => {
          this.locality([...p, 'localities', k], k);
          return [k, this.fraction([...p, 'localities', k], v)] as [string, number];
        });
        const priorities = Object.entries(l.priorities ?? {}).map(([k, v]) => [Number(k), this.fraction([...p, 'priorities', k], v)] as [number, number]);
        if (localities.length === 0 && priorities.length === 0) this.report(p, 'give the expected shares: localities, priorities or both', 'error', 'key');
        const sum = localities.reduce((s, [, v]) => s + v, 0);
        const tolerance = l.tolerance !== undefined ? this.fraction([...p, 'tolerance'], l.tolerance) : 0.01;
        if (sum > 1 + tolerance) this.report([...p, 'localities'], `expected shares add up to ${formatPercent(sum)}, more than 100%`, 'warning', 'key');
        for (const [j, f] of (l.failing ?? []).entries()) {
          if (!/^(\[[0-9a-fA-F:.]+\]|[^:\s]+|[0-9a-fA-F:.]+):\d+$/.test(f)) this.report([...p, 'failing', j], `expected ip:port, got ${JSON.stringify(f)}`);
        }
        return {
          kind: 'lbShares',
          cluster: l.cluster,
          proxy: { locality: l.proxy.locality, network: l.proxy.network ?? '', labels: l.proxy.labels ?? {} },
          client: l.client ?? 'envoy',
          localities,
          priorities,
          tolerance,
          failing: l.failing ?? [],
        };
      }
      case 'convergence': {
        const { from, until, side, ...bounds } = e.convergence!;
        if (Object.keys(bounds).length === 0) this.report([...path, 'convergence'], 'give at least one of p50Ms, p90Ms, p99Ms, maxMs', 'error', 'key');
        const out: ExpectationSpec = { kind: 'convergence', bounds };
        if (from !== undefined) out.fromMs = parseDuration(from);
        if (until !== undefined) out.untilMs = parseDuration(until);
        if (side !== undefined) out.side = side;
        if (out.fromMs !== undefined && out.fromMs >= fleet.durationMs) this.report([...path, 'convergence', 'from'], `is not before the end of the run (fleet duration ${formatDuration(fleet.durationMs)})`);
        if (out.fromMs !== undefined && out.untilMs !== undefined && out.fromMs >= out.untilMs) this.report([...path, 'convergence', 'until'], 'must come after from');
        return out;
      }
      case 'registered':
      case 'connected':
        return { kind, ...this.bounds([...path, kind], e[kind]!, all) };
      case 'endpoints': {
        const x = e.endpoints!;
        const out: ExpectationSpec = { kind: 'endpoints', cluster: x.cluster };
        if (x.equals !== undefined) {
          if (x.min !== undefined || x.max !== undefined) this.report([...path, 'endpoints', 'equals'], 'give equals, or min/max, not both', 'error', 'key');
          out.min = out.max = x.equals;
        } else Object.assign(out, this.bounds([...path, 'endpoints'], { ...(x.min !== undefined && { min: x.min }), ...(x.max !== undefined && { max: x.max }) }, all));
        return out;
      }
      case 'nacks':
      case 'errors':
      case 'leakedEntries':
        return { kind, max: e[kind]! };
    }
  }

  // ---- across sections -----------------------------------------------------------------------

  private crossCheck(initial: LoadedResource[], timeline: TimelineEvent[], fleet: FleetSpec, expectations: Expectation[]): void {
    // Everything that ever exists during the run: the initial mesh plus every timeline apply.
    const ever: Resource[] = [...initial.map((l) => l.resource)];
    for (const t of timeline) if (t.action.kind === 'apply') ever.push(...t.action.resources.map((l) => l.resource));
    const groups = new Set(ever.filter((r): r is WorkloadGroup => r.kind === 'WorkloadGroup').map((g) => `${g.metadata.namespace}/${g.metadata.name}`));
    fleet.agents.forEach((a, i) => {
      const ref = `${a.namespace}/${a.group}`;
      if (!groups.has(ref)) {
        const known = [...groups];
        this.report(
          ['fleet', 'agents', i, 'group'],
          `no WorkloadGroup ${ref} in the mesh or the timeline${suggestion(ref, known) || (known.length ? ` (groups: ${known.join(', ')})` : ' (define one under workloadGroups)')}`,
        );
      }
    });
    for (const t of timeline) {
      const g = 'selector' in t.action ? t.action.selector.group : undefined;
      if (g && !fleet.agents.some((a) => `${a.namespace}/${a.group}` === g)) this.report(['timeline', t.index, t.action.kind, 'group'], `no agents of group ${g} in the fleet`);
    }
    const clusterChecks = expectations.filter((x) => x.spec.kind === 'lbShares' || x.spec.kind === 'endpoints');
    if (clusterChecks.length === 0 && !fleet.clusters) return;
    const store = new ConfigStore();
    // Later definitions win, as they would during the run.
    const byKey = new Map<string, Resource>();
    for (const r of ever) byKey.set(keyOf(r), r);
    store.commit([...byKey.values()].map((resource) => ({ op: 'apply' as const, resource })));
    const registry = new Registry(store);
    const known = registry.clusterNames();
    registry.close();
    const hint = (cluster: string) =>
      suggestion(cluster, known) || (known.length ? `; known clusters: ${known.slice(0, 8).join(', ')}${known.length > 8 ? `, ... (${known.length - 8} more)` : ''}` : '; the mesh defines no clusters');
    for (const x of clusterChecks) {
      const cluster = (x.spec as { cluster: string }).cluster;
      if (!known.includes(cluster)) this.report(['expectations', x.index, x.spec.kind, 'cluster'], `unknown cluster ${JSON.stringify(cluster)}${hint(cluster)}`);
    }
    (fleet.clusters ?? []).forEach((cluster, i) => {
      if (!known.includes(cluster)) this.report(['fleet', 'subscribe', 'clusters', i], `unknown cluster ${JSON.stringify(cluster)}${hint(cluster)}`);
    });
  }
}

function selectorText(s: AgentSelector): string {
  const who = s.count !== undefined ? `${s.count} agent(s)` : s.fraction !== undefined ? `${formatPercent(s.fraction, 0)} of agents` : 'all agents';
  return [who, s.group && `of ${s.group}`, s.locality && `in ${s.locality}`].filter(Boolean).join(' ');
}

export function describeAction(a: TimelineAction): string {
  switch (a.kind) {
    case 'apply':
      return `apply ${a.resources.map((l) => `${l.resource.kind}/${l.resource.metadata.name}`).slice(0, 3).join(', ')}${a.resources.length > 3 ? ` +${a.resources.length - 3}` : ''}`;
    case 'delete':
      return `delete ${a.keys.join(', ')}`;
    case 'drop':
      return `drop ${selectorText(a.selector)}`;
    case 'unhealthy':
      return `mark ${selectorText(a.selector)} unhealthy`;
    case 'healthy':
      return `mark ${selectorText(a.selector)} healthy`;
    case 'restore':
      return `restore ${selectorText(a.selector)}`;
    case 'reconnect':
      return `reconnect ${selectorText(a.selector)}${a.selector.spreadMs ? ` over ~${formatDuration(a.selector.spreadMs)}` : ' at once'}`;
    case 'partition':
      return `partition link ${a.link} (${a.direction === 'both' ? 'both directions' : a.direction}) for ${formatDuration(a.forMs)}`;
    case 'heal':
      return `heal link ${a.link} (partitioned at ${formatDuration(a.partitionedAtMs)})`;
  }
}

function bound(min?: number, max?: number): string {
  if (min !== undefined && max !== undefined) return min === max ? `= ${min}` : `${min}..${max}`;
  return min !== undefined ? `>= ${min}` : `<= ${max}`;
}

export function defaultName(s: ExpectationSpec): string {
  switch (s.kind) {
    case 'lbShares': {
      const want = [
        ...s.localities.map(([l, v]) => `${l} ${formatPercent(v, 0)}`),
        ...s.priorities.map(([p, v]) => `P${p} ${formatPercent(v, 0)}`),
      ].join(', ');
      return `${s.client} at ${s.proxy.locality || '(no locality)'} -> ${s.cluster}: ${want}`;
    }
    case 'convergence': {
      const window = s.fromMs !== undefined || s.untilMs !== undefined ? ` (pushes ${s.fromMs !== undefined ? `from ${formatDuration(s.fromMs)}` : ''}${s.fromMs !== undefined && s.untilMs !== undefined ? ' ' : ''}${s.untilMs !== undefined ? `until ${formatDuration(s.untilMs)}` : ''})` : '';
      return `${s.side ? `${s.side}-side ` : ''}convergence ${Object.entries(s.bounds).map(([k, v]) => `${k.replace('Ms', '')} <= ${v}ms`).join(', ')}${window}`;
    }
    case 'registered':
    case 'connected':
      return `${s.kind} ${bound(s.min, s.max)}`;
    case 'endpoints':
      return `endpoints of ${s.cluster} ${bound(s.min, s.max)}`;
    case 'nacks':
    case 'errors':
      return `${s.kind} <= ${s.max}`;
    case 'leakedEntries':
      return `leaked entries <= ${s.max}`;
  }
}
