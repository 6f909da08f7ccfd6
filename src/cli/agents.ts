// `xdsim agents`: a fleet of simulated istio-agents against any xDS server (xdsim's or istiod's).
import { accessSync, closeSync, constants, existsSync, openSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import Table from 'cli-table3';
import type { Command } from 'commander';
import type { ProbeCheck } from '../agent/probe.js';
import { parseChurn } from '../fleet/churn.js';
import { DEFAULT_FLEET, fleetConfig, shardRange, type FleetConfig, type FleetProbe } from '../fleet/config.js';
import { FD_REEXEC_ENV, fdsNeededForFleet, planFdLimit, reexecWithFdLimit } from '../fleet/fd-limit.js';
import { Fleet, type FleetProgress } from '../fleet/fleet.js';
import {
  FleetConfigError,
  parseAgentLocality,
  parseDuration,
  parseFraction,
  parseIpv4,
  parseLocalitySpread,
  parsePositiveInt,
} from '../fleet/parse.js';
import type { FleetSummary } from '../fleet/summary.js';
import { CliError, EXIT_FAILED } from './errors.js';
import { guardStdio, noteStopSignal } from './stdio.js';
import { stdioSink } from '../server/log-sink.js';

export interface AgentsFlags {
  xds: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  sni?: string;
  tokenFile?: string;
  serviceAccount?: string;
  namespace: string;
  group?: string;
  count: string;
  duration: string;
  ramp?: string;
  unhealthyFraction?: string;
  churn?: string;
  locality?: string;
  localities?: string;
  ipBase: string;
  workers?: string;
  json?: string;
  shardIndex?: string;
  shardCount?: string;
  labels?: string;
  network?: string;
  clusterId?: string;
  namePrefix?: string;
  delta?: boolean;
  cds: boolean;
  clusters?: string;
  health: boolean;
  probe?: string;
  probePeriod?: string;
  probeTimeout?: string;
  probeInitialDelay?: string;
  successThreshold?: string;
  failureThreshold?: string;
  nack?: string;
  watch?: string;
  connectTimeout?: string;
  keepalive?: string;
  keepaliveTimeout?: string;
  maxAttempts?: string;
  backoffMax?: string;
  progressEvery?: string;
  seed?: string;
  expectConnected?: string;
  expectRegistered?: string;
  progress?: string;
  prepare?: boolean;
  /** --no-fd-check: skip the open-files check. */
  fdCheck?: boolean;
}

function parseLabels(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of s.split(',')) {
    if (item.trim() === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) throw new FleetConfigError(`--labels: expected key=value, got "${item}"`);
    out[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  return out;
}

/** `http://host:port/path`, `https://...`, `tcp://host:port`. */
export function parseProbeTarget(s: string): Exclude<ProbeCheck, { kind: 'model' }> {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new FleetConfigError(`--probe: expected http://host:port/path or tcp://host:port; got "${s}"`);
  }
  const port = Number(u.port);
  if (u.protocol === 'tcp:') {
    if (!port) throw new FleetConfigError(`--probe: tcp target needs a port: "${s}"`);
    return { kind: 'tcp', host: u.hostname, port };
  }
  if (u.protocol === 'http:' || u.protocol === 'https:') {
    const scheme = u.protocol === 'https:' ? 'https' : 'http';
    return { kind: 'http', host: u.hostname, port: port || (scheme === 'https' ? 443 : 80), path: `${u.pathname}${u.search}`, scheme };
  }
  throw new FleetConfigError(`--probe: unsupported scheme "${u.protocol}" (http, https, tcp)`);
}

function parseRate(s: string): number {
  if (!/^\s*\d+(\.\d+)?\s*$/.test(s)) throw new FleetConfigError(`--ramp: expected agents per second (a number); got "${s}"`);
  return Number(s);
}

function parseNack(s: string): FleetConfig['nack'] {
  const [frac, types = 'all'] = s.split(':');
  if (types !== 'cds' && types !== 'eds' && types !== 'all') throw new FleetConfigError(`--nack: type must be cds, eds or all; got "${types}"`);
  return { probability: parseFraction(frac ?? '', '--nack'), types };
}

/** Default worker threads: none for small fleets (thread start-up costs more than it saves). */
export function defaultWorkers(count: number): number {
  if (count <= 200) return 0;
  return Math.max(1, Math.min(os.availableParallelism(), 8, Math.ceil(count / 1000)));
}

/** Flags (and the environment, for JOB_COMPLETION_INDEX) -> a validated fleet config. */
export function fleetConfigFromFlags(f: AgentsFlags, env: NodeJS.ProcessEnv = process.env): FleetConfig {
  try {
    const count = parsePositiveInt(f.count, '--count');
    if (f.locality && f.localities) throw new FleetConfigError('--locality and --localities are exclusive');
    const shardCount = f.shardCount !== undefined ? parsePositiveInt(f.shardCount, '--shard-count') : 1;
    const indexText = f.shardIndex ?? env['JOB_COMPLETION_INDEX'];
    const shardIndex = indexText !== undefined && indexText !== '' ? parsePositiveInt(indexText, '--shard-index (or JOB_COMPLETION_INDEX)', 0) : 0;
    const probe: FleetProbe | null = f.health
      ? {
          ...(f.probe ? { target: parseProbeTarget(f.probe) } : {}),
          initialDelayMs: f.probeInitialDelay ? parseDuration(f.probeInitialDelay, '--probe-initial-delay') : 0,
          periodMs: f.probePeriod ? parseDuration(f.probePeriod, '--probe-period') : DEFAULT_FLEET.probe!.periodMs,
          timeoutMs: f.probeTimeout ? parseDuration(f.probeTimeout, '--probe-timeout') : DEFAULT_FLEET.probe!.timeoutMs,
          successThreshold: f.successThreshold ? parsePositiveInt(f.successThreshold, '--success-threshold') : 1,
          failureThreshold: f.failureThreshold ? parsePositiveInt(f.failureThreshold, '--failure-threshold') : 1,
        }
      : null;
    const clusters = (f.clusters ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    if (!f.cds && clusters.length === 0 && f.watch !== 'observer') {
      // Legal (health-only agents), but say so rather than silently measuring nothing.
      process.stderr.write('xdsim agents: --no-cds without --clusters: agents subscribe to nothing and EDS visibility is not measured\n');
    }
    const watch = f.watch ?? 'self';
    if (watch !== 'self' && watch !== 'observer' && watch !== 'none') throw new FleetConfigError(`--watch: expected self, observer or none; got "${watch}"`);
    parseIpv4(f.ipBase);
    return fleetConfig({
      xds: f.xds,
      namespace: f.namespace,
      group: f.group ?? '',
      count,
      durationMs: parseDuration(f.duration, '--duration'),
      rampPerSec: f.ramp !== undefined ? parseRate(f.ramp) : 0,
      unhealthyFraction: f.unhealthyFraction !== undefined ? parseFraction(f.unhealthyFraction, '--unhealthy-fraction') : 0,
      churn: f.churn ? parseChurn(f.churn) : [],
      localities: f.localities ? parseLocalitySpread(f.localities) : f.locality ? [{ locality: parseAgentLocality(f.locality), weight: 1 }] : [],
      ipBase: f.ipBase,
      workers: f.workers !== undefined ? parsePositiveInt(f.workers, '--workers', 0) : defaultWorkers(count),
      shardIndex,
      shardCount,
      mode: f.delta ? 'delta' : 'sotw',
      subscription: { cds: f.cds, ...(clusters.length ? { eds: clusters } : {}) },
      probe,
      labels: f.labels ? parseLabels(f.labels) : {},
      network: f.network ?? '',
      ...(f.serviceAccount ? { serviceAccount: f.serviceAccount } : {}),
      clusterId: f.clusterId ?? DEFAULT_FLEET.clusterId,
      namePrefix: f.namePrefix ?? '',
      seed: f.seed !== undefined ? parsePositiveInt(f.seed, '--seed', 0) : 1,
      connectTimeoutMs: f.connectTimeout ? parseDuration(f.connectTimeout, '--connect-timeout') : DEFAULT_FLEET.connectTimeoutMs,
      keepaliveMs: f.keepalive ? parseDuration(f.keepalive, '--keepalive') : DEFAULT_FLEET.keepaliveMs,
      keepaliveTimeoutMs: f.keepaliveTimeout ? parseDuration(f.keepaliveTimeout, '--keepalive-timeout') : DEFAULT_FLEET.keepaliveTimeoutMs,
      backoff: {
        ...DEFAULT_FLEET.backoff,
        ...(f.maxAttempts ? { maxAttempts: parsePositiveInt(f.maxAttempts, '--max-attempts') } : {}),
        ...(f.backoffMax ? { maxMs: parseDuration(f.backoffMax, '--backoff-max') } : {}),
      },
      nack: f.nack ? parseNack(f.nack) : null,
      watch,
      // Progress lines (--progress-every) need updates at least that often.
      progressIntervalMs: f.progressEvery ? Math.min(1000, parseDuration(f.progressEvery, '--progress-every')) : 1000,
      prepare: f.prepare === true,
      ...transportFlags(f),
    });
  } catch (err) {
    if (err instanceof FleetConfigError) throw new CliError(err.message);
    throw err;
  }
}

const mb = (b: number): string => `${(b / 1048576).toFixed(1)} MiB`;

export function formatSummaryTable(s: FleetSummary): string {
  // No colours: the table often ends up in CI logs and files.
  const style = { head: [] as string[], border: [] as string[] };
  const agents = new Table({ style, head: ['agents: target', 'started', 'connected', 'registered', 'failed', 'errors', 'lost'] });
  agents.push([s.agents.target, s.agents.started, s.agents.connected, s.config.watch === 'none' ? 'n/a' : s.agents.registered, s.agents.failed, s.agents.errors, s.agents.lost ?? 0]);
  const lat = new Table({ style, head: ['latency (ms)', 'count', 'p50', 'p90', 'p99', 'max'] });
  const rows: [string, keyof FleetSummary['latency']][] = [
    ['connect', 'connect'],
    ['eds visible', 'edsVisible'],
    ['push', 'push'],
    ['health -> eds', 'healthConverged'],
  ];
  for (const [label, k] of rows) {
    const l = s.latency[k];
    lat.push([label, l.count, l.p50Ms, l.p90Ms, l.p99Ms, l.maxMs]);
  }
  const c = s.counters;
  const other = new Table({ style, head: ['traffic', 'value'] });
  other.push(
    ['responses cds / eds', `${c.responses.cds} / ${c.responses.eds}`],
    ['acks / nacks', `${c.acks} / ${c.nacks}`],
    ['health reports ok / failing', `${c.healthReports.healthy} / ${c.healthReports.unhealthy}`],
    ['bytes received / sent', `${mb(s.bytes.received)} / ${mb(s.bytes.sent)}`],
    ['connects / disconnects', `${c.connects} / ${c.disconnects}`],
    ['process RSS (per agent)', `${mb(s.memory.processRssBytes)} (${(s.memory.perAgentRssBytes / 1024).toFixed(1)} KiB)`],
  );
  const churn = Object.entries(c.churn).filter(([, v]) => v > 0);
  if (churn.length) other.push(['churn', churn.map(([k, v]) => `${k} ${v}`).join(', ')]);
  const errs = Object.entries(c.errors).filter(([, v]) => v > 0);
  if (errs.length) other.push(['errors', errs.map(([k, v]) => `${k} ${v}`).join(', ')]);
  if (c.outOfDescriptors > 0) other.push(['out of descriptors (EMFILE/ENFILE)', `${c.outOfDescriptors} attempts: raise the open-files limit or shard the fleet`]);
  return [agents.toString(), lat.toString(), other.toString()].join('\n');
}

function progressLine(p: FleetProgress): string {
  return (
    `${(p.elapsedMs / 1000).toFixed(0)}s/${(p.durationMs / 1000).toFixed(0)}s agents ${p.started}/${p.target} ` +
    `connected ${p.connected} in-eds ${p.visible} failed ${p.failed} errors ${p.errors} rx ${mb(p.bytesReceived)}`
  );
}

export function registerAgentsCommand(program: Command): void {
  program
    .command('agents')
    .description('run a fleet of simulated istio-agents (auto-registration, health over xDS, churn) against an xDS server')
    .requiredOption('--xds <host:port>', 'xDS server address (host:port; several, comma-separated, are used round-robin, e.g. the same server on 127.0.0.1 and 127.0.0.2 past ~28k agents; TLS with --tls-ca, a token with --token-file)')
    .option('--namespace <ns>', 'agents\' namespace (NAMESPACE metadata)', 'default')
    .option('--group <workloadgroup>', 'WorkloadGroup to auto-register into (AUTO_REGISTER_GROUP); omit for no registration')
    .requiredOption('--count <n>', 'agents in the fleet (all shards together)')
    .option('--duration <d>', 'how long the fleet runs, e.g. 30s, 5m', '30s')
    .option('--ramp <per-second>', 'new agents per second across the fleet (default: all at once)')
    .option('--prepare', 'build every agent (idle gRPC channel, first probe result) before the clock starts: a reconnect storm of existing VMs rather than new ones booting')
    .option('--unhealthy-fraction <0..1>', 'fraction of agents whose simulated probe fails')
    .option('--churn <spec>', 'churn models, e.g. "disconnect:fraction=10%,every=10s,down=2s;storm:at=20s" (see docs/agents.md)')
    .option('--locality <r/z/s>', 'every agent\'s locality')
    .option('--localities <spread>', 'spread over localities: r1/z1/s1:0.5,r2/z1/s1:0.5 or a grid like 3x3x3')
    .option('--ip-base <ipv4>', 'agents get consecutive IPs after this address', '10.200.0.0')
    .option('--workers <n>', 'worker threads (0: run on the main thread; default by --count)')
    .option('--json <file>', 'write the JSON summary (mergeable across shards) to a file, "-" for stdout')
    .option('--shard-index <i>', 'this shard (default: $JOB_COMPLETION_INDEX, else 0)')
    .option('--shard-count <n>', 'shards the fleet is split into', '1')
    .option('--labels <k=v,...>', 'LABELS metadata of every agent')
    .option('--network <name>', 'NETWORK metadata')
    .option('--cluster-id <id>', 'CLUSTER_ID metadata', 'Kubernetes')
    .option('--name-prefix <p>', 'instance names <prefix>-<index> (default: the group)')
    .option('--delta', 'use delta ADS instead of state of the world')
    .option('--no-cds', 'do not subscribe to CDS (use with --clusters)')
    .option('--clusters <names>', 'EDS cluster names to subscribe to (comma list)')
    .option('--no-health', 'no probe and no health reports (a group without a probe)')
    .option('--probe <url>', 'real probe target: http://127.0.0.1:8080/healthz or tcp://127.0.0.1:9000 (default: simulated)')
    .option('--probe-period <d>', 'probe period (periodSeconds)', '10s')
    .option('--probe-timeout <d>', 'probe timeout (timeoutSeconds)', '1s')
    .option('--probe-initial-delay <d>', 'initial delay (initialDelaySeconds)')
    .option('--success-threshold <n>', 'successes in a row to turn healthy')
    .option('--failure-threshold <n>', 'failures in a row to turn unhealthy')
    .option('--nack <fraction[:cds|eds|all]>', 'reject this fraction of responses (fault tests)')
    .option('--watch <self|observer|none>', 'how EDS visibility is measured', 'self')
    .option('--connect-timeout <d>', 'bound on waiting for a stream\'s first response', '10s')
    .option('--keepalive <d>', 'HTTP/2 keepalive ping interval per connection, e.g. 30s (default: no pings)')
    .option('--keepalive-timeout <d>', 'drop the connection when a ping is unanswered this long', '10s')
    .option('--max-attempts <n>', 'reconnect attempts in a row before an agent gives up', '20')
    .option('--backoff-max <d>', 'longest wait between reconnect attempts (the 500 ms backoff doubles up to this)', '30s')
    .option('--seed <n>', 'seed for every random choice (unhealthy set, churn picks, jitter)')
    .option('--expect-connected <fraction>', 'exit 1 unless at least this fraction is connected at the end')
    .option('--expect-registered <fraction>', 'exit 1 unless at least this fraction is visible in EDS at the end')
    .option('--tls-ca <file>', 'connect over TLS, verifying the server with this CA (istiod root-cert.pem)')
    .option('--tls-cert <file>', 'client certificate for mTLS (PEM)')
    .option('--tls-key <file>', 'client key for mTLS (PEM)')
    .option('--sni <name>', 'server name to verify and send, e.g. istiod.istio-system.svc')
    .option('--token-file <file>', 'bearer token (JWT) sent as authorization on every stream, like istio-agent')
    .option('--service-account <name>', 'SERVICE_ACCOUNT metadata: the group template\'s service account, the one --token-file is for')
    .option('--progress <tty|plain|none>', 'progress output on stderr (default: a bar on a TTY, lines otherwise)')
    .option('--progress-every <d>', 'interval of plain progress lines', '5s')
    .option('--no-fd-check', 'start even when the open-files limit is below what --count needs (agents without a descriptor count as connect errors)')
    .action(async (flags: AgentsFlags) => {
      const config = fleetConfigFromFlags(flags);
      let expectConnected: number | undefined;
      let expectRegistered: number | undefined;
      try {
        if (flags.expectConnected) expectConnected = parseFraction(flags.expectConnected, '--expect-connected');
        if (flags.expectRegistered) expectRegistered = parseFraction(flags.expectRegistered, '--expect-registered');
      } catch (err) {
        throw new CliError((err as Error).message);
      }
      // A fleet needs a descriptor per agent: check the limit now (raising it under prlimit where
      // allowed) rather than die of EMFILE thousands of agents in.
      if (flags.fdCheck !== false) {
        const range = shardRange(config.count, config.shardIndex, config.shardCount);
        const agents = range.end - range.start;
        const plan = planFdLimit(
          fdsNeededForFleet(agents, config.workers),
          `--count ${config.count}${config.shardCount > 1 ? ` (this shard: ${agents} agents)` : ''}`,
          `Raise it (ulimit -n, LimitNOFILE=, docker run --ulimit nofile=), or split the fleet over processes with --shard-count/--shard-index; --no-fd-check runs anyway and counts agents without a descriptor as connect errors.`,
        );
        if (plan.kind === 'raise' && !process.env[FD_REEXEC_ENV]) {
          process.stderr.write(`xdsim agents: raising the open-files limit from ${plan.limit.soft} to ${plan.soft} for ${agents} agents (prlimit)\n`);
          await reexecWithFdLimit(plan.soft, plan.hard);
        }
        if (plan.kind !== 'ok') throw new CliError(plan.kind === 'refuse' ? plan.message : `open-files limit still ${plan.limit.soft} after prlimit; ${plan.needed} needed`);
      }
      // The summary file is opened now: fail before a long run rather than after it, and hold its
      // descriptor, since a fleet at its open-files limit could not open it at the end.
      let jsonFd: number | undefined;
      if (flags.json && flags.json !== '-') {
        try {
          accessSync(dirname(resolve(flags.json)), constants.W_OK);
          jsonFd = openSync(flags.json, 'w');
        } catch {
          throw new CliError(`--json: cannot write to the directory of "${flags.json}"`);
        }
      }
      const mode = flags.progress ?? (process.stderr.isTTY ? 'tty' : 'plain');
      if (mode !== 'tty' && mode !== 'plain' && mode !== 'none') throw new CliError(`--progress: expected tty, plain or none; got "${mode}"`);

      const fleet = new Fleet(config);
      const abort = new AbortController();
      let interrupts = 0;
      // Progress goes through the bounded sink: a stalled stderr reader costs lines, not memory.
      guardStdio();
      const progressOut = stdioSink(2);
      const onSignal = (): void => {
        interrupts++;
        if (interrupts === 1) {
          noteStopSignal();
          progressOut.write('\nxdsim agents: stopping (again to exit now)\n');
          abort.abort();
        } else process.exit(130);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);

      let bar: cliProgress.SingleBar | undefined;
      let lastLine = 0;
      const lineEveryMs = parseDuration(flags.progressEvery ?? '5s', '--progress-every');
      if (mode === 'tty') {
        bar = new cliProgress.SingleBar(
          { format: '{bar} {line}', barsize: 20, hideCursor: true, clearOnComplete: true, stream: process.stderr },
          cliProgress.Presets.shades_classic,
        );
        bar.start(config.durationMs, 0, { line: 'starting workers' });
      }
      let summary: FleetSummary;
      try {
        summary = await fleet.run({
          signal: abort.signal,
          onProgress: (p) => {
            if (bar) bar.update(Math.min(p.elapsedMs, config.durationMs), { line: progressLine(p) });
            else if (mode === 'plain' && (p.elapsedMs - lastLine >= lineEveryMs || p.elapsedMs >= p.durationMs)) {
              lastLine = p.elapsedMs;
              progressOut.write(`xdsim agents: ${progressLine(p)}\n`);
            }
          },
        });
      } finally {
        bar?.stop();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }

      const json = `${JSON.stringify(summary, null, 2)}\n`;
      if (flags.json === '-') process.stdout.write(json);
      else {
        if (jsonFd !== undefined) {
          writeFileSync(jsonFd, json);
          closeSync(jsonFd);
        }
        process.stdout.write(`${formatSummaryTable(summary)}\n`);
      }
      const target = summary.agents.target;
      const failures: string[] = [];
      if (expectConnected !== undefined && summary.agents.connected < expectConnected * target) {
        failures.push(`connected ${summary.agents.connected}/${target} < ${expectConnected}`);
      }
      if (expectRegistered !== undefined && summary.agents.registered < expectRegistered * target) {
        failures.push(`registered ${summary.agents.registered}/${target} < ${expectRegistered}`);
      }
      if (failures.length) throw new CliError(`expectation failed: ${failures.join('; ')}`, EXIT_FAILED);
    });
}

/** TLS and token flags -> fleet config (paths only: the config crosses into worker threads). */
function transportFlags(f: { tlsCa?: string; tlsCert?: string; tlsKey?: string; sni?: string; tokenFile?: string }): Pick<FleetConfig, 'tls' | 'tokenFile'> {
  if (!!f.tlsCert !== !!f.tlsKey) throw new CliError('--tls-cert and --tls-key go together');
  for (const [flag, file] of [['--tls-ca', f.tlsCa], ['--tls-cert', f.tlsCert], ['--tls-key', f.tlsKey], ['--token-file', f.tokenFile]] as const) {
    if (file && !existsSync(file)) throw new CliError(`${flag}: no such file: ${file}`);
  }
  const out: Pick<FleetConfig, 'tls' | 'tokenFile'> = {};
  if (f.tlsCa || f.tlsCert) {
    out.tls = {
      ...(f.tlsCa ? { caFile: f.tlsCa } : {}),
      ...(f.tlsCert ? { certFile: f.tlsCert, keyFile: f.tlsKey! } : {}),
      ...(f.sni ? { sni: f.sni } : {}),
    };
  }
  if (f.tokenFile) out.tokenFile = f.tokenFile;
  return out;
}
