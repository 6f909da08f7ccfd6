// Entry of the link relays' worker thread. Plain .mjs so the thread starts without a loader: it
// registers tsx, then loads the TypeScript side (as src/fleet/worker-entry.mjs does).
import { register } from 'tsx/esm/api';

register();
await import('./relay-worker.ts');
