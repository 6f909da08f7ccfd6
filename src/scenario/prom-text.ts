// A reader for the Prometheus text exposition format (0.0.4), the samples only: what
// `xdsim run --metrics-url` needs from a control plane's /metrics. prom-client writes this format
// but does not read it, and the one npm parser of it (parse-prometheus-text-format) is
// unmaintained (no upstream change since 2019), untyped and regroups histograms in its own
// shape; the sample grammar is small and fixed, so it is read here.

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export class PromTextError extends Error {}

const NAME = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const LABEL_NAME = /[a-zA-Z_][a-zA-Z0-9_]*/y;

function parseValue(s: string, line: number): number {
  // Any case, as Go's ParseFloat (Prometheus's reader) takes them: prom-client writes "Nan".
  switch (s.toLowerCase()) {
    case '+inf':
    case 'inf':
    case '+infinity':
    case 'infinity':
      return Infinity;
    case '-inf':
    case '-infinity':
      return -Infinity;
    case 'nan':
      return NaN;
  }
  const v = Number(s);
  if (s === '' || Number.isNaN(v)) throw new PromTextError(`line ${line}: bad value "${s.slice(0, 40)}"`);
  return v;
}

/** Every sample in `text`; comments (HELP, TYPE) and blank lines skipped. Throws on a malformed line. */
export function parsePromText(text: string): PromSample[] {
  const out: PromSample[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, '');
    const line = raw.trimStart();
    if (line === '' || line.startsWith('#')) continue;
    const n = i + 1;
    NAME.lastIndex = 0;
    const m = NAME.exec(line);
    if (!m) throw new PromTextError(`line ${n}: expected a metric name: "${line.slice(0, 60)}"`);
    let pos = m[0].length;
    const labels: Record<string, string> = {};
    if (line[pos] === '{') {
      pos++;
      for (;;) {
        while (line[pos] === ' ') pos++;
        if (line[pos] === '}') {
          pos++;
          break;
        }
        LABEL_NAME.lastIndex = pos;
        const ln = LABEL_NAME.exec(line);
        const bad = () => new PromTextError(`line ${n}: bad label at column ${pos + 1}: "${line.slice(0, 80)}"`);
        if (!ln) throw bad();
        pos += ln[0].length;
        // Blanks around "=" are allowed, as Prometheus's own parser allows them.
        while (line[pos] === ' ' || line[pos] === '\t') pos++;
        if (line[pos++] !== '=') throw bad();
        while (line[pos] === ' ' || line[pos] === '\t') pos++;
        if (line[pos++] !== '"') throw bad();
        let value = '';
        for (;;) {
          const c = line[pos++];
          if (c === undefined) throw new PromTextError(`line ${n}: unterminated label value`);
          if (c === '"') break;
          if (c === '\\') {
            const e = line[pos++];
            value += e === 'n' ? '\n' : (e ?? '');
          } else value += c;
        }
        labels[ln[0]] = value;
        while (line[pos] === ' ') pos++;
        if (line[pos] === ',') pos++;
        else if (line[pos] !== '}') throw new PromTextError(`line ${n}: expected , or } after label ${ln[0]}`);
      }
    }
    // Value, then an optional timestamp (ignored: a scrape is one instant for us).
    const rest = line.slice(pos).trim().split(/\s+/);
    if (rest.length < 1 || rest.length > 2) throw new PromTextError(`line ${n}: expected "value [timestamp]" after the name: "${line.slice(0, 80)}"`);
    out.push({ name: m[0], labels, value: parseValue(rest[0]!, n) });
  }
  return out;
}
