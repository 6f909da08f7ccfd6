// Process wiring: config store -> registry -> EDS cache -> xDS resource cache -> xDS server with
// its push engine, plus the admin HTTP server. Used by `xdsim serve`, tests, scenarios, benches.
import type { Logger } from 'pino';
import { formatDiagnostic, hasErrors } from '../config/diagnostics.js';
import { applyLoaded, loadConfigPaths } from '../config/load.js';
import type { LocalityLbSetting, Resource } from '../config/resources.js';
import { ConfigStore } from '../config/store.js';
import { EdsCache } from '../eds/eds-cache.js';
import { Registry } from '../model/registry.js';
import { startAdmin, type AdminLimits, type AdminServer } from '../admin/server.js';
import { XdsCache } from '../xds/cache/xds-cache.js';
import type { StreamLimits } from '../xds/stream/connection.js';
import type { DebounceOptions } from '../xds/push/debounce.js';
import type { ConnectionHooks, StreamRefusal } from '../xds/hooks.js';
import { XdsMetrics } from '../xds/metrics/xds-metrics.js';
import { LogLimiter } from '../xds/stream/log-limiter.js';
import { XdsServer, type ServerLimits } from '../xds/server.js';
import { createLogger } from './logger.js';
import { hostname } from 'node:os';
import { StateJournal } from '../persist/journal.js';
import { loadMeshNetworksFile, type MeshNetworks } from '../model/mesh-networks.js';
import { watchNetworkGateways } from '../model/service-gateways.js';
import { WorkloadEntryController } from '../registration/controller.js';
import { registrationHooks } from '../registration/xds-hooks.js';
import { validateIdentityFromEnv } from '../registration/identity.js';
import { TokenAuthenticator, type TokenAuthOptions } from '../security/token-authenticator.js';
import { serverCredentials, type ServerTlsOptions } from '../security/tls.js';

export interface ControlPlaneOptions {
  /** Files or directories of manifests loaded before serving; any error fails the start. */
  configPaths?: readonly string[];
  /** Resources applied before serving (after configPaths). */
  resources?: readonly Resource[];
  /** Default 127.0.0.1:15010; use port 0 for any free port. */
  xdsAddress?: string;
  /** Default 127.0.0.1:15014; null: no admin server. */
  adminAddress?: string | null;
  debounce?: Partial<DebounceOptions>;
  /** Per-stream limits (request size and rate, names, stall timeout). */
  limits?: Partial<StreamLimits>;
  /** Server-wide limits (connections, streams per connection, keepalive, registrations per source). */
  serverLimits?: Partial<ServerLimits>;
  /** Admin HTTP limits (body size, YAML shape). */
  adminLimits?: Partial<AdminLimits>;
  /**
   * PILOT_SEND_UNHEALTHY_ENDPOINTS (default false): every sidecar cluster's panic threshold is 0,
   * outlier detection's minHealthPercent notwithstanding. EDS is the same either way: like istiod,
   * xdsim never sends a WorkloadEntry that is not Healthy.
   */
  sendUnhealthyEndpoints?: boolean;
  /**
   * PILOT_AUTO_SEND_UNHEALTHY_ENDPOINTS (default true): a sidecar cluster whose outlier detection
   * sets no panic threshold gets 0 (panic mode off); false leaves it to Envoy's 50%.
   */
  autoSendUnhealthyEndpoints?: boolean;
  meshLocalityLb?: LocalityLbSetting;
  /** istiod's meshNetworks: its gateways turn split-horizon EDS on (src/eds/network-filter.ts). */
  meshNetworks?: MeshNetworks;
  /** A meshNetworks file, loaded like configPaths (errors fail the start); meshNetworks wins if both are given. */
  meshNetworksFile?: string;
  hooks?: ConnectionHooks;
  logger?: Logger;
  logLevel?: string;
  /** Node's default process metrics on /metrics (default true). */
  processMetrics?: boolean;
  pushTrackTimeoutMs?: number;
  /** Auto-registration and health over xDS (SPEC §6, §7); default on. */
  registration?: boolean;
  /** PILOT_WORKLOAD_ENTRY_GRACE_PERIOD (default 10 s). */
  gracePeriodMs?: number;
  /** Deletions of entries past the grace period per second (istiod's fixed 20, the default). */
  cleanupPerSecond?: number;
  /**
   * ISTIO_WORKLOAD_ENTRY_VALIDATE_IDENTITY: auto-registration and health checks need a verified
   * identity (a bearer token, `tokenAuth`) that may own the entry. Default: the environment
   * variable, else true, as in istiod. On without `tokenAuth`, every registration is refused.
   */
  validateIdentity?: boolean;
  /** Durable state: applied config and registered entries survive restarts. */
  stateDir?: string;
  /** xDS over TLS (mTLS with clientCaFile). */
  tls?: ServerTlsOptions;
  /** Bearer-token (JWT) authentication on xDS. */
  tokenAuth?: TokenAuthOptions;
  /** Bearer token required by the admin API's write endpoints. */
  adminToken?: string;
}

