// Findings about input files, in one shape for every stage (YAML syntax, schema, semantics,
// loading), so the CLI can print, count and fail on them uniformly.

export type Severity = 'error' | 'warning' | 'unused';

export interface Diagnostic {
  severity: Severity;
  /** File name as the user gave it. */
  file: string;
  /** 1-based line of the offending value (or of its key / parent mapping when there is no value). */
  line: number;
  column?: number;
  /** 1-based index of the YAML document in the file. */
  document: number;
  kind?: string;
  /** `namespace/name`, or just `name` for cluster-scoped kinds. */
  name?: string;
  /** Field path inside the resource, e.g. `spec.weight` or `spec.ports[0].number`. */
  path?: string;
  message: string;
}

/**
 * One line per diagnostic: `file:line [(document N)] [Kind ns/name] [path]: message`.
 * Errors carry no prefix; warnings are marked so they cannot be mistaken for errors. Unused
 * kinds need no marker: their message says it.
 */
export function formatDiagnostic(d: Diagnostic): string {
  let out = `${d.file}:${d.line}`;
  if (d.document > 1) out += ` (document ${d.document})`;
  const subject = [d.kind, d.name, d.path].filter((s): s is string => !!s).join(' ');
  if (subject) out += ` ${subject}`;
  out += ': ';
  if (d.severity === 'warning') out += 'warning: ';
  return out + d.message;
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

/** Counts per severity, for summaries. */
export function countBySeverity(diagnostics: readonly Diagnostic[]): Record<Severity, number> {
  const c: Record<Severity, number> = { error: 0, warning: 0, unused: 0 };
  for (const d of diagnostics) c[d.severity]++;
  return c;
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** Renders a field path: identifiers joined by dots, indexes as `[i]`, odd keys quoted. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (IDENT.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}
