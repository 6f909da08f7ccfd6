// Entry of the fleet's child process. Plain .mjs so it starts without a loader: it registers
// tsx, then loads the TypeScript side (same arrangement as src/fleet/worker-entry.mjs).
import { register } from 'tsx/esm/api';

register();
await import('./fleet-child.ts');