export interface ControlPlane {
  readonly xdsPort: number;
  /** 0 when there is no admin server. */
  readonly adminPort: number;
  readonly store: ConfigStore;
  readonly registry: Registry;
  readonly eds: EdsCache;
  readonly cache: XdsCache;
  readonly xds: XdsServer;
  readonly metrics: XdsMetrics;
  readonly log: Logger;
  /** The workload-entry controller, when registration is on. */
  readonly workloadEntries: WorkloadEntryController | undefined;
  close(): Promise<void>;
}

export class ConfigLoadError extends Error {
  constructor(readonly messages: string[]) {
    super(`configuration has errors:\n${messages.join('\n')}`);
  }
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const log = opts.logger ?? createLogger(opts.logLevel);
  const store = new ConfigStore();
  let journal: StateJournal | undefined;
  if (opts.stateDir) {
    const r = StateJournal.attach(store, opts.stateDir);
    journal = r.journal;
    log.info({ stateDir: opts.stateDir, resources: r.restored.resources.length, replayed: r.restored.replayed, tornTail: r.restored.tornTail }, 'state restored');
  }
  if (opts.configPaths?.length) {
    const loaded = await loadConfigPaths(opts.configPaths);
    for (const d of loaded.diagnostics) if (d.severity !== 'error') log.warn(formatDiagnostic(d));
    if (hasErrors(loaded.diagnostics)) {
      throw new ConfigLoadError(loaded.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic));
    }
    applyLoaded(store, loaded);
    log.info({ resources: loaded.resources.length }, 'configuration loaded');
  }
  if (opts.resources?.length) store.commit(opts.resources.map((resource) => ({ op: 'apply' as const, resource })));

  const registry = new Registry(store, opts.meshLocalityLb ? { meshLocalityLb: opts.meshLocalityLb } : {});
  const eds = new EdsCache(registry, { sendUnhealthy: opts.sendUnhealthyEndpoints === true, autoSendUnhealthy: opts.autoSendUnhealthyEndpoints !== false });
  let meshNetworks = opts.meshNetworks;
  if (meshNetworks === undefined && opts.meshNetworksFile !== undefined) {
    const loaded = await loadMeshNetworksFile(opts.meshNetworksFile);
    for (const d of loaded.diagnostics) if (d.severity !== 'error') log.warn(formatDiagnostic(d));
    if (hasErrors(loaded.diagnostics)) throw new ConfigLoadError(loaded.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic));
    meshNetworks = loaded.meshNetworks;
  }
  // meshNetworks' gateways and those of Services labeled with a network, kept current.
  const stopGatewayWatch = watchNetworkGateways(store, eds, meshNetworks);
  const cache = new XdsCache(registry, eds);
  const metrics = new XdsMetrics({ defaultMetrics: opts.processMetrics !== false });
  // Registration warnings are per connecting proxy (a node without INSTANCE_IPS, a missing
  // group): a fleet of misconfigured agents must not flood the log, so once per kind per minute.
  const registrationLog = new LogLimiter(log);
  const validateIdentity = opts.validateIdentity ?? validateIdentityFromEnv();
  if (opts.registration !== false && validateIdentity && !opts.tokenAuth) {
    log.warn('ISTIO_WORKLOAD_ENTRY_VALIDATE_IDENTITY is on and no token authentication is configured: every auto-registration and WORKLOAD_ENTRY health check will be refused ("registration of WorkloadEntry requires a verified identity")');
  }
  const workloadEntries =
    opts.registration === false
      ? undefined
      : new WorkloadEntryController(store, {
          ...(opts.gracePeriodMs !== undefined ? { gracePeriodMs: opts.gracePeriodMs } : {}),
          ...(opts.cleanupPerSecond !== undefined ? { cleanupPerSecond: opts.cleanupPerSecond } : {}),
          controllerId: `xdsim-${hostname()}-${process.pid}`,
          validateIdentity,
          log: (level, msg, fields) => (level === 'warn' ? registrationLog.warn(`registration: ${msg}`, clipFields(fields), msg) : log[level](fields ?? {}, msg)),
        });
  const hooks = combineHooks(workloadEntries ? registrationHooks(workloadEntries) : undefined, opts.hooks);
  const authenticator = opts.tokenAuth ? await TokenAuthenticator.fromOptions(opts.tokenAuth) : undefined;
  const xds = new XdsServer({
    cache,
    metrics,
    log,
    hooks,
    credentials: serverCredentials(opts.tls),
    ...(authenticator ? { authenticator } : {}),
    ...(opts.limits ? { limits: opts.limits } : {}),
    ...(opts.serverLimits ? { serverLimits: opts.serverLimits } : {}),
    ...(opts.debounce ? { debounce: opts.debounce } : {}),
    ...(opts.pushTrackTimeoutMs !== undefined ? { pushTrackTimeoutMs: opts.pushTrackTimeoutMs } : {}),
  });
  let ready = false;
  let admin: AdminServer | undefined;
  let xdsPort: number;
  try {
    xdsPort = await xds.listen(opts.xdsAddress ?? '127.0.0.1:15010');
    if (opts.adminAddress !== null) {
      admin = await startAdmin(opts.adminAddress ?? '127.0.0.1:15014', {
        store,
        xds,
        metrics,
        log,
        ready: () => ready,
        ...(opts.adminToken ? { token: opts.adminToken } : {}),
        ...(opts.adminLimits ? { limits: opts.adminLimits } : {}),
      });
    }
  } catch (err) {
    await xds.close(0);
    workloadEntries?.close();
    journal?.close();
    throw err;
  }
  ready = true;
  let closing: Promise<void> | undefined;
  return {
    xdsPort,
    adminPort: admin?.port ?? 0,
    store,
    registry,
    eds,
    cache,
    xds,
    metrics,
    log,
    workloadEntries,
    close() {
      closing ??= (async () => {
        ready = false;
        await xds.close();
        await admin?.close();
        // Pending registration writes land (and are journaled) before the journal closes.
        workloadEntries?.close();
        journal?.close();
        cache.close();
        stopGatewayWatch();
        eds.close();
        registry.close();
        metrics.close();
        log.info('control plane stopped');
      })();
      return closing;
    },
  };
}

/** Log fields with long strings cut: node ids and group names come from connecting proxies. */
function clipFields(fields: object | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields ?? {})) out[k] = typeof v === 'string' && v.length > 300 ? `${v.slice(0, 300)}...` : v;
  return out;
}

/** Calls each set of hooks in turn (registration first, then the caller's). */
function combineHooks(...all: (ConnectionHooks | undefined)[]): ConnectionHooks {
  const hs = all.filter((h): h is ConnectionHooks => !!h);
  const combined: ConnectionHooks = {
    // Every hook hears of every stream (so each gets its onDisconnect); the first refusal wins.
    onConnect: (c) => {
      let refusal: StreamRefusal | undefined;
      for (const h of hs) {
        const r = h.onConnect?.(c);
        if (r && !refusal) refusal = r;
      }
      return refusal;
    },
    onDisconnect: (c) => {
      for (const h of hs) h.onDisconnect?.(c);
    },
  };
  // Without any health handler the server counts reports as unexpected; keep that visible.
  if (hs.some((h) => h.onHealthReport)) {
    combined.onHealthReport = (c, r) => {
      for (const h of hs) h.onHealthReport?.(c, r);
    };
  }
  return combined;
}
