// The workload-entry controller the xDS server talks to: auto-registration plus health.
import type { ConfigStore } from '../config/store.js';
import { AutoRegistrationController, type AutoRegistrationOptions } from './autoregistration.js';
import type { ConnectedProxy, HealthReport, ProxyLifecycle } from './connected-proxy.js';
import { HealthController } from './health.js';
import { StoreWriter } from './store-writer.js';
import { REFUSAL_LOG_MESSAGE, type RegistrationRefusal } from './validation.js';
import type { WorkloadEntry } from '../config/resources.js';
import { resourceKey } from '../config/resources.js';
import { ANNOTATION_HEALTH_CHECKS } from '../model/labels.js';
import { DEFAULT_VALIDATE_IDENTITY, identityRefusal } from './identity.js';

export class WorkloadEntryController implements ProxyLifecycle {
  readonly autoRegistration: AutoRegistrationController;
  readonly health: HealthController;
  private readonly writer: StoreWriter;
  /** Health-only proxies (WORKLOAD_ENTRY) refused at connect: their reports touch nothing. */
  private readonly refused = new WeakSet<ConnectedProxy>();
  private readonly validateIdentity: boolean;

  constructor(store: ConfigStore, private readonly options: AutoRegistrationOptions = {}) {
    this.validateIdentity = options.validateIdentity ?? DEFAULT_VALIDATE_IDENTITY;
    this.writer = new StoreWriter(store);
    this.writer.onRefused = (err) => options.log?.('warn', 'state dir refused the write; held and retried every second', { reason: err.message });
    this.autoRegistration = new AutoRegistrationController(store, this.writer, options);
    this.health = new HealthController(this.writer, (p) => this.autoRegistration.entryKeyOf(p), options.now);
  }

  /** A refusal when the proxy asked for auto-registration with invalid metadata (nothing registered). */
  onConnect(p: ConnectedProxy): RegistrationRefusal | undefined {
    if (p.group || p.metadata?.['AUTO_REGISTER_GROUP'] || !p.workloadEntry) return this.autoRegistration.onConnect(p);
    // istiod's OnConnect for WORKLOAD_ENTRY: an existing entry with the health-checks annotation
    // takes health reports only from a proxy that may control it (ensureProxyCanControlEntry).
    const entry = this.writer.get<WorkloadEntry>(resourceKey('WorkloadEntry', p.namespace, p.workloadEntry));
    if (!entry || entry.metadata.annotations?.[ANNOTATION_HEALTH_CHECKS] === undefined) return undefined;
    const refusal = identityRefusal(p, entry, this.validateIdentity);
    if (refusal) {
      this.refused.add(p);
      this.options.log?.('warn', REFUSAL_LOG_MESSAGE[refusal.kind], { node: p.nodeId, entry: `${p.namespace}/${p.workloadEntry}`, reason: refusal.message });
    }
    return refusal;
  }

  onDisconnect(p: ConnectedProxy): void {
    this.autoRegistration.onDisconnect(p);
  }

  onHealth(p: ConnectedProxy, report: HealthReport): void {
    if (this.refused.has(p)) return;
    this.health.onHealth(p, report);
  }

  /** Commits pending writes now (tests, shutdown). */
  flush(): void {
    this.writer.flush();
  }

  close(): void {
    this.autoRegistration.close();
    this.writer.close();
  }
}
