// Piscina worker entry. Worker threads load this file natively (no loader hooks are inherited
// from the parent thread), so it registers tsx here and then imports the TypeScript worker.
// Plain .mjs on purpose: it must load before anything can compile TypeScript.
import { register } from 'tsx/esm/api';

register();
const mod = await import('./worker.ts');
// grpc-js reads `error.stack` at the end of every call; source-mapped stacks (which tsx turns on)
// cost a fraction of a millisecond each, which thousands of cancelled or timed-out calls in a
// connect storm turn into seconds of a worker's CPU. This thread only counts agent errors.
process.setSourceMapsEnabled(false);

export default mod.default;
