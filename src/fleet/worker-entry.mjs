// Piscina worker entry. Worker threads load this file natively (no loader hooks are inherited
// from the parent thread), so it registers tsx here and then imports the TypeScript worker.
// Plain .mjs on purpose: it must load before anything can compile TypeScript.
import { register } from 'tsx/esm/api';

register();
const mod = await import('./worker.ts');

export default mod.default;
