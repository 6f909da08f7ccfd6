// The default target: xdsim's own control plane in this process (loopback, any free port), with
// auto-registration and, as in istiod, identity validation with tokens it mints itself. Besides
// the ControlPlaneTarget interface it gives the runner what only an in-process server can: its
// store (registered entries, the timeline's health marks), its pushes and its metrics.
import type { Logger } from 'pino';
import { keyOf, type Resource } from '../config/resources.js';
import { ANNOTATION_AUTO_REGISTRATION_GROUP } from '../registration/annotations.js';
import { TokenIssuer } from '../security/token-issuer.js';
import { startControlPlane, type ControlPlane } from '../server/control-plane.js';
import type { ControlPlaneSettings } from './model.js';
import type { ControlPlaneTarget } from './target.js';

export class EmbeddedTarget implements ControlPlaneTarget {
  readonly kind = 'embedded' as const;
  readonly name = 'embedded xdsim';
  readonly xds: string;
  // Loopback plaintext; config goes straight into the store; its metrics are read in process.
  readonly transport = undefined;
  readonly configRoute = 'the embedded store';
  readonly metricsUrl = undefined;
  private readonly tokens = new Map<string, Promise<string>>();

  private constructor(
    readonly cp: ControlPlane,
    private readonly issuer: TokenIssuer | undefined,
  ) {
    this.xds = `127.0.0.1:${cp.xdsPort}`;
  }

  static async start(resources: readonly Resource[], c: ControlPlaneSettings, logger: Logger): Promise<EmbeddedTarget> {
    // Identity validation stays on, as in istiod: the embedded control plane signs the agents'
    // tokens with a key it makes now and verifies them itself.
    const issuer = c.validateIdentity ? TokenIssuer.generate() : undefined;
    const cp = await startControlPlane({
      resources: [...resources],
      xdsAddress: '127.0.0.1:0',
      adminAddress: null,
      debounce: { debounceAfterMs: c.debounceAfterMs, debounceMaxMs: c.debounceMaxMs, enableEdsDebounce: c.edsDebounce },
      sendUnhealthyEndpoints: c.sendUnhealthyEndpoints,
      autoSendUnhealthyEndpoints: c.autoSendUnhealthyEndpoints,
      // Auto-registration and health over xDS are the control plane's own (SPEC §6, §7).
      registration: true,
      gracePeriodMs: c.gracePeriodMs,
      // istiod's --keepaliveInterval / --keepaliveTimeout: how soon a connection cut off by a
      // partition is given up (the scenario's network block; src/network).
      ...(c.keepaliveTimeMs !== undefined || c.keepaliveTimeoutMs !== undefined
        ? { serverLimits: { ...(c.keepaliveTimeMs !== undefined ? { keepaliveTimeMs: c.keepaliveTimeMs } : {}), ...(c.keepaliveTimeoutMs !== undefined ? { keepaliveTimeoutMs: c.keepaliveTimeoutMs } : {}) } }
        : {}),
      ...(c.cleanupPerSecond !== undefined ? { cleanupPerSecond: c.cleanupPerSecond } : {}),
      validateIdentity: c.validateIdentity,
      ...(c.meshNetworks ? { meshNetworks: c.meshNetworks } : {}),
      ...(issuer ? { tokenAuth: issuer.authOptions() } : {}),
      logger,
      processMetrics: false,
    });
    return new EmbeddedTarget(cp, issuer);
  }

  token(namespace: string, serviceAccount: string): Promise<string | undefined> {
    if (!this.issuer) return Promise.resolve(undefined);
    const k = `${namespace}/${serviceAccount}`;
    let t = this.tokens.get(k);
    if (!t) this.tokens.set(k, (t = this.issuer.mint(namespace, serviceAccount)));
    return t;
  }

  async apply(resources: readonly Resource[]): Promise<string> {
    const events = this.cp.store.commit(resources.map((resource) => ({ op: 'apply' as const, resource })));
    return `applied ${resources.length} resource(s), ${events.length} changed`;
  }

  async delete(keys: readonly string[]): Promise<{ result: string; missing: string[] }> {
    const missing = keys.filter((k) => !this.cp.store.get(k));
    const events = this.cp.store.commit(keys.map((key) => ({ op: 'delete' as const, key })));
    return { result: `deleted ${events.length}${missing.length ? `; not found: ${missing.join(', ')}` : ''}`, missing };
  }

  async autoRegisteredEntries(): Promise<string[]> {
    // Pending controller writes first, so the answer is what the controller decided.
    this.cp.workloadEntries?.flush();
    return this.cp.store
      .list('WorkloadEntry')
      .filter((we) => we.metadata.annotations?.[ANNOTATION_AUTO_REGISTRATION_GROUP])
      .map((we) => keyOf(we))
      .sort();
  }

  close(): Promise<void> {
    return this.cp.close();
  }
}
