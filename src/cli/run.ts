// `xdsim run <scenario>`: one scenario end to end, with live progress (a bar on a TTY, plain
// periodic lines otherwise), a final table or the JSON report, report.json + report.html with
// --out, and exit codes 0 (all expectations met), 1 (one failed), 2 (bad input).
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { countBySeverity, hasErrors } from '../config/diagnostics.js';
import { runFigures } from '../report/figures.js';
import { renderHtml } from '../report/html.js';
import { LiveReportServer } from '../report/live-server.js';
import type { RunReport } from '../report/types.js';
import { failureLines, formatSummary } from '../report/table.js';
import { loadScenario } from '../scenario/load.js';
import { runScenario, type LiveSample } from '../scenario/runner.js';
import { RemoteTarget, type RemoteTargetSpec } from '../scenario/target.js';
import { formatDuration, parseDuration } from '../scenario/units.js';
import { CliError, EXIT_FAILED } from './errors.js';
import { reportDiagnostics } from './mesh-input.js';

interface RunFlags {
  out?: string;
  json?: boolean;
  workers?: string;
  logLevel: string;
  progress?: boolean;
  target?: string;
  applyUrl?: string;
  applyCommand?: string;
  deleteCommand?: string;
  commandTimeout?: string;
  tokenFile?: string;
  tokenCommand?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  sni?: string;
  metricsUrl?: string;
  debugUrl?: string;
  repeat?: string;
  serveReport?: string;
}

/** The target flags other than --target, as a partial spec (checked: files exist, URLs parse). */
export function targetFlags(f: RunFlags): Partial<RemoteTargetSpec> {
  const out: Partial<RemoteTargetSpec> = {};
  for (const [flag, file] of [['--tls-ca', f.tlsCa], ['--tls-cert', f.tlsCert], ['--tls-key', f.tlsKey], ['--token-file', f.tokenFile]] as const) {
    if (file && !existsSync(file)) throw new CliError(`${flag}: no such file: ${file}`);
  }
  for (const [flag, url] of [['--apply-url', f.applyUrl], ['--metrics-url', f.metricsUrl], ['--debug-url', f.debugUrl]] as const) {
    if (url && !/^https?:\/\/./.test(url)) throw new CliError(`${flag}: expected an http(s) URL, got "${url}"`);
  }
  if (f.applyUrl && f.applyCommand) throw new CliError('--apply-url and --apply-command: one or the other');
  if (!!f.tlsCert !== !!f.tlsKey) throw new CliError('--tls-cert and --tls-key go together');
  if (f.sni && !f.tlsCa && !f.tlsCert) throw new CliError('--sni goes with --tls-ca (or --tls-cert)');
  if (f.applyUrl) out.applyUrl = f.applyUrl;
  if (f.applyCommand) out.applyCommand = f.applyCommand;
  if (f.deleteCommand) out.deleteCommand = f.deleteCommand;
  if (f.commandTimeout) {
    try {
      out.commandTimeoutMs = parseDuration(f.commandTimeout);
    } catch {
      throw new CliError(`--command-timeout: expected a duration like "30s", got "${f.commandTimeout}"`);
    }
  }
  if (f.tokenFile && f.tokenCommand) throw new CliError('--token-file and --token-command: one or the other');
  if (f.tokenFile) out.tokenFile = f.tokenFile;
  if (f.tokenCommand) out.tokenCommand = f.tokenCommand;
  if (f.tlsCa || f.tlsCert) {
    out.tls = { ...(f.tlsCa ? { caFile: f.tlsCa } : {}), ...(f.tlsCert ? { certFile: f.tlsCert, keyFile: f.tlsKey! } : {}), ...(f.sni ? { sni: f.sni } : {}) };
  }
  if (f.metricsUrl) out.metricsUrl = f.metricsUrl;
  if (f.debugUrl) out.debugUrl = f.debugUrl;
  return out;
}

const MB = 1024 * 1024;

