// `xdsim serve`: the control plane as a process. Loopback by default; SIGTERM/SIGINT close every
// stream with a status before exiting.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError } from './errors.js';
import { parseGoBool } from '../registration/identity.js';
import { DEFAULT_ADMIN_LIMITS, type AdminLimits } from '../admin/server.js';
import { ConfigLoadError, startControlPlane } from '../server/control-plane.js';
import { drainStdioSinks, finishStdioSinks, stdioSinkTotals } from '../server/log-sink.js';
import { createLogger } from '../server/logger.js';
import { DEFAULT_LIMITS, type StreamLimits } from '../xds/stream/connection.js';
import { debounceFromEnv, parseDuration } from '../xds/push/debounce.js';
import { DEFAULT_SERVER_LIMITS, type ServerLimits } from '../xds/server.js';

interface ServeFlags {
  filename: string[];
  xdsAddress: string;
  adminAddress: string;
  logLevel: string;
  debounceAfter?: string;
  debounceMax?: string;
  edsDebounce?: boolean;
  sendUnhealthyEndpoints?: boolean;
  autoSendUnhealthyEndpoints?: string;
  gracePeriod?: string;
  cleanupRate?: string;
  shutdownGrace?: string;
  registration?: boolean;
  stateDir?: string;
  meshNetworks?: string;
  tlsCert?: string;
  tlsKey?: string;
  clientCa?: string;
  jwks?: string;
  jwtPublicKey?: string;
  jwtAudience?: string[];
  jwtIssuer?: string;
  adminTokenFile?: string;
  validateIdentity?: string;
  maxMessageSize?: string;
  maxResourceNames?: string;
  streamRequestsPerSecond?: string;
  streamRequestBurst?: string;
  stallTimeout?: string;
  maxConnections?: string;
  listenBacklog?: string;
  maxStreamsPerConnection?: string;
  maxSessionMemory?: string;
  keepaliveTime?: string;
  keepaliveTimeout?: string;
  keepalivePermitWithoutCalls?: boolean;
  minPingInterval?: string;
  maxPingStrikes?: string;
  maxConnectionIdle?: string;
  maxConnectionAge?: string;
  maxConnectionAgeGrace?: string;
  registrationsPerSecond?: string;
  registrationBurst?: string;
  registrationMaxWait?: string;
  adminMaxBody?: string;
}

/** `4MiB`, `512k`, `1048576`: bytes (k/m/g are powers of 1024, as gRPC's sizes are). */
export function parseSize(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*$/i.exec(s);
  if (!m) throw new Error(`invalid size "${s}" (examples: 4MiB, 512k, 1048576)`);
  const unit = (m[2] ?? 'b').toLowerCase()[0];
  return Math.round(Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1));
}

