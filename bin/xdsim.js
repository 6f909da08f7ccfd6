#!/usr/bin/env node
// Runs the TypeScript sources through tsx so `npx xdsim` works straight after `npm ci`,
// with no build step to forget or to go stale.
import { register } from 'tsx/esm/api';

register();
const { main, exitIfSignalled } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
// A command stopped by a signal exits now, not when a stalled reader takes its last output.
await exitIfSignalled(process.exitCode);
