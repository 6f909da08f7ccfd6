// The workload-entry controller the xDS server talks to: auto-registration plus health.
import type { ConfigStore } from '../config/store.js';
import { AutoRegistrationController, type AutoRegistrationOptions } from './autoregistration.js';
import type { ConnectedProxy, HealthReport, ProxyLifecycle } from './connected-proxy.js';
import { HealthController } from './health.js';
import { StoreWriter } from './store-writer.js';
import type { RegistrationRefusal } from './validation.js';

export class WorkloadEntryController implements ProxyLifecycle {
  readonly autoRegistration: AutoRegistrationController;
  readonly health: HealthController;
  private readonly writer: StoreWriter;

  constructor(store: ConfigStore, options: AutoRegistrationOptions = {}) {
    this.writer = new StoreWriter(store);
    this.autoRegistration = new AutoRegistrationController(store, this.writer, options);
    this.health = new HealthController(this.writer, (p) => this.autoRegistration.entryKeyOf(p), options.now);
  }

  /** A refusal when the proxy asked for auto-registration with invalid metadata (nothing registered). */
  onConnect(p: ConnectedProxy): RegistrationRefusal | undefined {
    return this.autoRegistration.onConnect(p);
  }

  onDisconnect(p: ConnectedProxy): void {
    this.autoRegistration.onDisconnect(p);
  }

  onHealth(p: ConnectedProxy, report: HealthReport): void {
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
