// Metrics named as istiod names them (SPEC §9), on a registry per control plane so several can
// live in one process (tests). Rejected input has its own counters, labelled by reason.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { stdioSinkTotals } from '../../server/log-sink.js';
import { FastCounter, FastHistogram } from './fast-metrics.js';

// istiod's convergence buckets, plus finer ones at the bottom: loopback pushes take milliseconds.
const CONVERGENCE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 3, 5, 10, 20, 30];
const PUSH_TIME_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.1, 1, 3, 5, 10, 20, 30];

export type RejectReason =
  | 'malformed'
  | 'oversized'
  | 'unknown_type'
  | 'missing_type_url'
  | 'rate_limited'
  | 'slow_client'
  | 'duplicate_nack'
  | 'health_without_hook'
  | 'unauthenticated'
  | 'identity_mismatch'
  | 'invalid_node_metadata'
  | 'too_many_names'
  | 'bad_encoding'
  | 'registration_rate_limited'
  | 'connection_limit'
  | 'too_many_pings'
  | 'unknown_method'
  | 'bad_content_type'
  | 'internal_error';

export class XdsMetrics {
  readonly registry = new Registry();
  readonly connections: Gauge;
  // Touched per stream per push: the cheap kind (see fast-metrics.ts).
  readonly pushes: FastCounter;
  readonly pushTime: FastHistogram;
  readonly proxyConvergence: FastHistogram;
  readonly pushConvergence: Histogram;
  readonly rejects: Record<'cds' | 'eds' | 'lds' | 'rds', FastCounter>;
  /** istiod's NACK counter by type; the per-type pilot_xds_*_reject above are its older names. */
  readonly totalRejects: FastCounter;
  readonly expiredNonce: Counter<'type'>;
  readonly rejectedRequests: Counter<'reason'>;
  readonly pushTriggers: Counter<'type'>;
  readonly debounceTime: Histogram;
  readonly sharedResponses: Counter<'outcome'>;
  readonly adminRejected: Counter<'reason'>;
  readonly configRejected: Counter<'endpoint'>;
  readonly http2Connections: Gauge;
  readonly registrationThrottle: Counter<'outcome'>;
  /** perf_hooks event-loop delay samples since the last scrape (storms show up here first). */
  readonly eventLoopDelay: IntervalHistogram;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const r = [this.registry];
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    this.connections = new Gauge({ name: 'pilot_xds', help: 'Number of endpoints connected to this pilot using XDS.', registers: r });
    this.pushes = new FastCounter({ name: 'pilot_xds_pushes', help: 'Pilot build and send errors for lds, rds, cds and eds.', labelName: 'type', registers: r });
    this.pushTime = new FastHistogram({
      name: 'pilot_xds_push_time',
      help: 'Total time in seconds Pilot takes to push lds, rds, cds and eds.',
      labelName: 'type',
      buckets: PUSH_TIME_BUCKETS,
      registers: r,
    });
    this.proxyConvergence = new FastHistogram({
      name: 'pilot_proxy_convergence_time',
      help: 'Delay in seconds between config change and a proxy receiving all required configuration.',
      buckets: CONVERGENCE_BUCKETS,
      registers: r,
    });
    this.pushConvergence = new Histogram({
      name: 'xdsim_push_convergence_seconds',
      help: 'Delay in seconds between a config change and the last affected stream ACKing or NACKing its push.',
      buckets: CONVERGENCE_BUCKETS,
      registers: r,
    });
    const reject = (t: string) =>
      new FastCounter({ name: `pilot_xds_${t}_reject`, help: `Pilot rejected ${t.toUpperCase()} configs (NACKs).`, registers: r });
    this.rejects = { cds: reject('cds'), eds: reject('eds'), lds: reject('lds'), rds: reject('rds') };
    this.totalRejects = new FastCounter({
      name: 'pilot_total_xds_rejects',
      help: 'Total number of XDS responses from pilot rejected by proxy.',
      labelName: 'type',
      registers: r,
    });
    this.expiredNonce = new Counter({ name: 'pilot_xds_expired_nonce', help: 'Total number of XDS requests with an expired nonce.', labelNames: ['type'], registers: r });
    this.rejectedRequests = new Counter({
      name: 'xdsim_xds_rejected_requests_total',
      help: 'xDS requests, streams or connections refused, by reason (malformed, oversized, unknown_type, rate_limited, slow_client, too_many_names, connection_limit, registration_rate_limited, too_many_pings, ...).',
      labelNames: ['reason'],
      registers: r,
    });
    this.pushTriggers = new Counter({ name: 'pilot_push_triggers', help: 'Total number of times a push was triggered, labeled by reason for the push.', labelNames: ['type'], registers: r });
    this.debounceTime = new Histogram({
      name: 'pilot_debounce_time',
      help: 'Delay in seconds between the first config enters debouncing and the merged push request is pushed into the push queue.',
      buckets: [0.01, 0.1, 0.5, 1, 3, 5, 10, 20, 30],
      registers: r,
    });
    this.sharedResponses = new Counter({
      name: 'xdsim_xds_response_encodings_total',
      help: 'Responses encoded (miss) or reused from an identical response already encoded (hit).',
      labelNames: ['outcome'],
      registers: r,
    });
    this.adminRejected = new Counter({ name: 'xdsim_admin_rejected_total', help: 'Admin HTTP requests refused.', labelNames: ['reason'], registers: r });
    this.configRejected = new Counter({
      name: 'xdsim_config_rejected_total',
      help: 'Config apply/delete requests rejected by validation.',
      labelNames: ['endpoint'],
      registers: r,
    });
    this.http2Connections = new Gauge({ name: 'xdsim_xds_http2_connections', help: 'HTTP/2 connections open on the xDS port (each may carry several streams).', registers: r });
    this.registrationThrottle = new Counter({
      name: 'xdsim_xds_registration_throttled_total',
      help: 'Auto-registering streams held by the per-source registration rate limit (delayed) or refused with UNAVAILABLE (refused).',
      labelNames: ['outcome'],
      registers: r,
    });
    new Counter({
      name: 'xdsim_log_lines_dropped_total',
      help: 'Log lines this process dropped because stdout/stderr could not take them (reader stalled: over 1 MiB queued; reader gone: EPIPE).',
      registers: r,
      collect() {
        this.reset();
        this.inc(stdioSinkTotals().dropped);
      },
    });
    const loop = (this.eventLoopDelay = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS }));
    loop.enable();
    new Gauge({
      name: 'xdsim_event_loop_delay_seconds',
      help:
        `Event-loop delay (perf_hooks monitorEventLoopDelay, beyond its ${EVENT_LOOP_RESOLUTION_MS} ms sampling interval) ` +
        'since the previous scrape; quantile 1 is the max. Every scrape starts a new window.',
      labelNames: ['quantile'],
      registers: r,
      collect() {
        // The monitor records whole intervals; subtract the interval so an idle loop reads ~0.
        const at = (ns: number) => (loop.count > 0 ? Math.max(0, ns / 1e9 - EVENT_LOOP_RESOLUTION_MS / 1000) : 0);
        this.set({ quantile: '0.5' }, at(loop.percentile(50)));
        this.set({ quantile: '0.99' }, at(loop.percentile(99)));
        this.set({ quantile: '1' }, at(loop.max));
        loop.reset();
      },
    });
  }

  /** Stops the event-loop monitor (the registry stays readable). */
  close(): void {
    this.eventLoopDelay.disable();
  }
}

const EVENT_LOOP_RESOLUTION_MS = 10;
