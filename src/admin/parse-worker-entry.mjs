// Config parser thread entry. Worker threads load this file natively (no loader hooks are
// inherited from the parent thread), so it registers tsx here and then imports the TypeScript
// worker, as src/fleet/worker-entry.mjs does. Plain .mjs on purpose: it must load before anything
// can compile TypeScript.
import { register } from 'tsx/esm/api';

// The yaml library reads process.env.LOG_TOKENS for every token it parses and
// process.env.LOG_STREAM for every CST node; process.env is an accessor into the environment
// (about 0.25 us a read), which was 15-20% of parsing a 4 MiB manifest. This thread's
// environment is already a copy of the parent's, so a plain object snapshot changes nothing else.
Object.defineProperty(process, 'env', { value: { ...process.env }, writable: true, enumerable: true, configurable: true });

register();
await import('./parse-worker.ts');
