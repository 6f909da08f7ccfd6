// The control plane a scenario runs against, as the runner sees it: where its xDS port is, what
// credentials and transport security agents and observers use, how config reaches it (apply /
// delete), where its metrics and debug API are, and a name for the report. Two kinds: a remote
// server at an address (any xDS server; config POSTed to an apply URL or piped into a command,
// see config-sink.ts) and the embedded xdsim (embedded-target.ts).
import { readFileSync } from 'node:fs';
import type { Resource } from '../config/resources.js';
import { ANNOTATION_AUTO_REGISTRATION_GROUP } from '../registration/annotations.js';
import type { ClientTlsOptions } from '../security/tls.js';
import { CommandConfigSink, HttpConfigSink, runShell, type ConfigSink } from './config-sink.js';

export { deleteUrlOf, toYaml } from './config-sink.js';

/** A remote target, from `--target` flags or `controlPlane.target` in the scenario. */
export interface RemoteTargetSpec {
  /** xDS `host:port`. */
  address: string;
  /** POST YAML here to apply; deletes go to the same base with `/delete`. */
  applyUrl?: string;
  /** Or a shell command taking YAML on stdin (`kubectl apply -f -`); exclusive with applyUrl. */
  applyCommand?: string;
  /** With applyCommand: the delete command (`kubectl delete -f -`); without it deletes fail. */
  deleteCommand?: string;
  /** Per apply / delete command (default 60 s). */
  commandTimeoutMs?: number;
  /** A bearer token (JWT) agents and observers send on every stream. */
  tokenFile?: string;
  /**
   * Or a shell command printing the token of one service account, run once per (namespace,
   * service account) with $NAMESPACE and $SERVICE_ACCOUNT set, e.g.
   * `kubectl create token "$SERVICE_ACCOUNT" -n "$NAMESPACE" --audience istio-ca`: each agent
   * set then proves the identity its entries are validated against.
   */
  tokenCommand?: string;
  /** TLS to the xDS port (CA, client certificate for mTLS, server name); plaintext without. */
  tls?: ClientTlsOptions;
  /** The target's Prometheus metrics (istiod: http://<istiod>:15014/metrics). */
  metricsUrl?: string;
  /** Base of the target's debug API (istiod: http://<istiod>:15014), for its WorkloadEntries. */
  debugUrl?: string;
  /** For the report (default: the address). */
  name?: string;
}

export interface ControlPlaneTarget {
  readonly kind: 'embedded' | 'remote';
  /** For the report. */
  readonly name: string;
  /** xDS `host:port`. */
  readonly xds: string;
  /**
   * TLS for every xDS connection to the target (fleet config `tls`; observers'
   * channelCredentials(transport) + tlsChannelOptions(transport)); undefined: plaintext.
   */
  readonly transport: ClientTlsOptions | undefined;
  /** Where apply / delete go, for notes; undefined when config cannot reach the target. */
  readonly configRoute: string | undefined;
  /** The target's Prometheus metrics URL, when it has one to scrape (TargetMetrics). */
  readonly metricsUrl: string | undefined;
  /** The bearer token a proxy of (namespace, service account) sends, or undefined for none. */
  token(namespace: string, serviceAccount: string): Promise<string | undefined>;
  /** Applies resources in one request; resolves to a line for the timeline. */
  apply(resources: readonly Resource[]): Promise<string>;
  /** Deletes resources by key (`Kind/namespace/name`); resolves to a line and the keys not found. */
  delete(keys: readonly string[]): Promise<{ result: string; missing: string[] }>;
  /**
   * Keys (`WorkloadEntry/namespace/name`) of the auto-registered WorkloadEntries the target holds
   * now, or undefined when it cannot tell (no debug API). Rejects when the debug API fails.
   */
  autoRegisteredEntries(): Promise<string[] | undefined>;
  close(): Promise<void>;
}

/** What a config listing (/debug/configz, /workloadentries) holds of an object. */
interface ListedObject {
  kind?: string;
  metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> };
}

/** Auto-registered WorkloadEntry keys in a JSON list of config objects. */
export function autoRegisteredKeys(list: unknown): string[] {
  if (!Array.isArray(list)) throw new Error('expected a JSON list of config objects');
  const keys: string[] = [];
  for (const o of list as ListedObject[]) {
    if (o?.kind !== 'WorkloadEntry' || !o.metadata?.annotations?.[ANNOTATION_AUTO_REGISTRATION_GROUP]) continue;
    keys.push(`WorkloadEntry/${o.metadata.namespace ?? 'default'}/${o.metadata.name}`);
  }
  return keys.sort();
}

const DEBUG_TIMEOUT_MS = 30_000;

export class RemoteTarget implements ControlPlaneTarget {
  readonly kind = 'remote' as const;
  readonly name: string;
  readonly xds: string;
  readonly transport: ClientTlsOptions | undefined;
  readonly configRoute: string | undefined;
  readonly metricsUrl: string | undefined;
  private readonly bearer: string | undefined;
  private readonly sink: ConfigSink | undefined;

