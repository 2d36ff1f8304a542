// The metric names a PromQL expression reads. A small tokenizer, enough for the expressions of the
// dashboard and the alert rules: string literals, label matchers ({...}), range and subquery
// selectors ([...]), label lists of by/without/on/ignoring/group_left/group_right, numbers and
// durations are skipped; an identifier followed by "(" is a function or an aggregation; keywords
// and operators are not names. What is left are the metric names.

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'atan2', 'inf', 'nan', 'start', 'end']);
const LABEL_LISTS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

type Token = { kind: 'ident'; text: string } | { kind: 'punct'; text: string };

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = expr.length;
  while (i < n) {
    const c = expr[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '#') {
      // A comment runs to the end of the line.
      while (i < n && expr[i] !== '\n') i++;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      i++;
      while (i < n && expr[i] !== c) i += c !== '`' && expr[i] === '\\' ? 2 : 1;
      if (i >= n) throw new Error(`unterminated string in: ${expr}`);
      i++;
      continue;
    }
    if (c === '{' || c === '[') {
      // Label matchers or a range/subquery: nothing in them is a metric name (strings inside may hold } or ]).
      const close = c === '{' ? '}' : ']';
      i++;
      while (i < n && expr[i] !== close) {
        const q = expr[i]!;
        if (q === '"' || q === "'" || q === '`') {
          i++;
          while (i < n && expr[i] !== q) i += q !== '`' && expr[i] === '\\' ? 2 : 1;
        }
        i++;
      }
      if (i >= n) throw new Error(`unbalanced ${c} in: ${expr}`);
      i++;
      tokens.push({ kind: 'punct', text: c === '{' ? '{}' : '[]' });
      continue;
    }
    const number = /^(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?(?:(?:ms|[smhdwy])\d*)*|\.\d+(?:[eE][+-]?\d+)?)/.exec(expr.slice(i));
    if (number && /[\d.]/.test(c)) {
      i += number[0].length;
      tokens.push({ kind: 'punct', text: 'number' });
      continue;
    }
    const ident = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(expr.slice(i));
    if (ident) {
      i += ident[0].length;
      tokens.push({ kind: 'ident', text: ident[0] });
      continue;
    }
    if (c === '$') {
      // A Grafana variable outside a selector ($__range etc.): not a metric name.
      const v = /^\$\{?[a-zA-Z0-9_]+\}?/.exec(expr.slice(i));
      i += v ? v[0].length : 1;
      tokens.push({ kind: 'punct', text: 'variable' });
      continue;
    }
    tokens.push({ kind: 'punct', text: c });
    i++;
  }
  return tokens;
}

/** The metric names `expr` reads, in order of first use. */
export function metricNames(expr: string): string[] {
  const tokens = tokenize(expr);
  const names: string[] = [];
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    if (t.kind !== 'ident') continue;
    const lower = t.text.toLowerCase();
    if (LABEL_LISTS.has(lower) && tokens[k + 1]?.text === '(') {
      // Skip the label list up to its closing parenthesis.
      k++;
      while (k < tokens.length && tokens[k]!.text !== ')') k++;
      continue;
    }
    if (KEYWORDS.has(lower)) continue;
    const next = tokens[k + 1];
    // A function or aggregation call: name "(" (or "sum by (x) (", whose label list is skipped above).
    if (next?.text === '(') continue;
    if (LABEL_LISTS.has(next?.text.toLowerCase() ?? '') && next?.kind === 'ident') continue;
    if (!names.includes(t.text)) names.push(t.text);
  }
  return names;
}

const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'];

/**
 * Whether `name` is exported, given the families an exposition declares (name -> type) and its
 * sample names: a sample name, or a family's own name, or a histogram (summary) family's
 * _bucket/_sum/_count series even before it has samples.
 */
export function isExported(name: string, families: ReadonlyMap<string, string>, sampleNames: ReadonlySet<string>): boolean {
  if (sampleNames.has(name) || families.has(name)) return true;
  for (const suffix of HISTOGRAM_SUFFIXES) {
    if (!name.endsWith(suffix)) continue;
    const type = families.get(name.slice(0, -suffix.length));
    if (type === 'histogram' || (type === 'summary' && suffix !== '_bucket')) return true;
  }
  return false;
}
