// A linear pre-scan of YAML text for the shapes that make the parser explode, run before parsing.

/**
 * A linear pre-scan for the YAML shapes that make the parser explode: it recurses per nesting
 * level and compares mapping keys pairwise, so `[[[[...` or a mapping with 100,000 keys costs
 * seconds to minutes and gigabytes. Approximate on purpose (plain scalars with quotes inside,
 * brackets in block scalars' first lines); it only has to be right near absurd sizes.
 * Returns the problem, naming the line, or undefined.
 */
export function yamlShapeProblem(text: string, maxDepth: number, maxKeys: number, maxDocuments = Infinity): string | undefined {
  type Level = { col: number; map: boolean; keys: number };
  const block: Level[] = [];
  const flow: { map: boolean; keys: number }[] = [];
  const budget = (maxKeys * maxKeys) / 2;
  let cost = 0;
  let quote = '';
  let scalarCol = -1; // inside a block scalar (| or >) owned by a key at this column
  let line = 0;
  let documents = 1;
  const addKey = (lv: { keys: number }) => {
    cost += lv.keys;
    lv.keys++;
    return lv.keys > maxKeys ? `a mapping with more than ${maxKeys} keys` : cost > budget ? `mappings too large in all to check for duplicate keys (as costly as one mapping of more than ${maxKeys} keys)` : undefined;
  };
  for (let start = 0; start <= text.length; ) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    line++;
    let i = start;
    let problem: string | undefined;
    if (!quote && flow.length === 0) {
      while (i < end && text.charCodeAt(i) === 32) i++;
      const col = i - start;
      const blank = i >= end || text[i] === '#' || text[i] === '\r';
      if (scalarCol >= 0 && (blank || col > scalarCol)) {
        start = end + 1;
        continue;
      }
      scalarCol = -1;
      if (blank) {
        start = end + 1;
        continue;
      }
      if (text.startsWith('---', i) || text.startsWith('...', i)) {
        block.length = 0;
        if (col === 0 && text[i] === '-' && ++documents > maxDocuments) return `line ${line}: more than ${maxDocuments} documents`;
      }
      // Sequence entries ("- "), possibly several on one line ("- - - x").
      while (i < end && text[i] === '-' && (i + 1 === end || text[i + 1] === ' ')) {
        const c = i - start;
        while (block.length && block[block.length - 1]!.col > c) block.pop();
        const top = block[block.length - 1];
        if (!top || top.col !== c || top.map) block.push({ col: c, map: false, keys: 0 });
        i += 2;
        while (i < end && text.charCodeAt(i) === 32) i++;
      }
      // A mapping key: plain or quoted text, then ": " or ":" at the end of the line.
      const m = /^(?:"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"[\]{},&*!|>%@`-][^#]*?|-[^\s#][^#]*?)\s*:(?=\s|$)/.exec(text.slice(i, Math.min(end, i + 1024)));
      if (m) {
        const c = i - start;
        while (block.length && block[block.length - 1]!.col > c) block.pop();
        const top = block[block.length - 1];
        if (top && top.col === c && top.map) problem = addKey(top);
        else block.push({ col: c, map: true, keys: 1 });
        const rest = text.slice(i + m[0].length, end).trim();
        if (/^[|>][-+0-9]*(\s+#.*)?$/.test(rest)) scalarCol = c;
        i += m[0].length;
      }
    }
    // Flow collections and quotes, possibly spanning lines.
    for (; i < end && !problem; i++) {
      const ch = text[i]!;
      if (quote) {
        if (ch === '\\' && quote === '"') i++;
        else if (ch === quote) {
          if (quote === "'" && text[i + 1] === "'") i++;
          else quote = '';
        }
        continue;
      }
      const prev = i === start ? ' ' : text[i - 1]!;
      if (ch === '#' && (prev === ' ' || prev === '\t')) break;
      if ((ch === '"' || ch === "'") && ' \t[{,:'.includes(prev)) quote = ch;
      else if (ch === '[' || ch === '{') flow.push({ map: ch === '{', keys: 1 });
      else if (ch === ']' || ch === '}') flow.pop();
      else if (ch === ',' && flow.length && flow[flow.length - 1]!.map) problem = addKey(flow[flow.length - 1]!);
      if (block.length + flow.length > maxDepth) problem = `nesting deeper than ${maxDepth} levels`;
    }
    if (!problem && block.length + flow.length > maxDepth) problem = `nesting deeper than ${maxDepth} levels`;
    if (problem) return `line ${line}: ${problem}`;
    start = end + 1;
  }
  return undefined;
}
