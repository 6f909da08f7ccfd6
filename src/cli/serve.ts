// `xdsim serve`: the control plane as a process. Loopback by default; SIGTERM/SIGINT close every
// stream with a status before exiting.
import type { Command } from 'commander';
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
    .action(async (flags: ServeFlags) => {
      const log = createLogger(flags.logLevel);
      const debounce = debounceFromEnv(process.env);
      if (flags.debounceAfter) debounce.debounceAfterMs = parseDuration(flags.debounceAfter);
      if (flags.debounceMax) debounce.debounceMaxMs = parseDuration(flags.debounceMax);
      // commander sets edsDebounce=true by default for a --no- flag: only an explicit flag overrides env.
      if (flags.edsDebounce === false) debounce.enableEdsDebounce = false;
      const sendUnhealthy =
        flags.sendUnhealthyEndpoints === true || /^(true|1)$/i.test(process.env['PILOT_SEND_UNHEALTHY_ENDPOINTS'] ?? '');
      let plane;
      try {
        plane = await startControlPlane({
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
          process.exitCode = 1;
          return;
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
