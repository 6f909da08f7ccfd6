// Per-thread fleet statistics: the AgentEvents sink every agent of a worker shares. Latencies go
// into HDR histograms, everything else is a counter; `snapshot()` is what a worker returns.
import type { AgentErrorKind, AgentEvents } from '../agent/events.js';
import { TYPE_URL } from '../proto/index.js';
import { encodeHistogram, newHistogram, recordMs, type Histogram } from './histogram.js';

export const LATENCY_METRICS = ['connect', 'edsVisible', 'push', 'healthConverged'] as const;
export type LatencyMetric = (typeof LATENCY_METRICS)[number];

export interface Counters {
  connects: number;
  disconnects: number;
  /** Own IP seen in EDS (a new identity after an IP change counts again). */
  registrations: number;
  responses: { cds: number; eds: number; other: number };
  acks: number;
  nacks: number;
  healthReports: { healthy: number; unhealthy: number };
  bytesReceived: number;
  errors: Record<AgentErrorKind, number>;
  /**
   * Of the errors, attempts that failed because a process was out of descriptors (EMFILE,
   * ENFILE): the fleet kept going, but the count was more than its open-files limit allows.
   */
  outOfDescriptors: number;
  churn: { disconnect: number; ipChange: number; scaleDown: number; scaleUp: number; flap: number; storm: number };
}

export function emptyCounters(): Counters {
  return {
    connects: 0,
    disconnects: 0,
    registrations: 0,
    responses: { cds: 0, eds: 0, other: 0 },
    acks: 0,
    nacks: 0,
    healthReports: { healthy: 0, unhealthy: 0 },
    bytesReceived: 0,
    errors: { 'connect-failed': 0, 'connect-timeout': 0, 'stream-reset': 0, 'stream-closed': 0, 'bad-response': 0, 'gave-up': 0 },
    outOfDescriptors: 0,
    churn: { disconnect: 0, ipChange: 0, scaleDown: 0, scaleUp: 0, flap: 0, storm: 0 },
  };
}

/** Adds `b` into `a` (every numeric leaf). */
export function addCounters(a: Counters, b: Counters): Counters {
  const add = (x: Record<string, unknown>, y: Record<string, unknown>): void => {
    for (const [k, v] of Object.entries(y)) {
      if (typeof v === 'number') x[k] = ((x[k] as number | undefined) ?? 0) + v;
      else if (v && typeof v === 'object') {
        if (!x[k] || typeof x[k] !== 'object') x[k] = {};
        add(x[k] as Record<string, unknown>, v as Record<string, unknown>);
      }
    }
  };
  add(a as unknown as Record<string, unknown>, b as unknown as Record<string, unknown>);
  return a;
}

export interface ErrorSample {
  agent: number;
  kind: AgentErrorKind;
  detail: string;
}

const OUT_OF_DESCRIPTORS = /\bE[MN]FILE\b/;

export class FleetStats implements AgentEvents {
  readonly histograms: Record<LatencyMetric, Histogram> = {
    connect: newHistogram(),
    edsVisible: newHistogram(),
    push: newHistogram(),
    healthConverged: newHistogram(),
  };
  readonly counters: Counters = emptyCounters();
  /** The first few errors verbatim, for the summary (the rest are only counted). */
  readonly errorSamples: ErrorSample[] = [];

  connected(_agent: number, ms: number): void {
    this.counters.connects++;
    recordMs(this.histograms.connect, ms);
  }

  disconnected(): void {
    this.counters.disconnects++;
  }

  edsVisible(_agent: number, ms: number): void {
    this.counters.registrations++;
    recordMs(this.histograms.edsVisible, ms);
  }

  healthConverged(_agent: number, ms: number): void {
    recordMs(this.histograms.healthConverged, ms);
  }

  response(_agent: number, typeUrl: string, bytes: number, latencyMs: number | undefined): void {
    const r = this.counters.responses;
    if (typeUrl === TYPE_URL.CLUSTER) r.cds++;
    else if (typeUrl === TYPE_URL.ENDPOINT) r.eds++;
    else r.other++;
    this.counters.bytesReceived += bytes;
    if (latencyMs !== undefined) recordMs(this.histograms.push, latencyMs);
  }

  ack(): void {
    this.counters.acks++;
  }

  nack(): void {
    this.counters.nacks++;
  }

  healthReport(_agent: number, healthy: boolean): void {
    if (healthy) this.counters.healthReports.healthy++;
    else this.counters.healthReports.unhealthy++;
  }

  error(agent: number, kind: AgentErrorKind, detail: string): void {
    this.counters.errors[kind]++;
    // grpc-js reports a socket it could not create as UNAVAILABLE "connect EMFILE ...".
    if (OUT_OF_DESCRIPTORS.test(detail)) this.counters.outOfDescriptors++;
    if (this.errorSamples.length < 10) this.errorSamples.push({ agent, kind, detail });
  }

  encoded(): Record<LatencyMetric, string> {
    return {
      connect: encodeHistogram(this.histograms.connect),
      edsVisible: encodeHistogram(this.histograms.edsVisible),
      push: encodeHistogram(this.histograms.push),
      healthConverged: encodeHistogram(this.histograms.healthConverged),
    };
  }
}

export function totalErrors(c: Counters): number {
  return Object.values(c.errors).reduce((s, n) => s + n, 0);
}
