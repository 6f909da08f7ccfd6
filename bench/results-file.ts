// bench/results/latest.json is shared by every benchmark: each one merges its own section and
// ratios into it (read-modify-write) instead of overwriting the others' results.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const LATEST_JSON = fileURLToPath(new URL('./results/latest.json', import.meta.url));

export interface LatestResults {
  benchmarks?: unknown[];
  ratios?: Record<string, number | null>;
  [section: string]: unknown;
}

export function readLatest(file = LATEST_JSON): LatestResults {
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LatestResults;
  } catch {
    return {};
  }
}

/** Sets `sections` (top-level keys) and adds `ratios`, keeping everything else in the file. */
export function mergeIntoLatest(sections: Record<string, unknown>, ratios: Record<string, number | null> = {}, file = LATEST_JSON): void {
  const doc = readLatest(file);
  Object.assign(doc, sections);
  doc.ratios = { ...(doc.ratios ?? {}), ...ratios };
  mkdirSync(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
  writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
}