const human = (ms: number) => (ms === 0 ? 'off' : ms % 60_000 === 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

/** The limit flags -> option objects; only flags given are set (the rest keep the defaults). */
function limitOptions(f: ServeFlags): { limits: Partial<StreamLimits>; serverLimits: Partial<ServerLimits>; adminLimits: Partial<AdminLimits> } {
  const parse = <T>(flag: string, v: string | undefined, fn: (x: string) => T, ok: (x: T) => boolean = () => true): T | undefined => {
    if (v === undefined) return undefined;
    let x: T;
    try {
      x = fn(v);
    } catch (err) {
      throw new CliError(`--${flag}: ${(err as Error).message}`);
    }
    if (!ok(x)) throw new CliError(`--${flag}: "${v}" is out of range`);
    return x;
  };
  const int = (flag: string, v: string | undefined, min = 0) =>
    parse(flag, v, (x) => {
      if (!/^\s*\d+\s*$/.test(x)) throw new Error(`"${x}" is not a whole number`);
      return Number(x);
    }, (x) => x >= min);
  const num = (flag: string, v: string | undefined) =>
    parse(flag, v, (x) => {
      if (!/^\s*\d+(\.\d+)?\s*$/.test(x)) throw new Error(`"${x}" is not a number`);
      return Number(x);
    });
  const dur = (flag: string, v: string | undefined) => parse(flag, v, parseDuration);
  const size = (flag: string, v: string | undefined) => parse(flag, v, parseSize, (x) => x > 0);
  const pick = <T extends object>(o: { [K in keyof T]?: T[K] | undefined }): Partial<T> =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
  return {
    limits: pick<StreamLimits>({
      maxRequestBytes: size('max-message-size', f.maxMessageSize),
      maxResourceNames: int('max-resource-names', f.maxResourceNames, 1),
      requestsPerSecond: int('stream-requests-per-second', f.streamRequestsPerSecond, 1),
      requestBurst: int('stream-request-burst', f.streamRequestBurst, 1),
      stallTimeoutMs: dur('stall-timeout', f.stallTimeout),
    }),
    serverLimits: pick<ServerLimits>({
      maxConnections: int('max-connections', f.maxConnections),
      listenBacklog: int('listen-backlog', f.listenBacklog),
      maxStreamsPerConnection: int('max-streams-per-connection', f.maxStreamsPerConnection),
      maxSessionMemoryMb: int('max-session-memory', f.maxSessionMemory),
      keepaliveTimeMs: dur('keepalive-time', f.keepaliveTime),
      keepaliveTimeoutMs: dur('keepalive-timeout', f.keepaliveTimeout),
      // commander sets true for a --no- flag's default: only an explicit --no-... turns it off.
      keepalivePermitWithoutCalls: f.keepalivePermitWithoutCalls === false ? false : undefined,
      minPingIntervalMs: dur('min-ping-interval', f.minPingInterval),
      maxPingStrikes: int('max-ping-strikes', f.maxPingStrikes),
      maxConnectionIdleMs: dur('max-connection-idle', f.maxConnectionIdle),
      maxConnectionAgeMs: dur('max-connection-age', f.maxConnectionAge),
      maxConnectionAgeGraceMs: dur('max-connection-age-grace', f.maxConnectionAgeGrace),
      registrationsPerSecond: num('registrations-per-second', f.registrationsPerSecond),
      registrationBurst: int('registration-burst', f.registrationBurst, 1),
      registrationMaxWaitMs: dur('registration-max-wait', f.registrationMaxWait),
    }),
    adminLimits: pick<AdminLimits>({ maxBodyBytes: size('admin-max-body', f.adminMaxBody) }),
  };
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function registerServeCommand(program: Command): Command {
  return program
    .command('serve')
    .description('serve xDS (ADS SotW/delta, EDS) and the admin HTTP API from manifests')
    .option('-f, --filename <path>', 'manifest file or directory (repeatable)', collect, [])
    .option('--xds-address <host:port>', 'gRPC xDS listen address', '127.0.0.1:15010')
    .option('--admin-address <host:port>', 'admin HTTP listen address', '127.0.0.1:15014')
    .option('--log-level <level>', 'trace, debug, info, warn, error or silent', process.env['XDSIM_LOG_LEVEL'] ?? 'info')
    .option('--debounce-after <duration>', 'quiet period before a push (PILOT_DEBOUNCE_AFTER, default 100ms)')
    .option('--debounce-max <duration>', 'longest a change waits for a push (PILOT_DEBOUNCE_MAX, default 10s)')
    .option('--no-eds-debounce', 'push endpoint-only changes without debouncing (PILOT_ENABLE_EDS_DEBOUNCE=false)')
    .option('--send-unhealthy-endpoints', "PILOT_SEND_UNHEALTHY_ENDPOINTS: every cluster's panic threshold 0, even under outlier detection's minHealthPercent (unhealthy WorkloadEntries stay out of EDS, as in istiod)")
    .option('--auto-send-unhealthy-endpoints <bool>', 'PILOT_AUTO_SEND_UNHEALTHY_ENDPOINTS (default true): panic threshold 0 on clusters whose outlier detection sets none')
    .option('--shutdown-grace <duration>', 'after SIGTERM/SIGINT the process exits within this, whatever its streams or its stdout are doing', '5s')
    .option('--grace-period <duration>', 'delete auto-registered entries this long after their last disconnect (PILOT_WORKLOAD_ENTRY_GRACE_PERIOD)', '10s')
    .option('--cleanup-rate <per-second>', "entries past the grace period deleted per second, one at a time (istiod's fixed rate: 20)", '20')
    .option('--no-registration', 'turn off WorkloadEntry auto-registration and health reporting')
    .option('--validate-identity <bool>', 'auto-registration and health checks need a verified identity (bearer token) that may own the entry (ISTIO_WORKLOAD_ENTRY_VALIDATE_IDENTITY, default true)')
    .option('--mesh-networks <file>', "istiod's meshNetworks (networks, their endpoints and gateways): split-horizon EDS through the gateways")
    .option('--state-dir <dir>', 'keep applied config and registered entries here across restarts (fsynced journal)')
    .option('--tls-cert <file>', 'serve xDS over TLS with this certificate (PEM)')
    .option('--tls-key <file>', 'private key for --tls-cert (PEM)')
    .option('--client-ca <file>', 'require client certificates signed by this CA (mTLS)')
    .option('--jwks <file>', 'require bearer tokens (JWT) on xDS, verified with this JWKS')
    .option('--jwt-public-key <file>', 'require bearer tokens (JWT) on xDS, verified with this PEM public key')
    .option('--jwt-audience <aud>', 'accepted token audience (repeatable; default istio-ca)', collect, [])
    .option('--jwt-issuer <iss>', 'required token issuer')
    .option('--admin-token-file <file>', 'require this bearer token on the admin API (except /ready)')
    // Limits (docs/hardening.md). 0 turns a server-wide limit off.
    .option('--max-message-size <size>', `largest xDS request; larger ones close the stream with RESOURCE_EXHAUSTED (default ${DEFAULT_LIMITS.maxRequestBytes / 1024 / 1024}MiB)`)
    .option('--max-resource-names <n>', `resource names a stream may watch per type (default ${DEFAULT_LIMITS.maxResourceNames})`)
    .option('--stream-requests-per-second <n>', `sustained requests per stream (default ${DEFAULT_LIMITS.requestsPerSecond})`)
    .option('--stream-request-burst <n>', `request burst per stream (default ${DEFAULT_LIMITS.requestBurst})`)
    .option('--stall-timeout <duration>', `close a stream whose client stops reading for this long (default ${human(DEFAULT_LIMITS.stallTimeoutMs)})`)
    .option('--listen-backlog <n>', `accept queue of the xDS listener, capped by net.core.somaxconn (default ${DEFAULT_SERVER_LIMITS.listenBacklog}; Node's own default is 511)`)
    .option('--max-connections <n>', `HTTP/2 connections served at once; more get RESOURCE_EXHAUSTED (default ${DEFAULT_SERVER_LIMITS.maxConnections})`)
    .option('--max-streams-per-connection <n>', `grpc.max_concurrent_streams (default ${DEFAULT_SERVER_LIMITS.maxStreamsPerConnection})`)
    .option('--max-session-memory <MiB>', `grpc-node.max_session_memory per connection (default ${DEFAULT_SERVER_LIMITS.maxSessionMemoryMb})`)
    .option('--keepalive-time <duration>', `grpc.keepalive_time_ms: server pings every connection this often (default ${human(DEFAULT_SERVER_LIMITS.keepaliveTimeMs)})`)
    .option('--keepalive-timeout <duration>', `grpc.keepalive_timeout_ms: drop a connection that does not answer a ping (default ${human(DEFAULT_SERVER_LIMITS.keepaliveTimeoutMs)})`)
    .option('--no-keepalive-permit-without-calls', 'grpc.keepalive_permit_without_calls=0: client pings on a connection with no stream are strikes')
    .option('--min-ping-interval <duration>', `grpc.http2.min_ping_interval_without_data_ms: closer client pings are strikes (default ${human(DEFAULT_SERVER_LIMITS.minPingIntervalMs)})`)
    .option('--max-ping-strikes <n>', `grpc.http2.max_ping_strikes: then GOAWAY too_many_pings (default ${DEFAULT_SERVER_LIMITS.maxPingStrikes})`)
    .option('--max-connection-idle <duration>', 'grpc.max_connection_idle_ms: GOAWAY a connection with no stream for this long (default off)')
    .option('--max-connection-age <duration>', 'grpc.max_connection_age_ms: GOAWAY connections this old (default off)')
    .option('--max-connection-age-grace <duration>', 'grpc.max_connection_age_grace_ms: then cut them after this (default off)')
    .option('--registrations-per-second <n>', `auto-registrations per second per source IP; over it streams wait, then get UNAVAILABLE (default ${DEFAULT_SERVER_LIMITS.registrationsPerSecond}, 0 = off)`)
    .option('--registration-burst <n>', `auto-registration burst per source IP (default ${DEFAULT_SERVER_LIMITS.registrationBurst})`)
    .option('--registration-max-wait <duration>', `longest a registering stream waits for its turn (default ${human(DEFAULT_SERVER_LIMITS.registrationMaxWaitMs)})`)
    .option('--admin-max-body <size>', `largest admin request body (default ${DEFAULT_ADMIN_LIMITS.maxBodyBytes / 1024 / 1024}MiB)`)
    .action(async (flags: ServeFlags) => {
      const log = createLogger(flags.logLevel);
      const shutdownGraceMs = parseDuration(flags.shutdownGrace ?? '5s');
      const debounce = debounceFromEnv(process.env);
      if (flags.debounceAfter) debounce.debounceAfterMs = parseDuration(flags.debounceAfter);
      if (flags.debounceMax) debounce.debounceMaxMs = parseDuration(flags.debounceMax);
      // commander sets edsDebounce=true by default for a --no- flag: only an explicit flag overrides env.
      if (flags.edsDebounce === false) debounce.enableEdsDebounce = false;
      const sendUnhealthy =
        flags.sendUnhealthyEndpoints === true || /^(true|1)$/i.test(process.env['PILOT_SEND_UNHEALTHY_ENDPOINTS'] ?? '');
      // Like istiod's env.Register: an unparseable environment value means the default (true).
      let autoSendUnhealthy = parseGoBool(process.env['PILOT_AUTO_SEND_UNHEALTHY_ENDPOINTS'] ?? '') ?? true;
      if (flags.autoSendUnhealthyEndpoints !== undefined) {
        const b = parseGoBool(flags.autoSendUnhealthyEndpoints);
        if (b === undefined) throw new CliError(`--auto-send-unhealthy-endpoints: expected true or false; got "${flags.autoSendUnhealthyEndpoints}"`);
        autoSendUnhealthy = b;
      }
      if (!!flags.tlsCert !== !!flags.tlsKey) throw new CliError('--tls-cert and --tls-key go together');
      if (flags.clientCa && !flags.tlsCert) throw new CliError('--client-ca needs --tls-cert and --tls-key');
      const tokenAuth =
        flags.jwks || flags.jwtPublicKey
          ? {
              ...(flags.jwks ? { jwksFile: flags.jwks } : { publicKeyFile: flags.jwtPublicKey! }),
              ...(flags.jwtAudience?.length ? { audiences: flags.jwtAudience } : {}),
              ...(flags.jwtIssuer ? { issuer: flags.jwtIssuer } : {}),
            }
          : undefined;
      let validateIdentity: boolean | undefined;
      if (flags.validateIdentity !== undefined) {
        validateIdentity = parseGoBool(flags.validateIdentity);
        if (validateIdentity === undefined) throw new CliError(`--validate-identity: expected true or false; got "${flags.validateIdentity}"`);
      }
      const adminToken = flags.adminTokenFile ? readFileSync(flags.adminTokenFile, 'utf8').trim() : undefined;
      const { limits, serverLimits, adminLimits } = limitOptions(flags);
      let plane;
      try {
        plane = await startControlPlane({
          gracePeriodMs: parseDuration(flags.gracePeriod ?? '10s'),
          cleanupPerSecond: cleanupRate(flags.cleanupRate),
          registration: flags.registration !== false,
          ...(validateIdentity !== undefined ? { validateIdentity } : {}),
          ...(flags.stateDir ? { stateDir: flags.stateDir } : {}),
          ...(flags.meshNetworks ? { meshNetworksFile: flags.meshNetworks } : {}),
          ...(flags.tlsCert ? { tls: { certFile: flags.tlsCert, keyFile: flags.tlsKey!, ...(flags.clientCa ? { clientCaFile: flags.clientCa } : {}) } } : {}),
          ...(tokenAuth ? { tokenAuth } : {}),
          ...(adminToken ? { adminToken } : {}),
          limits,
          serverLimits,
          adminLimits,
          configPaths: flags.filename,
          xdsAddress: flags.xdsAddress,
          adminAddress: flags.adminAddress,
          debounce,
          sendUnhealthyEndpoints: sendUnhealthy,
          autoSendUnhealthyEndpoints: autoSendUnhealthy,
          logger: log,
        });
      } catch (err) {
        if (err instanceof ConfigLoadError) {
          process.stderr.write(`${err.messages.join('\n')}\n`);
          throw new CliError(`${err.messages.length} error(s) in the config; not serving`);
        }
        throw err;
      }
      log.info({ xds: plane.xdsPort, admin: plane.adminPort, debounce }, 'xdsim serving');
      let stopping = false;
      let stopAt = 0;
      const exitNow = (code: number): never => {
        finishStdioSinks();
        process.exit(code);
      };
      // The last lines get what is left of the grace (at most 1 s) to reach a reader, then count
      // as dropped; the exit never waits on stdout.
      const exit = async (code: number, why: string): Promise<void> => {
        const c = stdioSinkTotals();
        log.info({ code, why, logLinesWritten: c.written, logLinesDropped: c.dropped, ...(c.broken ? { logBroken: c.broken } : {}) }, 'exiting');
        await drainStdioSinks(Math.max(0, Math.min(1_000, stopAt + shutdownGraceMs - Date.now() - 200)));
        exitNow(code);
      };
      const stop = (signal: string) => {
        if (stopping) {
          log.warn({ signal }, 'second signal: exiting now');
          exitNow(1);
        }
        stopping = true;
        stopAt = Date.now();
        // Whatever the close or the output is doing, the process is gone by the grace (only a free
        // event loop is needed for this timer, and logging no longer takes it).
        setTimeout(() => exitNow(1), shutdownGraceMs).unref();
        log.info({ signal, shutdownGraceMs, logLinesDropped: stdioSinkTotals().dropped }, 'shutting down');
        plane.close().then(
          () => exit(0, 'stopped'),
          (err: unknown) => {
            log.error({ err }, 'shutdown failed');
            return exit(1, 'shutdown failed');
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
}

function cleanupRate(v: string | undefined): number {
  const n = Number(v ?? '20');
  if (!Number.isFinite(n) || n <= 0) throw new CliError(`--cleanup-rate: expected a positive number of deletions per second; got "${v}"`);
  return n;
}
