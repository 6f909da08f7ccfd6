// The readiness probe an istio-agent runs for its WorkloadGroup (SPEC §7): a real HTTP GET or
// TCP connect against a local target, or - to simulate thousands of VMs without thousands of
// apps - an outcome model. Thresholds work like the agent's health checker: a state is reported
// when `successThreshold` successes (or `failureThreshold` failures) in a row disagree with the
// last reported state; the very first conclusive result is reported whatever it is.
import type { ReadinessProbe } from '../config/resources.js';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Rng } from '../util/random.js';

export type ProbeModel =
  | { kind: 'healthy' }
  | { kind: 'unhealthy' }
  /** Healthy for the first half of each period, unhealthy for the second; `phaseMs` shifts it. */
  | { kind: 'flapping'; periodMs: number; phaseMs?: number }
  /** Each probe fails independently with this probability. */
  | { kind: 'random'; failProbability: number };

export type ProbeCheck =
  | { kind: 'http'; host: string; port: number; path: string; scheme?: 'http' | 'https'; headers?: Record<string, string> }
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'model'; model: ProbeModel };

export interface ProbeSettings {
  check: ProbeCheck;
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
}

/**
 * The probe as the VM's ProxyConfig carries it (readinessProbe, a WorkloadGroup probe): the
 * timing in seconds, and the handler of a real target (httpGet / tcpSocket). A simulated probe
 * has no handler.
 */
export function readinessProbeFor(p: Omit<ProbeSettings, 'check'> & { check?: ProbeCheck }): ReadinessProbe {
  const out: ReadinessProbe = {
    ...(p.initialDelayMs > 0 ? { initialDelaySeconds: Math.round(p.initialDelayMs / 1000) } : {}),
    timeoutSeconds: Math.max(1, Math.round(p.timeoutMs / 1000)),
    periodSeconds: Math.max(1, Math.round(p.periodMs / 1000)),
    successThreshold: p.successThreshold,
    failureThreshold: p.failureThreshold,
  };
  const t = p.check;
  if (t?.kind === 'http') out.httpGet = { path: t.path, port: t.port, host: t.host, ...(t.scheme === 'https' ? { scheme: 'HTTPS' } : {}) };
  else if (t?.kind === 'tcp') out.tcpSocket = { host: t.host, port: t.port };
  return out;
}

/** WorkloadGroup probe defaults (periodSeconds 10, timeoutSeconds 1, thresholds 1 in the agent). */
export const DEFAULT_PROBE: Readonly<Omit<ProbeSettings, 'check'>> = Object.freeze({
  initialDelayMs: 0,
  periodMs: 10_000,
  timeoutMs: 1_000,
  successThreshold: 1,
  failureThreshold: 1,
});

export interface ProbeResult {
  ok: boolean;
  message: string;
}

const OK: ProbeResult = Object.freeze({ ok: true, message: '' });

/** The outcome the model gives at `elapsedMs` since the agent started probing. */
export function modelOutcome(model: ProbeModel, elapsedMs: number, rng: Rng): ProbeResult {
  switch (model.kind) {
    case 'healthy':
      return OK;
    case 'unhealthy':
      return { ok: false, message: 'simulated probe failure' };
    case 'flapping': {
      const period = Math.max(1, model.periodMs);
      const t = (((elapsedMs + (model.phaseMs ?? 0)) % period) + period) % period;
      return t < period / 2 ? OK : { ok: false, message: 'simulated probe failure (flapping)' };
    }
    case 'random':
      return rng() < model.failProbability ? { ok: false, message: 'simulated probe failure (random)' } : OK;
  }
}

export function httpProbe(check: Extract<ProbeCheck, { kind: 'http' }>, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const mod = check.scheme === 'https' ? https : http;
    let done = false;
    const finish = (r: ProbeResult): void => {
      if (!done) {
        done = true;
        resolve(r);
      }
    };
    const req = mod.request(
      {
        host: check.host,
        port: check.port,
        path: check.path || '/',
        method: 'GET',
        headers: { 'user-agent': 'istio-probe/1.0', ...(check.headers ?? {}) },
        timeout: timeoutMs,
        agent: false,
        ...(check.scheme === 'https' ? { rejectUnauthorized: false } : {}),
      },
      (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        // Kubernetes semantics: 200 <= code < 400 is success.
        finish(code >= 200 && code < 400 ? OK : { ok: false, message: `HTTP GET ${check.path}: status ${code}` });
      },
    );
    req.on('timeout', () => {
      req.destroy();
      finish({ ok: false, message: `HTTP GET ${check.path}: timeout after ${timeoutMs}ms` });
    });
    req.on('error', (err) => finish({ ok: false, message: `HTTP GET ${check.path}: ${err.message}` }));
    req.end();
  });
}

