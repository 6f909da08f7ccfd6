// xdsim command line: one subcommand per job, sharing exit codes and error reporting.
import { Command, CommanderError } from 'commander';
import { registerAgentsCommand } from './agents.js';
import { registerEdsCommand } from './eds.js';
import { CliError, EXIT_BAD_INPUT } from './errors.js';
import { registerLbCommand } from './lb.js';
import { registerReportCommand } from './report.js';
import { registerRunCommand } from './run.js';
import { registerServeCommand } from './serve.js';

export { exitIfSignalled } from './stdio.js';

export function buildProgram(): Command {
  const program = new Command('xdsim')
    .description('xDS control-plane simulator and load tester for Istio VM meshes')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError();
  registerEdsCommand(program);
  registerLbCommand(program);
  registerServeCommand(program);
  registerAgentsCommand(program);
  registerRunCommand(program);
  registerReportCommand(program);
  for (const c of program.commands) c.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are successes; everything else commander rejects is usage.
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? 0 : EXIT_BAD_INPUT;
    }
    if (err instanceof CliError) {
      process.stderr.write(`xdsim: ${err.message}\n`);
      return err.code;
    }
    process.stderr.write(`xdsim: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 70;
  }
}