function sampleLine(s: LiveSample): string {
  return [
    `${formatDuration(s.tMs)}/${formatDuration(s.durationMs)}`,
    s.phase !== 'running' ? `[${s.phase}]` : '',
    `connected ${s.connected}/${s.target}`,
    `registered ${s.registered}`,
    `pushes ${s.pushes}`,
    s.convergenceP99Ms !== null ? `p99 ${s.convergenceP99Ms.toFixed(1)}ms` : '',
    `cpu ${s.cpuPercent.toFixed(0)}%`,
    `rss ${(s.rssBytes / MB).toFixed(0)}MiB`,
    s.errors ? `errors ${s.errors}` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

/** Live output on stderr: a progress bar on a terminal, a line every few seconds elsewhere. */
function progressReporter(enabled: boolean) {
  const stream = process.stderr;
  if (enabled && stream.isTTY) {
    const multi = new cliProgress.MultiBar(
      {
        stream,
        // Not {duration}/{total}: those are cli-progress's own tokens.
        format: ' {bar} {t}/{runFor} | connected {connected}/{target} | registered {registered} | pushes {pushes} | p99 {p99} | cpu {cpu} | {phase}',
        barsize: 24,
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    let bar: cliProgress.SingleBar | undefined;
    return {
      sample(s: LiveSample) {
        const payload = {
          t: formatDuration(s.tMs),
          runFor: formatDuration(s.durationMs),
          connected: s.connected,
          target: s.target,
          registered: s.registered,
          pushes: s.pushes,
          p99: s.convergenceP99Ms !== null ? `${s.convergenceP99Ms.toFixed(1)}ms` : '-',
          cpu: `${s.cpuPercent.toFixed(0)}%`,
          phase: s.phase,
        };
        bar ??= multi.create(s.durationMs, 0, payload);
        bar.update(Math.min(s.tMs, s.durationMs), payload);
      },
      event(line: string) {
        multi.log(`${line}\n`);
      },
      stop() {
        multi.stop();
      },
    };
  }
  let last = -Infinity;
  return {
    sample(s: LiveSample) {
      if (!enabled) return;
      // Every 5 s, plus the state changes worth a line of their own.
      if (s.tMs - last < 5000 && s.phase === 'running') return;
      last = s.tMs;
      stream.write(`${sampleLine(s)}\n`);
    },
    event(line: string) {
      if (enabled) stream.write(`${line}\n`);
    },
    stop() {},
  };
}

export function registerRunCommand(program: Command): Command {
  return program
    .command('run')
    .description('run a scenario: embedded control plane + agent fleet + timeline, then check its expectations')
    .argument('<scenario>', 'scenario file (scenarios/*.yaml)')
    .option('--out <dir>', 'write report.json and report.html into this directory')
    .option('--json', 'print the JSON report on stdout instead of the table')
    .option('--workers <n>', 'fleet worker threads (default: the scenario\'s, else 1)')
    .option('--no-progress', 'no live progress on stderr')
    .option('--target <host:port>', "run against the control plane at this xDS address instead of the embedded one (overrides the scenario's controlPlane.target)")
    .option('--apply-url <url>', 'POST config YAML here (the mesh at the start, timeline apply steps); deletes go to the same base with /delete')
    .option('--apply-command <cmd>', "or pipe config YAML into this shell command, e.g. 'kubectl apply -f -'")
    .option('--delete-command <cmd>', "with --apply-command: pipe delete stubs into this, usually 'kubectl delete -f -' (without it, delete steps fail)")
    .option('--command-timeout <duration>', 'bound on each apply / delete command (default 60s)')
    .option('--token-file <file>', 'bearer token (JWT) the agents and observers send')
    .option('--token-command <cmd>', 'or a command printing each service account\'s token, run with $NAMESPACE and $SERVICE_ACCOUNT set (e.g. kubectl create token "$SERVICE_ACCOUNT" -n "$NAMESPACE" --audience istio-ca)')
    .option('--tls-ca <file>', "TLS to the target's xDS port, verifying it with this CA (istiod's root-cert.pem)")
    .option('--tls-cert <file>', 'client certificate for mTLS (PEM)')
    .option('--tls-key <file>', 'client key for mTLS (PEM)')
    .option('--sni <name>', 'server name to verify and send, e.g. istiod.istio-system.svc')
    .option('--metrics-url <url>', "scrape the target's Prometheus metrics into the report, e.g. http://istiod:15014/metrics")
    .option('--debug-url <url>', "the target's debug API base (GET /debug/configz), e.g. http://istiod:15014: its auto-registered entries, so leakedEntries can be measured")
    .option('--repeat <n>', 'run the scenario n times; the report keeps every run\'s figures (runs[]) for `xdsim report compare`', '1')
    .option('--serve-report <[host:]port>', 'serve the report live at this address while the run goes on (loopback unless a host is given; port 0: any free one)')
    .option('--log-level <level>', 'control-plane log level on stderr', process.env['XDSIM_LOG_LEVEL'] ?? 'error')
    .addHelpText(
      'after',
      `
Against istiod in a cluster (config through kubectl, TLS and a token as istio-agent, its metrics and debug API on 15014):
  xdsim run scenarios/quickstart.yaml --target istiod.example:15012 \\
    --apply-command 'kubectl apply -f -' --delete-command 'kubectl delete --ignore-not-found -f -' \\
    --tls-ca root-cert.pem --sni istiod.istio-system.svc --token-file vm-token.jwt \\
    --metrics-url http://istiod.example:15014/metrics --debug-url http://istiod.example:15014
The same keys go in the scenario under controlPlane.target (docs/scenarios.md); without --target
these flags add to the scenario's target.`,
    )
    .action(async (file: string, flags: RunFlags) => {
      let workers: number | undefined;
      if (flags.workers !== undefined) {
        workers = Number(flags.workers);
        if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new CliError(`--workers: expected an integer 1..64, got "${flags.workers}"`);
      }
      if (flags.target && !/^[^:\s]+:\d+$/.test(flags.target) && !/^\[[0-9a-fA-F:]+\]:\d+$/.test(flags.target)) throw new CliError(`--target: expected host:port, got "${flags.target}"`);
      const repeat = Number(flags.repeat ?? '1');
      if (!Number.isInteger(repeat) || repeat < 1 || repeat > 1000) throw new CliError(`--repeat: expected an integer 1..1000, got "${flags.repeat}"`);
      let serveAt: { host: string; port: number } | undefined;
      if (flags.serveReport !== undefined) {
        const m = /^(?:(.+):)?(\d+)$/.exec(flags.serveReport.trim());
        const port = m ? Number(m[2]) : NaN;
        if (!m || port > 65535) throw new CliError(`--serve-report: expected [host:]port, got "${flags.serveReport}"`);
        serveAt = { host: (m[1] ?? '127.0.0.1').replace(/^\[(.*)\]$/, '$1'), port };
      }
      const targetExtras = targetFlags(flags);
      const loaded = await loadScenario(file);
      reportDiagnostics(loaded.diagnostics);
      if (hasErrors(loaded.diagnostics) || !loaded.scenario) {
        throw new CliError(`${countBySeverity(loaded.diagnostics).error} error(s) in the scenario; nothing run`);
      }
      const s = loaded.scenario;
      // --target names the target and its flags describe it; without it, the flags add to the
      // scenario's controlPlane.target (say, a metrics URL for this run).
      let target: RemoteTargetSpec | undefined;
      if (flags.target) target = { address: flags.target, ...targetExtras };
      else if (Object.keys(targetExtras).length > 0) {
        if (!s.controlPlane.target) throw new CliError('--apply-url, --apply-command, --token-file, --token-command, --tls-*, --sni, --metrics-url and --debug-url go with --target (or a scenario with controlPlane.target)');
        target = { ...s.controlPlane.target, ...targetExtras };
        if (targetExtras.applyUrl) {
          delete target.applyCommand;
          delete target.deleteCommand;
        }
        if (targetExtras.applyCommand) delete target.applyUrl;
      }
      if (target) {
        // Contradictions are bad input (exit 2), found before anything starts.
        try {
          new RemoteTarget(target);
        } catch (err) {
          throw new CliError((err as Error).message);
        }
      }
      const progress = progressReporter(flags.progress !== false);
      progress.event(`scenario ${s.name}: ${s.fleet.agents.reduce((n, a) => n + a.count, 0)} agents for ${formatDuration(s.fleet.durationMs)}, ${s.timeline.length} timeline event(s), ${s.expectations.length} expectation(s)`);
      const abort = new AbortController();
      let interrupted = 0;
      const onSigint = () => {
        if (++interrupted > 1) process.exit(130);
        progress.event('interrupted: stopping the fleet (Ctrl-C again to quit now)');
        abort.abort();
      };
      process.on('SIGINT', onSigint);
      let live: LiveReportServer | undefined;
      if (serveAt) {
        try {
          live = await LiveReportServer.start(serveAt.host, serveAt.port, s.name);
        } catch (err) {
          throw new CliError(`--serve-report: cannot listen on ${serveAt.host}:${serveAt.port}: ${(err as Error).message}`);
        }
        // Always said, even with --no-progress: it is the only way to learn a port-0 address.
        process.stderr.write(`live report at ${live.url}\n`);
      }
      let report: RunReport;
      const reports: RunReport[] = [];
      try {
        for (let i = 1; i <= repeat && !abort.signal.aborted; i++) {
          if (repeat > 1) progress.event(`run ${i} of ${repeat}`);
          live?.startRun(i, repeat);
          reports.push(
            await runScenario(s, {
              onSample: (x) => {
                progress.sample(x);
                live?.sample(x);
              },
              onEvent: (line) => {
                progress.event(line);
                live?.event(line);
              },
              ...(live ? { onTraffic: (t) => live!.setTraffic(t) } : {}),
              signal: abort.signal,
              logLevel: flags.logLevel,
              ...(workers !== undefined ? { workers } : {}),
              ...(target ? { target } : {}),
            }),
          );
        }
      } catch (err) {
        await live?.close();
        // The run could not happen (fleet or server failed to start): nothing was checked.
        throw new CliError(`run failed: ${(err as Error).message ?? String(err)}`, EXIT_FAILED);
      } finally {
        progress.stop();
        process.off('SIGINT', onSigint);
      }
      report = reports[reports.length - 1]!;
      if (repeat > 1) {
        // The last run is the body (charts, tables); every run's figures are kept for compare,
        // and the verdict needs every run to pass.
        report = { ...report, runs: reports.map(runFigures), pass: reports.every((r) => r.pass) };
        const failedRuns = reports.map((r, i) => (r.pass ? 0 : i + 1)).filter(Boolean);
        report.notes = [`${reports.length} runs (--repeat ${repeat}); the charts and tables are run ${reports.length}'s, runs[] holds every run's figures${failedRuns.length ? `; run(s) ${failedRuns.join(', ')} failed an expectation` : ''}`, ...report.notes];
        if (!report.pass && report.expectations.every((x) => x.pass)) {
          const first = reports.find((r) => !r.pass)!;
          report.expectations = [...report.expectations, ...first.expectations.filter((x) => !x.pass).map((x) => ({ ...x, name: `${x.name} (run ${reports.indexOf(first) + 1})` }))];
        }
      }
      if (live) {
        live.finish(renderHtml(report));
        // Open pages get the final report over their stream; give them a moment to read it.
        await new Promise((r) => setTimeout(r, 500));
        await live.close();
      }
      if (flags.out) {
        await mkdir(flags.out, { recursive: true });
        await writeFile(join(flags.out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
        await writeFile(join(flags.out, 'report.html'), renderHtml(report));
        process.stderr.write(`wrote ${join(flags.out, 'report.json')} and ${join(flags.out, 'report.html')}\n`);
      }
      process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatSummary(report)}\n`);
      if (!report.pass) {
        for (const line of failureLines(report)) process.stderr.write(`${line}\n`);
        const failed = report.expectations.filter((x) => !x.pass).length;
        throw new CliError(`${failed} of ${report.expectations.length} expectation(s) failed`, EXIT_FAILED);
      }
    });
}
