// `xdsim serve`: the control plane as a process. Loopback by default; SIGTERM/SIGINT close every
// stream with a status before exiting.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError } from './errors.js';
import { ConfigLoadError, startControlPlane } from '../server/control-plane.js';
import { createLogger } from '../server/logger.js';
import { debounceFromEnv, parseDuration } from '../xds/debounce.js';

interface ServeFlags {
  filename: string[];
  xdsAddress: string;
  adminAddress: string;
  logLevel: string;
  debounceAfter?: string;
  debounceMax?: string;
  edsDebounce?: boolean;
  sendUnhealthyEndpoints?: boolean;
  gracePeriod?: string;
  registration?: boolean;
  stateDir?: string;
  tlsCert?: string;
  tlsKey?: string;
  clientCa?: string;
  jwks?: string;
  jwtPublicKey?: string;
  jwtAudience?: string[];
  jwtIssuer?: string;
  adminTokenFile?: string;
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
    .option('--send-unhealthy-endpoints', 'send unhealthy endpoints as UNHEALTHY instead of leaving them out (PILOT_SEND_UNHEALTHY_ENDPOINTS)')
    .option('--grace-period <duration>', 'delete auto-registered entries this long after their last disconnect (PILOT_WORKLOAD_ENTRY_GRACE_PERIOD)', '10s')
    .option('--no-registration', 'turn off WorkloadEntry auto-registration and health reporting')
    .option('--state-dir <dir>', 'keep applied config and registered entries here across restarts (fsynced journal)')
    .option('--tls-cert <file>', 'serve xDS over TLS with this certificate (PEM)')
    .option('--tls-key <file>', 'private key for --tls-cert (PEM)')
    .option('--client-ca <file>', 'require client certificates signed by this CA (mTLS)')
    .option('--jwks <file>', 'require bearer tokens (JWT) on xDS, verified with this JWKS')
    .option('--jwt-public-key <file>', 'require bearer tokens (JWT) on xDS, verified with this PEM public key')
    .option('--jwt-audience <aud>', 'accepted token audience (repeatable; default istio-ca)', collect, [])
    .option('--jwt-issuer <iss>', 'required token issuer')
    .option('--admin-token-file <file>', 'require this bearer token on the admin API (except /ready)')
    .action(async (flags: ServeFlags) => {
      const log = createLogger(flags.logLevel);
      const debounce = debounceFromEnv(process.env);
      if (flags.debounceAfter) debounce.debounceAfterMs = parseDuration(flags.debounceAfter);
      if (flags.debounceMax) debounce.debounceMaxMs = parseDuration(flags.debounceMax);
      // commander sets edsDebounce=true by default for a --no- flag: only an explicit flag overrides env.
      if (flags.edsDebounce === false) debounce.enableEdsDebounce = false;
      const sendUnhealthy =
        flags.sendUnhealthyEndpoints === true || /^(true|1)$/i.test(process.env['PILOT_SEND_UNHEALTHY_ENDPOINTS'] ?? '');
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
      const adminToken = flags.adminTokenFile ? readFileSync(flags.adminTokenFile, 'utf8').trim() : undefined;
      let plane;
      try {
        plane = await startControlPlane({
          gracePeriodMs: parseDuration(flags.gracePeriod ?? '10s'),
          registration: flags.registration !== false,
          ...(flags.stateDir ? { stateDir: flags.stateDir } : {}),
          ...(flags.tlsCert ? { tls: { certFile: flags.tlsCert, keyFile: flags.tlsKey!, ...(flags.clientCa ? { clientCaFile: flags.clientCa } : {}) } } : {}),
          ...(tokenAuth ? { tokenAuth } : {}),
          ...(adminToken ? { adminToken } : {}),
          configPaths: flags.filename,
          xdsAddress: flags.xdsAddress,
          adminAddress: flags.adminAddress,
          debounce,
          sendUnhealthyEndpoints: sendUnhealthy,
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
      const stop = (signal: string) => {
        if (stopping) {
          log.warn({ signal }, 'second signal: exiting now');
          process.exit(1);
        }
        stopping = true;
        log.info({ signal }, 'shutting down');
        plane.close().then(
          () => process.exit(0),
          (err: unknown) => {
            log.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
}
