#!/usr/bin/env node
// Runs the TypeScript sources through tsx so `npx xdsim` works straight after `npm ci`,
// with no build step to forget or to go stale.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
