// The control plane a scenario runs against, as the runner sees it: where its xDS port is, what
// credentials agents and observers send it, how config reaches it (apply / delete), and a name
// for the report. Two kinds: a remote server at an address (any xDS
// server; config as YAML POSTed to an apply URL, as xdsim's admin API and the istiod peer take
// it) and the embedded xdsim (see runner.ts, which starts it).
import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import type { Resource } from '../config/resources.js';

/** A remote target, from `--target` flags or `controlPlane.target` in the scenario. */
export interface RemoteTargetSpec {
  /** xDS `host:port`. */
  address: string;
  /** POST YAML here to apply; deletes go to the same base with `/delete`. */
  applyUrl?: string;
  /** A bearer token (JWT) agents and observers send on every stream. */
  tokenFile?: string;
  /** For the report (default: the address). */
  name?: string;
}

export interface ControlPlaneTarget {
  readonly kind: 'embedded' | 'remote';
  /** For the report. */
  readonly name: string;
  /** xDS `host:port`. */
  readonly xds: string;
  /** The bearer token a proxy of (namespace, service account) sends, or undefined for none. */
  token(namespace: string, serviceAccount: string): Promise<string | undefined>;
  /** Applies resources in one request; resolves to a line for the timeline. */
  apply(resources: readonly Resource[]): Promise<string>;
  /** Deletes resources by key (`Kind/namespace/name`); resolves to a line and the keys not found. */
  delete(keys: readonly string[]): Promise<{ result: string; missing: string[] }>;
  close(): Promise<void>;
}

const API_VERSION: Record<string, string> = {
  Service: 'v1',
  Namespace: 'v1',
  ServiceAccount: 'v1',
  PeerAuthentication: 'security.istio.io/v1',
};

/** The `/delete` URL next to an apply URL (`.../apply` -> `.../delete`, else `<url>/delete`). */
export function deleteUrlOf(applyUrl: string): string {
  const u = new URL(applyUrl);
  u.pathname = /\/apply\/?$/.test(u.pathname) ? u.pathname.replace(/\/apply\/?$/, '/delete') : `${u.pathname.replace(/\/$/, '')}/delete`;
  return u.toString();
}

/** Multi-document YAML of resources. */
export function toYaml(resources: readonly object[]): string {
  return resources.map((r) => stringify(r)).join('---\n');
}

const REQUEST_TIMEOUT_MS = 30_000;

async function post(url: string, body: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/yaml' }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  return { status: res.status, text: await res.text() };
}

function json(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export class RemoteTarget implements ControlPlaneTarget {
  readonly kind = 'remote' as const;
  readonly name: string;
  readonly xds: string;
  private readonly bearer: string | undefined;

  constructor(private readonly spec: RemoteTargetSpec) {
    if (!/^[^:\s]+:\d+$/.test(spec.address) && !/^\[[0-9a-fA-F:]+\]:\d+$/.test(spec.address)) throw new Error(`target: expected host:port, got "${spec.address}"`);
    if (spec.applyUrl) new URL(spec.applyUrl);
    this.xds = spec.address;
    this.name = spec.name ?? spec.address;
    this.bearer = spec.tokenFile ? readFileSync(spec.tokenFile, 'utf8').trim() : undefined;
  }

  async token(): Promise<string | undefined> {
    return this.bearer;
  }

  private url(): string {
    if (!this.spec.applyUrl) throw new Error(`no apply URL for target ${this.name} (--apply-url): config steps cannot reach it`);
    return this.spec.applyUrl;
  }

  async apply(resources: readonly Resource[]): Promise<string> {
    if (resources.length === 0) return 'applied 0 resource(s)';
    const r = await post(this.url(), toYaml(resources));
    if (r.status >= 400) throw new Error(`apply: HTTP ${r.status}: ${r.text.trim().slice(0, 500)}`);
    const body = json(r.text);
    const applied = Array.isArray(body?.['applied']) ? (body['applied'] as unknown[]).length : undefined;
    return `applied ${resources.length} resource(s)${applied !== undefined ? `, ${applied} changed` : ''}`;
  }

  async delete(keys: readonly string[]): Promise<{ result: string; missing: string[] }> {
    const stubs = keys.map((k) => {
      const [kind = '', namespace = '', name = ''] = k.split('/');
      return { apiVersion: API_VERSION[kind] ?? 'networking.istio.io/v1', kind, metadata: { name, ...(namespace ? { namespace } : {}) } };
    });
    const r = await post(deleteUrlOf(this.url()), toYaml(stubs));
    if (r.status >= 400) throw new Error(`delete: HTTP ${r.status}: ${r.text.trim().slice(0, 500)}`);
    const body = json(r.text);
    const deleted = Array.isArray(body?.['deleted']) ? (body['deleted'] as unknown[]).length : undefined;
    const missing = Array.isArray(body?.['missing']) ? (body['missing'] as unknown[]).map(String) : [];
    return { result: `deleted ${deleted ?? keys.length}${missing.length ? `; not found: ${missing.join(', ')}` : ''}`, missing };
  }

  async close(): Promise<void> {}
}
