// Process wiring: config store -> registry -> EDS cache -> xDS resource cache -> xDS server with
// its push engine, plus the admin HTTP server. Used by `xdsim serve`, tests, scenarios, benches.
import type { Logger } from 'pino';
import { formatDiagnostic, hasErrors } from '../config/diagnostics.js';
import { applyLoaded, loadConfigPaths } from '../config/load.js';
import type { LocalityLbSetting, Resource } from '../config/resources.js';
import { ConfigStore } from '../config/store.js';
import { EdsCache } from '../eds/eds-cache.js';
import { Registry } from '../model/registry.js';
import { startAdmin, type AdminServer } from '../admin/server.js';
import { XdsCache } from '../xds/cache.js';
import type { StreamLimits } from '../xds/connection.js';
import type { DebounceOptions } from '../xds/debounce.js';
import type { ConnectionHooks } from '../xds/hooks.js';
import { XdsMetrics } from '../xds/metrics.js';
import { XdsServer } from '../xds/server.js';
import { createLogger } from './logger.js';

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
  limits?: Partial<StreamLimits>;
  /** PILOT_SEND_UNHEALTHY_ENDPOINTS. */
  sendUnhealthyEndpoints?: boolean;
  meshLocalityLb?: LocalityLbSetting;
  hooks?: ConnectionHooks;
  logger?: Logger;
  logLevel?: string;
  /** Node's default process metrics on /metrics (default true). */
  processMetrics?: boolean;
  pushTrackTimeoutMs?: number;
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
  const eds = new EdsCache(registry, { sendUnhealthy: opts.sendUnhealthyEndpoints === true });
  const cache = new XdsCache(registry, eds);
  const metrics = new XdsMetrics({ defaultMetrics: opts.processMetrics !== false });
  const xds = new XdsServer({
    cache,
    metrics,
    log,
    ...(opts.hooks ? { hooks: opts.hooks } : {}),
    ...(opts.limits ? { limits: opts.limits } : {}),
    ...(opts.debounce ? { debounce: opts.debounce } : {}),
    ...(opts.pushTrackTimeoutMs !== undefined ? { pushTrackTimeoutMs: opts.pushTrackTimeoutMs } : {}),
  });
  let ready = false;
  let admin: AdminServer | undefined;
  let xdsPort: number;
  try {
    xdsPort = await xds.listen(opts.xdsAddress ?? '127.0.0.1:15010');
    if (opts.adminAddress !== null) {
      admin = await startAdmin(opts.adminAddress ?? '127.0.0.1:15014', { store, xds, metrics, log, ready: () => ready });
    }
  } catch (err) {
    await xds.close(0);
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
    close() {
      closing ??= (async () => {
        ready = false;
        await xds.close();
        await admin?.close();
        cache.close();
        eds.close();
        registry.close();
        log.info('control plane stopped');
      })();
      return closing;
    },
  };
}