  constructor(private readonly spec: RemoteTargetSpec) {
    if (!/^[^:\s]+:\d+$/.test(spec.address) && !/^\[[0-9a-fA-F:]+\]:\d+$/.test(spec.address)) throw new Error(`target: expected host:port, got "${spec.address}"`);
    if (spec.applyUrl && spec.applyCommand) throw new Error('target: an apply URL or an apply command, not both');
    if (spec.deleteCommand && !spec.applyCommand) throw new Error('target: a delete command goes with an apply command');
    if (spec.tokenFile && spec.tokenCommand) throw new Error('target: a token file or a token command, not both');
    if (spec.tls && !!spec.tls.certFile !== !!spec.tls.keyFile) throw new Error('target: a TLS client certificate and key go together');
    for (const u of [spec.metricsUrl, spec.debugUrl]) if (u) new URL(u);
    this.xds = spec.address;
    this.name = spec.name ?? spec.address;
    this.bearer = spec.tokenFile ? readFileSync(spec.tokenFile, 'utf8').trim() : undefined;
    this.transport = spec.tls && (spec.tls.caFile || spec.tls.certFile) ? { ...spec.tls } : undefined;
    this.sink = spec.applyUrl
      ? new HttpConfigSink(spec.applyUrl)
      : spec.applyCommand
        ? new CommandConfigSink({ applyCommand: spec.applyCommand, ...(spec.deleteCommand ? { deleteCommand: spec.deleteCommand } : {}), ...(spec.commandTimeoutMs ? { timeoutMs: spec.commandTimeoutMs } : {}) })
        : undefined;
    this.configRoute = this.sink?.describe;
    this.metricsUrl = spec.metricsUrl;
  }

  private readonly tokens = new Map<string, Promise<string>>();

  token(namespace: string, serviceAccount: string): Promise<string | undefined> {
    const command = this.spec.tokenCommand;
    if (!command) return Promise.resolve(this.bearer);
    const k = `${namespace}/${serviceAccount}`;
    let t = this.tokens.get(k);
    if (!t) {
      t = runShell(command, '', this.spec.commandTimeoutMs ?? 60_000, 'token', { NAMESPACE: namespace, SERVICE_ACCOUNT: serviceAccount }).then((out) => {
        const token = out.trim();
        if (!token || /\s/.test(token)) throw new Error(`token command for ${k} printed ${token ? 'more than one token' : 'nothing'}`);
        return token;
      });
      this.tokens.set(k, t);
    }
    return t;
  }

  private configSink(): ConfigSink {
    if (!this.sink) throw new Error(`no apply URL or command for target ${this.name} (--apply-url, --apply-command): config steps cannot reach it`);
    return this.sink;
  }

  apply(resources: readonly Resource[]): Promise<string> {
    return this.configSink().apply(resources);
  }

  delete(keys: readonly string[]): Promise<{ result: string; missing: string[] }> {
    return this.configSink().delete(keys);
  }

  /**
   * No debug URL given but an apply URL: xdsim's admin API and the istiod peer serve their
   * listings beside /apply, so that origin is tried; if it has none, there is no debug API.
   */
  private guessedDebugBase: string | null | undefined;

  async autoRegisteredEntries(): Promise<string[] | undefined> {
    if (!this.spec.debugUrl) {
      if (!this.spec.applyUrl || this.guessedDebugBase === null) return undefined;
      const base = new URL(this.spec.applyUrl).origin;
      try {
        const keys = await this.listEntries(base);
        this.guessedDebugBase = base;
        return keys;
      } catch (err) {
        // Once it answered, a failure is the target's; before that, the guess was wrong.
        if (this.guessedDebugBase === base) throw err;
        this.guessedDebugBase = null;
        return undefined;
      }
    }
    return this.listEntries(this.spec.debugUrl.replace(/\/+$/, ''));
  }

  private async listEntries(base: string): Promise<string[]> {
    // istiod's own listing first (every config, annotations included); the istiod peer's
    // /workloadentries when a server has no configz.
    for (const path of ['/debug/configz', '/workloadentries']) {
      const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(DEBUG_TIMEOUT_MS) });
      if (res.status === 404) {
        await res.body?.cancel();
        continue;
      }
      const text = await res.text();
      if (!res.ok) throw new Error(`${base}${path}: HTTP ${res.status}: ${text.trim().slice(0, 200)}`);
      let list: unknown;
      try {
        list = JSON.parse(text);
      } catch {
        throw new Error(`${base}${path}: not JSON: ${text.trim().slice(0, 100)}`);
      }
      try {
        return autoRegisteredKeys(list);
      } catch (err) {
        throw new Error(`${base}${path}: ${(err as Error).message}`);
      }
    }
    throw new Error(`${base}: neither /debug/configz nor /workloadentries is served there`);
  }

  async close(): Promise<void> {}
}
