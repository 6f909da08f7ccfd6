// Entry point for the serve test: the CLI command as the lead's main.ts would wire it.
import { Command } from 'commander';
import { registerServeCommand } from '../../src/cli/serve.js';

const program = new Command('xdsim');
registerServeCommand(program);
await program.parseAsync(process.argv);