export function tcpProbe(check: Extract<ProbeCheck, { kind: 'tcp' }>, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: check.host, port: check.port });
    let done = false;
    const finish = (r: ProbeResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ ok: false, message: `tcp ${check.host}:${check.port}: timeout after ${timeoutMs}ms` }), timeoutMs);
    sock.once('connect', () => finish(OK));
    sock.once('error', (err) => finish({ ok: false, message: `tcp ${check.host}:${check.port}: ${err.message}` }));
  });
}

export type HealthListener = (healthy: boolean, message: string) => void;

/**
 * Runs a probe every `periodMs` (one timer, never two probes at once) and calls `onChange` on
 * state transitions. `stop()` ends it for good; an in-flight real probe is bounded by its timeout.
 */
export class ProbeRunner {
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private inFlight = false;
  private successes = 0;
  private failures = 0;
  private state: boolean | undefined;
  private lastMessage = '';
  private startedAt = 0;
  private check: ProbeCheck;

  constructor(
    private readonly settings: ProbeSettings,
    private readonly onChange: HealthListener,
    private readonly rng: Rng,
    private readonly now: () => number = Date.now,
  ) {
    this.check = settings.check;
  }

  /** Last reported state: undefined before the first conclusive probe. */
  get healthy(): boolean | undefined {
    return this.state;
  }

  get message(): string {
    return this.lastMessage;
  }

  /** Starts probing; `offsetMs` staggers the first probe so a fleet does not probe in lockstep. */
  start(offsetMs = 0): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.startedAt = this.now();
    this.schedule(this.settings.initialDelayMs + offsetMs);
  }

  /**
   * A simulated probe's first result, taken now (before start()), as a running VM's agent would
   * already have it. Real probes (HTTP, TCP) are not primed. True when a result was recorded.
   */
  prime(): boolean {
    if (this.check.kind !== 'model' || this.state !== undefined) return false;
    this.record(modelOutcome(this.check.model, 0, this.rng));
    return true;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Churn hook: swap the outcome model (e.g. start flapping) without restarting the schedule. */
  setModel(model: ProbeModel): void {
    if (this.check.kind === 'model') this.check = { kind: 'model', model };
  }

  get model(): ProbeModel | undefined {
    return this.check.kind === 'model' ? this.check.model : undefined;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), Math.max(0, delayMs));
    this.timer.unref?.();
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    if (this.stopped || this.inFlight) return;
    this.inFlight = true;
    let result: ProbeResult;
    try {
      result = await this.probeOnce();
    } catch (err) {
      result = { ok: false, message: (err as Error).message };
    }
    this.inFlight = false;
    if (this.stopped) return;
    this.record(result);
    this.schedule(this.settings.periodMs);
  }

  private probeOnce(): Promise<ProbeResult> | ProbeResult {
    const c = this.check;
    switch (c.kind) {
      case 'model':
        return modelOutcome(c.model, this.now() - this.startedAt, this.rng);
      case 'http':
        return httpProbe(c, this.settings.timeoutMs);
      case 'tcp':
        return tcpProbe(c, this.settings.timeoutMs);
    }
  }

  /** Applies one probe result to the thresholds; exported for tests through `ProbeRunner.prototype`. */
  record(result: ProbeResult): void {
    if (result.ok) {
      this.successes++;
      this.failures = 0;
      if (this.state !== true && (this.state === undefined || this.successes >= this.settings.successThreshold)) {
        this.transition(true, '');
      }
    } else {
      this.failures++;
      this.successes = 0;
      if (this.state !== false && (this.state === undefined || this.failures >= this.settings.failureThreshold)) {
        this.transition(false, result.message);
      }
    }
  }

  private transition(healthy: boolean, message: string): void {
    this.state = healthy;
    this.lastMessage = message;
    this.successes = 0;
    this.failures = 0;
    this.onChange(healthy, message);
  }
}
