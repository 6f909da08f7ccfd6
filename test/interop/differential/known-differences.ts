// The differences between xdsim and istiod kept on purpose, read from docs/istiod-differences.md:
// each is a `### <kind>` heading followed by the reason. The differential fails on any other kind.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const DIFFERENCES_DOC = fileURLToPath(new URL('../../../docs/istiod-differences.md', import.meta.url));

/** kind -> reason. A kind may end in `*` to cover every kind under that prefix. */
export function knownDifferences(file = DIFFERENCES_DOC): Map<string, string> {
  const out = new Map<string, string>();
  const lines = readFileSync(file, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^###\s+`([^`]+)`/.exec(lines[i]!);
    if (!m) continue;
    const reason: string[] = [];
    for (let j = i + 1; j < lines.length && !lines[j]!.startsWith('#'); j++) if (lines[j]!.trim()) reason.push(lines[j]!.trim());
    if (reason.length === 0) throw new Error(`${file}: ${m[1]} gives no reason`);
    out.set(m[1]!, reason.join(' '));
  }
  return out;
}

export function isKnown(kind: string, known: Map<string, string>): boolean {
  if (known.has(kind)) return true;
  for (const k of known.keys()) if (k.endsWith('*') && kind.startsWith(k.slice(0, -1))) return true;
  return false;
}
